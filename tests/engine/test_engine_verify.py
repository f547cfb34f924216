"""Verify and status against the fake target."""

from __future__ import annotations

import dataclasses
import json

from migrator.engine import migrate
from migrator.engine.status import status
from migrator.engine.verify import verify
from migrator.models import Entity


def test_verify_passes_after_a_full_run_and_writes_json(world, options):
    state, _, target, plan, workdir = world
    migrate(state, target, plan, options)
    report = verify(state, target, plan, options, out=workdir / "verify.json")
    assert report.ok and report.checked == 6
    data = json.loads((workdir / "verify.json").read_text())
    assert data["ok"] is True and data["tickets_checked"] == 6
    ids = state.target_ids(Entity.TICKETS)
    assert sorted((t["source_id"], t["target_id"], t["problems"]) for t in data["tickets"]) \
        == sorted((s, t, []) for s, t in ids.items())  # every ticket, for sign-off
    assert not list(workdir.glob("verify.json.*"))  # no temporary file left
    assert data["entities"]["tickets"] == {"staged": 6, "planned": 6, "present": 6, "skipped": 0,
                                           "failed": 0}


def test_verify_finds_what_differs(world, options):
    state, _, target, plan, _ = world
    migrate(state, target, plan, options)
    ids = state.target_ids(Entity.TICKETS)
    s1 = target.store[Entity.TICKETS][ids["1"]]
    s1.record = dataclasses.replace(s1.record, status="pending", comments=s1.record.comments[:1])
    del target.store[Entity.TICKETS][ids["2"]]
    s3 = target.store[Entity.TICKETS][ids["3"]]
    s3.record = dataclasses.replace(s3.record, group_id="elsewhere")
    report = verify(state, target, plan, options)
    problems = {t["source_id"]: t["problems"] for t in report.mismatches}
    assert problems["2"] == ["missing in the target"]
    assert "status: expected open, found pending" in problems["1"]
    assert "comments: expected 2, found 1" in problems["1"]
    assert any(p.startswith("group_id: expected") for p in problems["3"])
    assert set(problems) == {"1", "2", "3"} and not report.ok
    assert (report.checked, report.differing) == (6, 3)


def test_verify_streams_pages_and_keeps_only_the_first_differing(world, options, monkeypatch,
                                                                  tmp_path):
    """Memory does not grow with the account: tickets come a page at a time and only KEPT
    differing ones stay in memory; the counts and the file still cover every ticket."""
    import migrator.engine.verify as V
    state, _, target, plan, _ = world
    migrate(state, target, plan, options)
    target.store[Entity.TICKETS].clear()  # every ticket missing
    monkeypatch.setattr(V, "KEPT", 2)
    pages = []
    real = state.id_map_pages
    monkeypatch.setattr(state, "id_map_pages", lambda *a, **kw: (
        pages.append(p) or p for p in real(*a, **kw)))
    report = verify(state, target, plan, options, out=tmp_path / "v.json", page=4)
    assert [len(p) for p in pages] == [4, 2]
    assert (report.checked, report.differing, len(report.mismatches)) == (6, 6, 2)
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["tickets_with_problems"] == 6 and len(data["tickets"]) == 6
    assert all(t["problems"] == ["missing in the target"] for t in data["tickets"])


def test_status_counts_and_eta(world, options):
    state, _, target, plan, _ = world
    before = status(state, plan)
    assert before["entities"]["tickets"]["planned"] == 6 and before["entities"]["tickets"]["created"] == 0
    assert before["throughput"]["run_id"] is None and before["eta_s"] is None
    target.fail[(Entity.TICKETS, "4")] = "rejected"
    migrate(state, target, plan, options)
    after = status(state, plan)
    t = after["entities"]["tickets"]
    assert (t["created"], t["failed"]) == (5, 1)
    assert after["entities"]["agents"]["planned"] == 2 and after["entities"]["comments"]["staged"] > 0
    assert after["failed"] == [{"entity": "tickets", "source_id": "4", "reason": "rejected"}]
    assert state.count_failed() == 1 and state.failed(limit=0) == []
    assert after["eta_s"] == 0.0 and after["throughput"]["records_per_s"] > 0
    assert after["open_batches"] == {}


def test_verify_compares_the_team_with_the_plan(world, options):
    """Groups under their planned names, escalating to their lead, with their planned members;
    a member the target added on its own is not a difference."""
    state, _, target, plan, _ = world
    migrate(state, target, plan, options)
    report = verify(state, target, plan, options)
    assert report.ok and report.team == []
    assert report.team_checked == len(plan.groups) + len(plan.memberships) == 4
    groups = state.target_ids(Entity.GROUPS)
    l1, l2 = (target.store[Entity.GROUPS][groups[k]] for k in ("support/l1", "support/l2"))
    l1.record = dataclasses.replace(l1.record, escalate_to="someone-else")
    l2.record = dataclasses.replace(l2.record, name="Renamed")
    m = next(iter(target.store[Entity.MEMBERSHIPS].values()))
    planned = next(p for p in plan.memberships if str(p.group_id) in groups
                   and groups[str(p.group_id)] == str(m.record.group_id))
    target.store[Entity.MEMBERSHIPS].clear()  # every planned member gone
    report = verify(state, target, plan, options)
    problems = {(t["entity"], t["source_id"]): t["problems"] for t in report.team}
    lead = state.target_ids(Entity.AGENTS)["a1"]
    assert problems[("groups", "support/l1")] == [
        f"escalates to someone-else, expected {lead} (agent a1)"]
    assert problems[("groups", "support/l2")] == ["name: expected 'Support · L2', found 'Renamed'"]
    assert ("memberships", str(planned.id)) in problems
    assert len(problems) == 2 + len(plan.memberships) and not report.ok
    assert report.differing == 0  # the tickets still match


def test_compare_counts_only_downloaded_files_and_not_the_loaders_own_note():
    """A file never downloaded cannot be in the target; a note the loader added (Freshdesk's
    list of files it could not carry) is not history, and the files it lists may be missing."""
    from connectors.base import MIGRATOR_NOTE
    from migrator.engine.verify import compare_ticket
    from migrator.models import Attachment, Comment, Ticket

    def att(name, local):
        return Attachment(id=name, file_name=name, size=5, local_path=local)

    def ticket(comments):
        return Ticket(id="1", subject="s", status="open", requester_id="r", comments=comments)

    expected = ticket([Comment(id="c1", ticket_id="1", author_id="r", body="b",
                               attachments=[att("a", "att/a"), att("b", None)]),
                       Comment(id="c2", ticket_id="1", author_id="r", body="b",
                               attachments=[att("c", "att/c")])])
    held = [Comment(id="t1", ticket_id="9", author_id="x", body="b", attachments=[att("a", None)]),
            Comment(id="t2", ticket_id="9", author_id="x", body="b", attachments=[att("c", None)])]
    assert compare_ticket(expected, ticket(held), timestamps=False) == []
    note = Comment(id="t3", ticket_id="9", author_id="x", body="Attachments ... not migrated",
                   extra={MIGRATOR_NOTE: "attachments not uploaded"})
    short = [held[0], dataclasses.replace(held[1], attachments=[]), note]
    assert compare_ticket(expected, ticket(short), timestamps=False) == []  # listed in the note
    assert compare_ticket(expected, ticket(short[:2]), timestamps=False) == [
        "attachments: expected 2, found 1"]  # no note says why
    extra = [*held, Comment(id="t4", ticket_id="9", author_id="x", body="?")]
    assert compare_ticket(expected, ticket(extra), timestamps=False) == [
        "comments: expected 2, found 3"]
