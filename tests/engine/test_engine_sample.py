"""Sample selection, rollback of a sample run, and the whole sample -> rollback round trip."""

from __future__ import annotations

import dataclasses

import pytest

from migrator.engine import MigrateOptions, migrate
from migrator.engine.rollback import rollback, rollback_preview
from migrator.engine.sample import edge_case_tickets, select_sample
from migrator.errors import ConfigError
from migrator.models import Entity, Group
from tests.engine.test_engine_migrate import ALL, counts


def test_sample_is_seeded_and_carries_its_dependencies(world):
    state, _, _, plan, _ = world
    a = select_sample(state, plan, sample=2, seed=3)
    assert a == select_sample(state, plan, sample=2, seed=3)
    assert len(a[Entity.TICKETS]) == 2
    for tid in a[Entity.TICKETS]:
        t = state.get_staged(Entity.TICKETS, tid)
        assert t.requester_id in a[Entity.END_USERS]
        if t.assignee_id:
            assert t.assignee_id in a[Entity.AGENTS]
    assert a[Entity.GROUPS] == {"support/l1"} and "a1" in a[Entity.AGENTS]  # the group's lead
    assert "a1@support/l1" in a[Entity.MEMBERSHIPS]
    user = state.get_staged(Entity.END_USERS, next(iter(a[Entity.END_USERS])))
    assert user.organization_id in a[Entity.ORGANIZATIONS]


def test_pick_and_edge_cases(world):
    state, _, _, plan, _ = world
    edges = edge_case_tickets(state)
    assert edges["attachment"] == "1" and edges["inline image"] == "1"
    assert edges["closed"] == "2" and edges["custom fields"] == "3"
    assert edges["non-ASCII text"] == "1"
    assert edges["most comments"] == "5"  # 1 + 5 % 3 = 3 comments, the highest id among ties
    sel = select_sample(state, plan, pick=["4"], edge_cases=True)
    assert sel[Entity.TICKETS] == {"1", "2", "3", "4", "5"}
    with pytest.raises(ConfigError, match="ticket 99 is not staged"):
        select_sample(state, plan, pick=["99"])


def test_edge_cases_come_from_live_tickets_only(world):
    """A deleted ticket shows no edge case, not even "most comments" (one grouped query)."""
    state, _, _, _, _ = world
    for tid in ("1", "5"):
        t = state.get_staged(Entity.TICKETS, tid)
        state.stage([dataclasses.replace(t, deleted=True)])
    edges = edge_case_tickets(state)
    assert "1" not in edges.values() and "5" not in edges.values()
    assert edges["most comments"] == "2"  # 3 comments, like the deleted 5


def test_sample_run_then_rollback_leaves_the_target_as_before(world, options):
    state, _, target, plan, _ = world
    target.preexisting(Entity.GROUPS, Group(id="x", name="Support · L1"))
    before = counts(target)
    sel = select_sample(state, plan, sample=2, seed=1)
    report = migrate(state, target, plan, options, opts=MigrateOptions(selection=sel))
    assert target.count(Entity.TICKETS) == 2 and report.step("groups").counts["reused"] == 1
    preview = rollback_preview(state)
    assert preview["run_id"] == report.run_id and preview["counts"]["tickets"] == 2
    done = rollback(state, target)
    assert counts(target) == before  # the reused group is still there
    assert done.deleted["tickets"] == 2 and state.target_ids(Entity.TICKETS) == {}
    assert rollback(state, target).deleted == {}  # nothing left: a second rollback is a no-op


def test_rollback_removes_only_the_named_run(world, options):
    state, _, target, plan, _ = world
    first = migrate(state, target, plan, options,
                    opts=MigrateOptions(selection=select_sample(state, plan, pick=["1"])))
    second = migrate(state, target, plan, options)
    assert target.count(Entity.TICKETS) == 6
    rollback(state, target, run_id=second.run_id)
    assert state.target_ids(Entity.TICKETS).keys() == {"1"} and target.count(Entity.TICKETS) == 1
    assert all(target.count(e) >= 1 for e in ALL)  # the first run's records stay
    with pytest.raises(ConfigError, match="run 999"):
        rollback(state, target, run_id=999)
    assert first.run_id < second.run_id


def test_interrupted_rollback_resumes(world, options):
    state, _, target, plan, _ = world
    migrate(state, target, plan, options)
    real = target.delete
    calls = {"n": 0}

    def flaky(entity, ids):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(entity, ids)

    target.delete = flaky
    with pytest.raises(KeyboardInterrupt):
        rollback(state, target, chunk=2)
    target.delete = real
    rollback(state, target)
    assert sum(counts(target).values()) == 0
