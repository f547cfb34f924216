"""Migrate with fakes: happy path, idempotence, crashes and recovery, failures, transient, delta."""

from __future__ import annotations

import dataclasses

import pytest

from migrator.engine import MigrateOptions, dry_run, migrate, run_export
from migrator.engine.rollback import rollback
from migrator.errors import TransientError
from migrator.models import Comment, Entity, Group, Outcome
from migrator.state import RecordOutcome
from tests.engine.fakes import Crash, FakeSource, FakeTarget

ALL = (Entity.TICKET_FIELDS, Entity.ORGANIZATIONS, Entity.END_USERS, Entity.AGENTS,
       Entity.GROUPS, Entity.MEMBERSHIPS, Entity.TICKETS)


def counts(target: FakeTarget) -> dict[str, int]:
    return {e.value: target.count(e) for e in ALL}


def assert_each_once(state, target):
    """Every record the id map holds is in the target exactly once, under its own marker."""
    for e in ALL:
        markers = target.markers(e)
        assert len(markers) == len(set(markers)), f"duplicates in {e.value}"
        created = state.created_by_run(e)
        assert sorted(created) == markers


def test_happy_path_resolves_references_to_target_ids(world, options):
    state, _, target, plan, workdir = world
    report = migrate(state, target, plan, options, opts=MigrateOptions(workdir=workdir))
    assert report.status == "done" and report.failed == 0
    assert counts(target) == {"ticket_fields": 1, "organizations": 2, "end_users": 4, "agents": 2,
                              "groups": 2, "memberships": 2, "tickets": 6}
    ids = {e: state.target_ids(e) for e in ALL}
    t1 = target.fetch(Entity.TICKETS, ids[Entity.TICKETS]["1"])
    assert t1.requester_id == ids[Entity.END_USERS]["u2"]
    assert t1.assignee_id == ids[Entity.AGENTS]["a2"]
    assert t1.group_id == ids[Entity.GROUPS]["support/l1"]
    assert t1.organization_id == ids[Entity.ORGANIZATIONS]["o1"]
    assert t1.extra["requester_email"] == "u2@ex.test"
    assert [c.extra["author_kind"] for c in t1.comments] == ["end_user", "agent"]
    assert t1.comments[1].author_id == ids[Entity.AGENTS]["a2"]
    assert t1.comments[0].attachments[0].local_path  # local files travel with the comment
    g = target.fetch(Entity.GROUPS, ids[Entity.GROUPS]["support/l1"])
    assert g.escalate_to == ids[Entity.AGENTS]["a1"]
    m = target.fetch(Entity.MEMBERSHIPS, ids[Entity.MEMBERSHIPS]["a2@support/l1"])
    assert (m.agent_id, m.group_id) == (ids[Entity.AGENTS]["a2"], ids[Entity.GROUPS]["support/l1"])
    assert state.open_batches() == []
    assert_each_once(state, target)


def test_second_run_creates_nothing(world, options):
    state, _, target, plan, workdir = world
    migrate(state, target, plan, options)
    before, n_submits = counts(target), len(target.submitted)
    report = migrate(state, target, plan, options)
    assert counts(target) == before and len(target.submitted) == n_submits
    assert report.total("created") == 0 and report.step("tickets").counts["unchanged"] == 6


def test_async_jobs_and_reuse_of_existing_records(world, options):
    state, _, _, plan, _ = world
    target = FakeTarget(async_jobs=True)
    gid = target.preexisting(Entity.GROUPS, Group(id="x", name="support · l1"))
    report = migrate(state, target, plan, options)
    assert report.step("groups").counts == {"reused": 1, "created": 1}
    assert state.target_id(Entity.GROUPS, "support/l1") == gid
    assert "support/l1" not in state.created_by_run(Entity.GROUPS)  # rollback never deletes it
    assert target.count(Entity.TICKETS) == 6


@pytest.mark.parametrize("point", ["before_send", "after_send", "collect"])
@pytest.mark.parametrize("async_jobs", [False, True])
def test_crash_mid_batch_then_recovery_creates_nothing_twice(world, options, point, async_jobs):
    state, _, _, plan, _ = world
    target = FakeTarget(async_jobs=async_jobs)
    seen = {"n": 0}

    def crash(p, entity, items):
        if p == point and entity is Entity.TICKETS:
            seen["n"] += 1
            return seen["n"] == 2  # the second ticket batch
        return False

    target.crash_at = crash
    with pytest.raises(Crash):
        migrate(state, target, plan, options)
    assert state.open_batches(Entity.TICKETS), "the batch in flight stays open"
    target.crash_at = lambda *a: False
    report = migrate(state, target, plan, options)
    assert report.status == "done" and state.open_batches() == []
    if point != "before_send":
        assert report.recovered.get("tickets") == 3
    assert target.count(Entity.TICKETS) == 6
    assert_each_once(state, target)
    # recovered tickets were completed with recovering=True, not created again
    resent = [r for e, ids, rec in target.submitted[-3:] if e is Entity.TICKETS for r in rec]
    if point != "before_send":
        assert any(resent)


def _crash_at_first_ticket_collect(target):
    seen = {"n": 0}

    def crash(p, entity, items):
        if p == "collect" and entity is Entity.TICKETS:
            seen["n"] += 1
            return seen["n"] == 1
        return False
    target.crash_at = crash


def _late_comment(state, ticket_id):
    """A comment staged after the crash (a re-export, or --follow staging while loading)."""
    state.stage([Comment(id=f"late-{ticket_id}", ticket_id=ticket_id, author_id=None,
                         body="arrived after the crash", created_at="2031-01-01T00:00:00Z")])


def _tickets_sent(target, since):
    return [(sid, r) for e, ids, rec in target.submitted[since:] if e is Entity.TICKETS
            for sid, r in zip(ids, rec)]


@pytest.mark.parametrize("atomic", [False, True])
@pytest.mark.parametrize("changed", [False, True])
def test_a_ticket_found_after_a_crash_is_sent_again_only_if_it_may_be_partial_or_changed(
        world, options, atomic, changed):
    """Recovery records a found ticket with the digest its batch sent. Where the target creates
    a ticket with its comments in one request (Zendesk's import) the ticket is whole: it is not
    sent again unless the staging changed since (then the change is sent). Where notes are
    added one by one (Freshdesk) it may be partial: it is sent again to be completed."""
    state, _, _, plan, _ = world
    target = FakeTarget(atomic_tickets=atomic)
    _crash_at_first_ticket_collect(target)
    with pytest.raises(Crash):
        migrate(state, target, plan, options)
    batch = state.open_batches(Entity.TICKETS)[0]["source_ids"]
    if changed:
        _late_comment(state, batch[0])
    before = len(target.submitted)
    target.crash_at = lambda *a: False
    report = migrate(state, target, plan, options)
    assert report.status == "done" and report.recovered.get("tickets") == 3
    sent = _tickets_sent(target, before)
    expected = batch if not atomic else batch[:1] if changed else []
    assert sorted(sid for sid, _ in sent) == sorted(expected)
    assert all(recovering for _, recovering in sent)  # completed or updated, never created
    assert target.count(Entity.TICKETS) == 6
    assert_each_once(state, target)
    if changed:  # the late comment reached the target
        assert any(c.id == f"late-{batch[0]}" for s in target.store[Entity.TICKETS].values()
                   if s.marker == batch[0] for c in s.record.comments)
    again = migrate(state, target, plan, options)
    assert again.step("tickets").counts.get("unchanged") == 6


def test_a_ticket_sent_to_be_completed_is_sent_again_after_a_crash(world, options):
    """A delta batch (tickets sent with recovering=True) cut by a crash: even a target that
    creates tickets whole may hold them half completed, so they are sent again."""
    state, _, _, plan, _ = world
    target = FakeTarget(atomic_tickets=True)
    migrate(state, target, plan, options)
    first = sorted(state.created_by_run(Entity.TICKETS))[0]
    _late_comment(state, first)
    _crash_at_first_ticket_collect(target)
    with pytest.raises(Crash):
        migrate(state, target, plan, options)
    before = len(target.submitted)
    target.crash_at = lambda *a: False
    migrate(state, target, plan, options)
    assert _tickets_sent(target, before) == [(first, True)]
    assert_each_once(state, target)


def test_rejected_records_are_kept_and_retry_failed_sends_only_them(world, options):
    state, _, target, plan, _ = world
    target.fail[(Entity.TICKETS, "3")] = "Subject: is too long"
    target.fail[(Entity.END_USERS, "u1")] = "Email: is invalid"
    report = migrate(state, target, plan, options)
    assert report.status == "done" and report.failed == 2 and report.outstanding_failed == 2
    assert ("3", "Subject: is too long") in report.step("tickets").failures
    assert target.count(Entity.TICKETS) == 5
    target.fail.clear()
    n = len(target.submitted)
    again = migrate(state, target, plan, options, opts=MigrateOptions(retry_failed=True))
    sent = sorted(sid for _, ids, _ in target.submitted[n:] for sid in ids)
    assert sent == ["3", "u1"]
    assert again.outstanding_failed == 0 and target.count(Entity.TICKETS) == 6
    assert_each_once(state, target)


def test_transient_error_stops_cleanly_and_the_rerun_finishes(world, options):
    state, _, target, plan, _ = world
    calls = {"n": 0}

    def flaky(entity, items):
        if entity is Entity.TICKETS:
            calls["n"] += 1
            return calls["n"] == 1
        return False

    target.transient_on = flaky
    with pytest.raises(TransientError) as exc:
        migrate(state, target, plan, options, opts=MigrateOptions(in_flight=1))
    assert exc.value.exit_code == 3 and "run the same command again" in str(exc.value)
    assert state.list_runs()[-1]["status"] == "failed"
    report = migrate(state, target, plan, options)
    assert report.status == "done" and target.count(Entity.TICKETS) == 6
    assert_each_once(state, target)


def test_delta_moves_only_changed_tickets_and_appends_comments(world, options):
    state, source, target, plan, workdir = world
    migrate(state, target, plan, options)
    data = source.data
    data[Entity.TICKETS][3] = dataclasses.replace(data[Entity.TICKETS][3],
                                                  updated_at="2024-04-01T00:00:00Z")
    data[Entity.COMMENTS].append(dataclasses.replace(data[Entity.COMMENTS][0], id="c-new",
                                                     ticket_id="4", created_at="2024-04-01T00:00:00Z"))
    run_export(FakeSource(data, source.files), state, workdir, options=options)
    n = len(target.submitted)
    report = migrate(state, target, plan, options)
    sent = [(e, ids, rec) for e, ids, rec in target.submitted[n:]]
    assert sent == [(Entity.TICKETS, ["4"], [True])]
    assert report.step("tickets").counts["updated"] == 1
    stored = target.store[Entity.TICKETS][state.target_id(Entity.TICKETS, "4")]
    assert stored.notes == 3 and target.count(Entity.TICKETS) == 6


def test_dry_run_reads_the_target_and_writes_nothing(world, options):
    state, _, target, plan, _ = world
    target.preexisting(Entity.AGENTS, dataclasses.replace(plan.agents[0], id="x"))
    runs_before = state.list_runs()
    report = dry_run(state, target, plan, options)
    assert report.step("agents").counts == {"reused": 1, "would_create": 1}
    assert report.step("tickets").counts["would_create"] == 6
    assert "lead@ex.test" in report.step("agents").notes[0]
    assert target.submitted == [] and state.list_runs() == runs_before
    assert state.outcome_counts() == {}


def test_deleted_tickets_are_skipped_with_a_reason(world, options):
    state, source, target, plan, workdir = world
    data = source.data
    data[Entity.TICKETS][4] = dataclasses.replace(data[Entity.TICKETS][4], deleted=True,
                                                  updated_at="2024-05-01T00:00:00Z")
    run_export(FakeSource(data, source.files), state, workdir, options=options)
    report = migrate(state, target, plan, options)
    assert report.step("tickets").counts["skipped"] == 1 and target.count(Entity.TICKETS) == 5
    assert "include_deleted" in state.record_rows(Entity.TICKETS, ["5"])["5"]["reason"]


def _crashed_in_then_finished(entity: Entity, state, target, plan, options):
    """Dies after a batch of ``entity`` was sent (outcome unknown), then runs to the end."""
    target.crash_at = lambda p, e, items: p == "collect" and e is entity
    with pytest.raises(Crash):
        migrate(state, target, plan, options)
    target.crash_at = lambda *a: False
    return migrate(state, target, plan, options)


class MatchesByEmail(FakeTarget):
    """A record of ``entity`` whose e-mail the account already has is matched, not created.
    ``marker``: our source id is written on it (Zendesk's create_or_update writes external_id)
    and the answer is ``answer``; without: Freshdesk answers 409 and the loader reuses it."""

    def __init__(self, entity: Entity, *, marker: bool = True, answer: Outcome = Outcome.REUSED,
                 **kw):
        super().__init__(**kw)
        self.entity, self.writes_marker, self.answer = entity, marker, answer

    def _one(self, entity, item):
        if entity is self.entity:
            for tid, stored in self.store[entity].items():
                if stored.record.email == item.record.email:
                    if not self.writes_marker:
                        return RecordOutcome(item.source_id, Outcome.REUSED, target_id=tid)
                    stored.marker = item.source_id
                    return RecordOutcome(item.source_id, self.answer, target_id=tid)
        return super()._one(entity, item)


def test_an_agent_that_existed_before_is_never_claimed_by_recovery(world, options):
    """A reused agent is still sent (to set its role). If the process dies in its batch,
    recovery finds it (by the marker our update wrote, or by e-mail) but must not record it as
    created by the run: a rollback would delete an agent the account had before."""
    state, _, _, plan, _ = world
    target = MatchesByEmail(Entity.AGENTS)  # Freshdesk sets role and scope: reused
    lead = next(a for a in plan.agents if a.email == "lead@ex.test")
    kept = target.preexisting(Entity.AGENTS, dataclasses.replace(lead, id="x"))
    report = _crashed_in_then_finished(Entity.AGENTS, state, target, plan, options)
    assert report.status == "done"
    row = state.record_rows(Entity.AGENTS, [str(lead.id)])[str(lead.id)]
    assert (row["outcome"], row["target_id"], row["created_run"]) == ("reused", kept, None)
    rollback(state, target, run_id=report.run_id)
    rollback(state, target)  # and the interrupted run's own creations
    assert kept in target.store[Entity.AGENTS]  # still there


@pytest.mark.parametrize("clock", [0.0, -30.0, 30.0], ids=["same-clock", "behind", "ahead"])
@pytest.mark.parametrize("marker", [True, False], ids=["zendesk-like", "freshdesk-like"])
def test_an_end_user_that_existed_before_is_never_claimed_by_recovery(world, options, marker,
                                                                      clock):
    """End users are sent even when the account has their e-mail (the target matches them).
    A crash in their batch leaves recovery to find them, by our marker or by e-mail: one the
    account held before the batch must not be recorded as created, or rollback deletes it;
    those the batch created are, whatever the account's clock says (its offset is known)."""
    state, source, _, plan, _ = world
    target = MatchesByEmail(Entity.END_USERS, marker=marker, answer=Outcome.UPDATED)
    target.clock = clock
    user = next(u for u in source.data[Entity.END_USERS] if u.email)
    kept = target.preexisting(Entity.END_USERS, dataclasses.replace(
        user, id="x", created_at="2019-05-01T10:00:00Z"))
    report = _crashed_in_then_finished(Entity.END_USERS, state, target, plan, options)
    assert report.status == "done"
    row = state.record_rows(Entity.END_USERS, [str(user.id)])[str(user.id)]
    assert row["target_id"] == kept and row["created_run"] is None
    others = [u for u in source.data[Entity.END_USERS] if u.id != user.id]
    created = state.created_by_run(Entity.END_USERS)
    assert sorted(created) == sorted(str(u.id) for u in others)  # the batch's new ones: ours
    rollback(state, target, run_id=report.run_id)
    rollback(state, target)  # and the interrupted run's own creations
    assert list(target.store[Entity.END_USERS]) == [kept]  # only the account's own is left
