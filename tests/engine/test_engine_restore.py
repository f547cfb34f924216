"""Existing records a run changed are kept with what they had and put back by its rollback."""

from __future__ import annotations

from connectors.base import Change
from migrator.engine import migrate
from migrator.engine.helpers import changes_of
from migrator.engine.rollback import rollback, rollback_preview
from migrator.models import Entity
from tests.engine.fakes import FakeTarget


class Forgetful(FakeTarget):
    """A target that reports changes but cannot put them back."""

    restore = None


def test_rollback_restores_what_the_run_changed_once(world, options):
    state, _, target, plan, _ = world
    target.pending_changes = [Change(Entity.GROUPS, "g9", {"escalate_to": None}),
                              Change(Entity.AGENTS, "a9", {"role_ids": [3], "ticket_scope": 1})]
    report = migrate(state, target, plan, options)
    target.pending_changes = [Change(Entity.GROUPS, "g9", {"escalate_to": "later"})]
    migrate(state, target, plan, options)  # another run: its own record of what it found
    assert changes_of(state, report.run_id) == {
        "groups": {"g9": {"escalate_to": None}},
        "agents": {"a9": {"role_ids": [3], "ticket_scope": 1}}}
    assert rollback_preview(state, report.run_id)["changed"] == {"groups": 1, "agents": 1}
    done = rollback(state, target, run_id=report.run_id)
    assert sorted(target.restored) == sorted([
        (Entity.GROUPS, "g9", {"escalate_to": None}),
        (Entity.AGENTS, "a9", {"role_ids": [3], "ticket_scope": 1})])
    assert done.restored == {"groups": 1, "agents": 1} and not done.not_restored
    assert changes_of(state, report.run_id) == {}
    rollback(state, target, run_id=report.run_id)  # again: nothing more to put back
    assert len(target.restored) == 2


def test_a_target_that_cannot_restore_says_so_and_keeps_the_record(world, options):
    state, _, _, plan, _ = world
    target = Forgetful()
    target.pending_changes = [Change(Entity.GROUPS, "g9", {"escalate_to": None})]
    report = migrate(state, target, plan, options)
    done = rollback(state, target, run_id=report.run_id)
    assert done.not_restored and "groups g9" in done.not_restored[0]
    assert changes_of(state, report.run_id)  # kept: nothing was put back


class Watching(FakeTarget):
    """Hands each change to the engine's sink before its write, then checks it was kept."""

    def __init__(self, state):
        super().__init__()
        self.state, self.sink, self.kept_before_write = state, None, []

    def watch_changes(self, sink):
        self.sink = sink

    def submit(self, entity, items):
        if entity is Entity.GROUPS and self.sink is not None and not self.kept_before_write:
            self.sink([Change(Entity.GROUPS, "g7", {"escalate_to": "a1"})])
            # the write would happen here; a SIGKILL now must not lose what g7 had
            run = max(r["id"] for r in self.state.list_runs())
            self.kept_before_write.append(changes_of(self.state, run))
        return super().submit(entity, items)


def test_a_watched_change_is_kept_before_the_write_that_makes_it(world, options):
    state, _, _, plan, _ = world
    target = Watching(state)
    report = migrate(state, target, plan, options)
    assert target.kept_before_write == [{"groups": {"g7": {"escalate_to": "a1"}}}]
    assert target.sink is None  # the run is over: the target queues changes again
    rollback(state, target, run_id=report.run_id)
    assert target.restored == [(Entity.GROUPS, "g7", {"escalate_to": "a1"})]
