"""Delta for real: Zendesk sandbox -> Freshdesk sandbox, then the source changes and the same
project runs again. Driven through ``migrator.engine.commands`` like the CLI.

The source changes through its own API (``PUT /tickets/{id}``, ``POST /tickets``): one ticket
gets a new public comment, one changes status, one ticket is new. The second export must pick up
exactly those three, and the second migrate must create the new ticket once, add exactly the
one new note, update the status, and leave everything else alone.
"""

from __future__ import annotations

import httpx
import pytest

from migrator.engine import commands
from migrator.models import Entity, Outcome
from migrator.project import Project
from tests.connectors.zendesk.projects import counts, sandbox_pair, write_project

pytestmark = pytest.mark.e2e

AUTH = ("admin@sandbox.test/token", "sandbox-token")
NEW_TEXT = "One more thing: the invoice still shows the old address."


def _change_source(url: str, commented, solved) -> int:
    """The three source changes; the id of the new ticket."""
    with httpx.Client(base_url=url, auth=AUTH) as c:
        c.put(f"/api/v2/tickets/{commented.id}", json={"ticket": {"comment": {
            "body": NEW_TEXT, "public": True,
            "author_id": int(commented.requester_id)}}}).raise_for_status()
        c.put(f"/api/v2/tickets/{solved.id}",
              json={"ticket": {"status": "solved"}}).raise_for_status()
        made = c.post("/api/v2/tickets", json={"ticket": {
            "subject": "Second order never arrived", "priority": "high",
            "requester_id": int(commented.requester_id),
            "comment": {"body": "Order 4411 is missing too."}}})
        made.raise_for_status()
        return made.json()["ticket"]["id"]


def _not_resent(report, step: str) -> None:
    sent = {k: v for k, v in report.step(step).counts.items()
            if k in (Outcome.CREATED.value, Outcome.UPDATED.value, Outcome.FAILED.value)}
    assert not sent, f"{step} was sent again: {sent}"


@pytest.mark.parametrize("strategy", ["per_ticket", "events"])
def test_second_run_moves_only_what_changed(strategy, tmp_path, monkeypatch):
    with sandbox_pair(monkeypatch, "zendesk", "freshdesk", tickets=30) as (source, target):
        path = write_project(tmp_path, ("zendesk", source.url), ("freshdesk", target.url),
                             source_extra={"comments_strategy": strategy})
        with Project.load(path) as project:
            commands.export_project(project)
            first = commands.migrate_project(project)
            assert first.failed == 0
            staged = {t.id: t for t in project.state.iter_staged(Entity.TICKETS)}
            ids = project.state.target_ids(Entity.TICKETS)
            live = sorted((t for t in staged.values()
                           if t.status in ("new", "open", "pending", "hold") and t.id in ids),
                          key=lambda t: int(t.id))
            commented, solved = live[0], live[1]
            before = counts(target.url)
            notes_before = len(project.target().fetch(Entity.TICKETS, ids[commented.id]).comments)

            new_id = str(_change_source(source.url, commented, solved))
            exported = commands.export_project(project)
            assert exported.staged["tickets"] == 3
            second = commands.migrate_project(project)
            tickets = second.step("tickets").counts
            assert (tickets.get("created"), tickets.get("updated"), tickets.get("failed")) == \
                (1, 2, None)
            assert tickets["unchanged"] == len(staged) - 2  # skipped ones stay skipped
            for step in ("ticket_fields", "organizations", "end_users", "agents", "groups",
                         "memberships"):
                _not_resent(second, step)

            after = counts(target.url)
            assert after["tickets"] == before["tickets"] + 1
            assert after["notes"] == before["notes"] + 1  # exactly the new comment
            ids = project.state.target_ids(Entity.TICKETS)
            back = project.target().fetch(Entity.TICKETS, ids[commented.id])
            assert len(back.comments) == notes_before + 1
            assert sum(NEW_TEXT in (c.body or c.html_body or "") for c in back.comments) == 1
            assert project.target().fetch(Entity.TICKETS, ids[solved.id]).status == "solved"
            assert new_id in ids

            third = commands.migrate_project(project)  # nothing changed since
            assert third.total("created") == third.total("updated") == 0
            checked = commands.verify_project(project, out=tmp_path / "verify.json")
            assert checked.as_dict()["ok"] and checked.as_dict()["tickets_with_problems"] == 0
