"""The engine's hot paths the benchmarks found: tickets assembled with few queries, export pages
read ahead while the previous one is staged."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from bench.local import MAPPING
from bench.synth import people, template, ticket_pages
from mappings import StoreStaged, build_plan, load_mapping
from migrator.engine.prefetch import prefetch, prefetch_groups
from migrator.engine.records import assemble_ticket, iter_step_records
from migrator.engine.signals import StopFlag
from migrator.engine.steps import STEPS
from migrator.errors import InterruptedRun
from migrator.models import Entity
from migrator.state import StateStore


def _staged(tmp_path, n: int) -> StateStore:
    state = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    t = template(tickets=60, comments_per_ticket=4)
    state.stage(people(t))
    for page in ticket_pages(t, n, page=250):
        state.stage(page)
    return state


def test_tickets_step_assembles_like_one_ticket_at_a_time_with_few_queries(tmp_path):
    state = _staged(tmp_path, 1200)
    plan = build_plan(load_mapping(MAPPING), StoreStaged(state), "freshdesk")
    step = next(s for s in STEPS if s.entity is Entity.TICKETS)
    statements = []
    sa.event.listen(state.engine, "before_cursor_execute",
                    lambda *a, **k: statements.append(a[2]))
    mapped = list(iter_step_records(step, state, plan))
    assert len(mapped) == 1200
    assert len(statements) < 20  # 2 ticket pages + 3 comment slices, not 1,200 queries
    for rec in mapped[::97]:
        staged = state.get_staged(Entity.TICKETS, rec.id)
        one = plan.map_ticket(assemble_ticket(state, staged))
        assert [c.id for c in rec.comments] == [c.id for c in one.comments]
        assert rec.comments and rec.group_id == one.group_id


def test_a_selection_yields_only_its_tickets_with_their_comments(tmp_path):
    state = _staged(tmp_path, 700)
    plan = build_plan(load_mapping(MAPPING), StoreStaged(state), "freshdesk")
    step = next(s for s in STEPS if s.entity is Entity.TICKETS)
    wanted = {"10000003", "10000600", "10000699"}
    got = {r.id: r for r in iter_step_records(step, state, plan, only=wanted)}
    assert set(got) == wanted
    for tid in wanted:
        assert [c.ticket_id for c in got[tid].comments] == [tid] * len(got[tid].comments)
        assert got[tid].comments


# -- export read-ahead ------------------------------------------------------------------------


def test_read_ahead_keeps_order_and_overlaps_the_slow_consumer():
    read_at: dict[int, float] = {}

    def pages():
        for i in range(6):
            time.sleep(0.03)  # the source's request
            read_at[i] = time.monotonic()
            yield i

    started = time.monotonic()
    got = []
    for page in prefetch(pages(), depth=3):
        time.sleep(0.03)  # downloads + staging of this page
        got.append(page)
    elapsed = time.monotonic() - started
    assert got == list(range(6))
    assert elapsed < 0.3  # serial would be 6 x (0.03 + 0.03) = 0.36 s


def test_a_source_error_is_raised_where_its_page_would_come():
    def pages():
        yield 1
        raise RuntimeError("boom")

    it = prefetch(pages())
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="boom"):
        next(it)


def test_after_a_stop_only_pages_read_before_it_come_out_then_interrupted():
    stop = StopFlag()
    requested = []

    def pages():
        for i in range(10):
            requested.append(i)
            if i == 3:
                stop.set("test")
            yield i

    got = []
    with pytest.raises(InterruptedRun):
        for page in prefetch(pages(), depth=8, stop=stop):
            got.append(page)
    assert got == [0, 1, 2]
    assert requested == [0, 1, 2, 3]  # nothing read past the stop


def test_leaving_early_closes_the_source_generator():
    closed = threading.Event()

    def pages():
        try:
            for i in range(100):
                yield i
        finally:
            closed.set()

    for page in prefetch(pages(), depth=2):
        if page == 1:
            break
    assert closed.wait(2.0)


def test_groups_hold_the_pages_already_read_in_order_and_errors_come_after_them():
    def pages():
        yield from range(7)
        raise RuntimeError("source broke")

    groups = []
    with pytest.raises(RuntimeError, match="source broke"):
        for group in prefetch_groups(pages(), depth=3):
            time.sleep(0.05)  # a slow consumer: the reader fills the queue meanwhile
            groups.append(group)
    assert [p for g in groups for p in g] == list(range(7))
    assert max(len(g) for g in groups) > 1 and all(len(g) <= 3 for g in groups)
