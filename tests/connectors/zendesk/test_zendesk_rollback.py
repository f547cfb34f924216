"""Rollback of a run into a Zendesk sandbox removes what it created, ticket fields included."""

from __future__ import annotations

import pytest

from migrator.engine import commands
from migrator.project import Project
from tests.connectors.zendesk.projects import counts, sandbox_pair, write_project

pytestmark = pytest.mark.e2e

ENTITIES = ("ticket_fields", "tickets", "organizations", "end_users", "groups",
            "group_memberships")


def test_rollback_deletes_the_ticket_fields_the_run_created(tmp_path, monkeypatch):
    with sandbox_pair(monkeypatch, "freshdesk", "zendesk", tickets=20) as (source, target):
        path = write_project(tmp_path, ("freshdesk", source.url), ("zendesk", target.url))
        with Project.load(path) as project:
            commands.export_project(project)
            before = counts(target.url)
            report = commands.migrate_project(project, spec=commands.SampleSpec(3, seed=2))
            created = report.step("ticket_fields").counts["created"]
            assert report.failed == 0 and created > 0
            assert counts(target.url)["ticket_fields"] == before["ticket_fields"] + created
            undone = commands.rollback_project(project, report.run_id)
        after = counts(target.url)
    assert undone.deleted["ticket_fields"] == created
    assert not undone.not_deleted, undone.not_deleted
    assert {k: after[k] for k in ENTITIES} == {k: before[k] for k in ENTITIES}
