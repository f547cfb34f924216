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
