"""A sample run into a Freshdesk sandbox, then its rollback, leaves the account as it was.

Tickets cannot be deleted for good through the API (``DELETE /tickets/{id}`` moves them to the
trash); hard-deleting a contact takes its tickets with it (reference §4.6), so the run's tickets
leave the trash with the contacts the run created. Tickets whose requester existed before the run
(an agent here) stay in the trash: that is all the API allows.
"""

from __future__ import annotations

import pytest

from connectors.freshdesk import make_target
from migrator.config import EndpointConfig, Options
from migrator.engine import commands
from migrator.models import Entity
from migrator.project import Project
from tests.connectors.zendesk.projects import counts, sandbox_pair, write_project

pytestmark = pytest.mark.e2e

ENTITIES = ("ticket_fields", "tickets", "organizations", "end_users", "agents", "groups",
            "memberships", "conversations", "attachments")


def test_sample_run_and_rollback_leave_the_counts_as_they_were(tmp_path, monkeypatch):
    pytest.importorskip("migrator.engine.helpers")  # the engine records targets' helpers
    with sandbox_pair(monkeypatch, "zendesk", "freshdesk", tickets=20) as (source, target):
        path = write_project(tmp_path, ("zendesk", source.url), ("freshdesk", target.url))
        with Project.load(path) as project:
            commands.export_project(project)
            before = counts(target.url)
            report = commands.migrate_project(project, spec=commands.SampleSpec(4, seed=2))
            assert report.failed == 0
            during = counts(target.url)
            assert during["tickets"] > before["tickets"]
            assert during["ticket_fields"] >= before["ticket_fields"] + 3  # the helper fields
            undone = commands.rollback_project(project, report.run_id)
        after = counts(target.url)
        trashed = [t for t in target.store.tickets.values() if t.get("deleted")]
        agents = set(target.store.agents)
    assert not undone.not_deleted, undone.not_deleted
    assert {k: after[k] for k in ENTITIES} == {k: before[k] for k in ENTITIES}
    # What stays in the trash: only tickets whose requester the run did not create.
    assert after["deleted_tickets"] == len(trashed)
    assert all(t["requester_id"] in agents for t in trashed)


def test_fields_that_existed_before_are_not_reported_as_helpers(tmp_path, monkeypatch):
    pytest.importorskip("migrator.engine.helpers")  # with connectors.base.Helper
    run = pytest.importorskip("connectors.sandbox.run")
    monkeypatch.setenv("FD_HELPER_KEY", "sandbox-key")
    with run.start_sandbox("freshdesk", empty=True) as box:
        cfg = EndpointConfig(type="freshdesk", base_url=box.url, api_key="${FD_HELPER_KEY}")
        first = make_target(cfg, workdir=tmp_path, options=Options())
        first.field_names()
        made = first.helpers()
        assert len(made) == 3 and {h.entity for h in made} == {Entity.TICKET_FIELDS}
        assert first.helpers() == []  # reported once
        second = make_target(cfg, workdir=tmp_path, options=Options())
        second.field_names()
        assert second.helpers() == []  # matched by label: existed before, never deleted
        assert sorted(first.delete(Entity.TICKET_FIELDS, [h.target_id for h in made])) == \
            sorted(h.target_id for h in made)
        assert box.store.counts()["ticket_fields"] == 0
        first.close()
        second.close()
