"""The report streams: generators in, memory flat in the number of tickets, the store read in
one ordered pass."""

from __future__ import annotations

import tracemalloc

import pytest

from migrator.models import Comment, Ticket, TicketEvent
from migrator.reporting import (ReportOptions, build_report, histories_from_store,
                                join_histories)
from migrator.reporting.stats import Distribution
from migrator.state import StateStore
from tests.reporting.report_kit import Desk, at, attribution


def _tickets(n: int):
    for i in range(n):
        tid = f"{i:07d}"
        yield Ticket(id=tid, subject="s", status="solved" if i % 3 else "open",
                     group_id="g1" if i % 2 else "g3", assignee_id="a1" if i % 2 else "a3",
                     requester_id=f"c{i % 50}", tags=["api"] if i % 5 == 0 else [],
                     created_at=at(i % 2000), solved_at=at(i % 2000 + 5))


def _comments(n: int):
    for i in range(n):
        tid = f"{i:07d}"
        yield Comment(id=f"{tid}a", ticket_id=tid, author_id=f"c{i % 50}", body="q",
                      created_at=at(i % 2000))
        yield Comment(id=f"{tid}b", ticket_id=tid, author_id="a1", body="a",
                      created_at=at(i % 2000 + 1))


def _peak(n: int, monkeypatch) -> int:
    monkeypatch.setattr("migrator.reporting.stats.EXACT_CAP", 64)
    tracemalloc.start()
    report = build_report(join_histories(_tickets(n), _comments(n)), attribution(),
                          ReportOptions(min_n=1))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report["department"]["tickets"]["value"] == n  # everything was counted
    return peak


def test_memory_does_not_grow_with_the_number_of_tickets(monkeypatch):
    small, large = _peak(1000, monkeypatch), _peak(6000, monkeypatch)
    assert large < small * 1.5, (small, large)


def test_join_consumes_generators_lazily_and_skips_orphans():
    seen = []

    def tickets():
        for tid in ("1", "3", "5"):
            seen.append(tid)
            yield Ticket(id=tid, subject=None, created_at=at(0))

    comments = (Comment(id=f"c{t}", ticket_id=t, author_id="a1", body="", created_at=at(1))
                for t in ("1", "2", "3", "3", "9"))
    events = iter([TicketEvent(id="e1", ticket_id="5", field="status", previous="open",
                               value="solved", created_at=at(2))])
    stream = join_histories(tickets(), comments, events)
    first = next(stream)
    assert seen == ["1"] and first.ticket.id == "1" and len(first.comments) == 1
    rest = list(stream)
    assert [len(h.comments) for h in rest] == [2, 0]
    assert [len(h.events) for h in rest] == [0, 1]


def test_median_beyond_the_exact_cap_stays_within_one_percent(monkeypatch):
    monkeypatch.setattr("migrator.reporting.stats.EXACT_CAP", 100)
    dist = Distribution()
    for v in range(1, 10_001):
        dist.add(float(v))
    assert dist._exact is None  # folded into the histogram
    assert dist.median == pytest.approx(5000.5, rel=0.01)
    assert dist.mean == pytest.approx(5000.5)


@pytest.mark.parametrize("page", [2, 1000])
def test_histories_from_the_state_store_in_one_ordered_pass(state_url, page):
    d = Desk()
    for tid, created in (("10", 0), ("2", 1), ("1", 2)):  # string order differs from numeric
        d.ticket(tid, created=created, reply=1, status="solved", solved=created + 3)
    d.comment("2", "c1", 1.5)
    d.event("10", "status", "open", "solved", 3)
    d.rating("1", "good", 6)
    d.logged("2", "a1", 300)
    store = StateStore(state_url)  # SQLite and PostgreSQL: the keyset is a row value
    for records in (d.tickets, d.comments, d.events, d.ratings, d.entries):
        store.stage(records)
    histories = list(histories_from_store(store, page=page))
    store.close()
    assert [h.ticket.id for h in histories] == ["1", "10", "2"]
    by_id = {h.ticket.id: h for h in histories}
    assert len(by_id["2"].comments) == 3 and len(by_id["10"].comments) == 2
    assert all(c.ticket_id == h.ticket.id for h in histories for c in h.comments)
    assert [e.value for e in by_id["10"].events] == ["solved"]
    assert by_id["1"].ratings[0].score == "good" and by_id["2"].time_entries[0].seconds == 300
