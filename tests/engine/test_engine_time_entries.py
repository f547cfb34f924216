"""Time logged on tickets: loaded after the tickets where the target keeps it, skipped with a reason
where it does not, and only for the selected tickets in a sample."""

from __future__ import annotations

import dataclasses

import pytest

from migrator.engine import MigrateOptions, migrate, run_export
from migrator.engine.sample import select_sample
from migrator.models import Entity, Outcome, TimeEntry
from migrator.state import StateStore
from tests.engine.fakes import FakeSource, FakeTarget, company


@pytest.fixture
def logged(tmp_path, options, state_url):
    """(state, plan) with six tickets and time logged on tickets 1, 3 and on one never staged."""
    data, files, plan = company()
    data[Entity.TIME_ENTRIES] = [
        TimeEntry(id="t1", ticket_id="1", agent_id="a2", seconds=600, billable=True,
                  executed_at="2024-01-02T10:00:00Z"),
        TimeEntry(id="t2", ticket_id="3", agent_id="a1", seconds=120),
        TimeEntry(id="t3", ticket_id="3", agent_id=None, seconds=60),
        TimeEntry(id="t9", ticket_id="99", agent_id="a2", seconds=30),  # its ticket is gone
    ]
    state = StateStore(state_url)
    run_export(FakeSource(data, files), state, tmp_path, options=options)
    yield state, plan
    state.close()


def test_time_entries_load_after_tickets_with_target_ids(logged, options):
    state, plan = logged
    target = FakeTarget()
    report = migrate(state, target, plan, options)
    assert report.step("time_entries").counts == {"created": 3, "skipped": 1}
    order = [entity for entity, _, _ in target.submitted]
    assert order.index(Entity.TIME_ENTRIES) > max(
        i for i, e in enumerate(order) if e is Entity.TICKETS)
    tickets, agents = state.target_ids(Entity.TICKETS), state.target_ids(Entity.AGENTS)
    entries = state.target_ids(Entity.TIME_ENTRIES)
    t1 = target.fetch(Entity.TIME_ENTRIES, entries["t1"])
    assert (t1.ticket_id, t1.agent_id, t1.seconds, t1.billable) == (
        tickets["1"], agents["a2"], 600, True)
    assert target.fetch(Entity.TIME_ENTRIES, entries["t3"]).agent_id is None
    row = state.record_rows(Entity.TIME_ENTRIES, ["t9"])["t9"]
    assert row["outcome"] == Outcome.SKIPPED.value and "ticket 99" in row["reason"]
    again = migrate(state, target, plan, options)  # idempotent: nothing logged twice
    assert target.count(Entity.TIME_ENTRIES) == 3
    assert again.step("time_entries").counts.get("created", 0) == 0


def test_time_entry_of_a_failed_ticket_is_skipped_with_its_reason(logged, options):
    state, plan = logged
    target = FakeTarget()
    target.fail[(Entity.TICKETS, "3")] = "422 requester is invalid"
    report = migrate(state, target, plan, options)
    assert report.step("time_entries").counts == {"created": 1, "skipped": 3}
    rows = state.record_rows(Entity.TIME_ENTRIES, ["t2", "t3"])
    assert all("ticket 3 has no target id" in r["reason"] for r in rows.values())


def test_a_target_without_time_entries_records_them_skipped_and_sends_none(logged, options):
    state, plan = logged
    target = FakeTarget()
    target.capabilities = dataclasses.replace(target.capabilities, time_entries=False)
    report = migrate(state, target, plan, options)
    assert report.status == "done" and report.failed == 0
    assert report.step("time_entries").counts == {"skipped": 4}
    assert all(e is not Entity.TIME_ENTRIES for e, _, _ in target.submitted)
    rows = state.record_rows(Entity.TIME_ENTRIES, ["t1", "t2", "t3", "t9"])
    assert {r["outcome"] for r in rows.values()} == {Outcome.SKIPPED.value}
    assert "keeps no time entries" in rows["t1"]["reason"]


def test_sample_carries_only_the_selected_tickets_time(logged, options):
    state, plan = logged
    target = FakeTarget()
    sel = select_sample(state, plan, pick=["1"])
    assert sel[Entity.TIME_ENTRIES] == {"t1"}
    migrate(state, target, plan, options, opts=MigrateOptions(selection=sel))
    assert target.count(Entity.TIME_ENTRIES) == 1
