"""Technical repeats: exact in any ticket order, counted once per ticket, nothing per customer
kept in memory (the pairs go to a temporary file)."""

from __future__ import annotations

import random

from migrator.reporting.facts import TicketFacts
from migrator.reporting.kpis import KpiBook, Period, RepeatTracker, ReturnTracker

DAY = 86400.0


def facts(tid: int, customer: str, created: float, org: str | None = None) -> TicketFacts:
    return TicketFacts(ticket_id=str(tid), created=created, team="t", tier="l1", agent_id=None,
                       agent_tier="l1", agent_team="t", agent_left=False, channel="email",
                       requester_id=customer, organization_id=org,
                       tech_keys=frozenset({"tag:bug"}))


def run(tickets: list[TicketFacts], flush_every: int = 50) -> tuple[RepeatTracker, KpiBook]:
    book = KpiBook([Period("all", None, None)])
    tracker = RepeatTracker(window=7 * DAY, flush_every=flush_every)
    for f in tickets:
        tracker.add(f, book.add(f, None), book)
        assert len(tracker._rows) < flush_every + 2  # written out as it goes
    tracker.finish(book)
    return tracker, book


def test_repeats_are_exact_in_any_order_and_count_each_ticket_once():
    tickets = []
    for i in range(500):  # each customer: a bug, the same bug 3 days later, again 30 days later
        tickets += [facts(3 * i, f"c{i}", i * DAY, org="acme"),
                    facts(3 * i + 1, f"c{i}", i * DAY + 3 * DAY, org="acme"),
                    facts(3 * i + 2, f"c{i}", i * DAY + 33 * DAY)]
    random.Random(7).shuffle(tickets)  # ids in text order are not creation order
    tracker, book = run(tickets)
    # every first ticket repeated (by requester and by organisation: counted once); every second
    # one through the organisation (the next customer's first bug a day later) but the last
    # customer's; no third one (30 days on, no organisation, nothing after it)
    assert tracker.hits == 500 + 499
    assert book.get("all", "department", "all").repeat.hits == 999
    assert tracker._db is None  # the temporary file is gone


def test_returning_customers_are_counted_the_same_once_folded_to_disk():
    tickets = [facts(i, f"c{i % 300}", (i // 300) * 40 * DAY + (i % 7)) for i in range(900)]
    tickets += [facts(1000 + i, f"once{i}", 5.0) for i in range(100)]  # never came back
    random.Random(3).shuffle(tickets)
    figures = []
    for held in (10_000, 7):  # all in memory; folded into the file every 7 customers
        tracker = ReturnTracker(after=30 * DAY, held=held)
        for f in tickets:
            tracker.add(f)
            assert len(tracker._span) < held
        figures.append(tracker.figure())
    assert figures[0].n == figures[1].n == 400
    assert figures[0].value == figures[1].value == 300 / 400
