"""Sample run + rollback against the sandboxes leaves the target exactly as before, counted per
entity, in both directions and with the state on SQLite and on PostgreSQL (issue 6)."""

from __future__ import annotations

import httpx
import pytest

from migrator.engine import commands
from migrator.models import Entity
from tests.engine.sandbox_project import counts, exported_project

pytestmark = pytest.mark.e2e

# What the engine creates and rolls back, per target (the sandbox's own entity names).
ENTITIES = {
    "freshdesk": ("tickets", "organizations", "end_users", "agents", "groups", "memberships"),
    "zendesk": ("tickets", "organizations", "end_users", "agents", "groups", "group_memberships"),
}
DIRECTIONS = [("zendesk", "freshdesk"), ("freshdesk", "zendesk")]


def settings(kind: str, url: str) -> dict:
    """What a run may change on records that existed: Zendesk agents' role, custom role and
    the fields ``create_or_update`` writes; Freshdesk agents' role and ticket scope (read per
    agent: the list leaves roles out), groups' escalation settings."""
    if kind == "zendesk":
        fields = ("name", "role", "custom_role_id", "external_id", "tags", "suspended")
        with httpx.Client(base_url=url, auth=("admin@sandbox.test/token", "sandbox-token")) as c:
            users = c.get("/api/v2/users", params={"role[]": ["agent", "admin"],
                                                   "per_page": 100}).json()["users"]
            return {"agents": {u["id"]: {k: u.get(k) for k in fields} for u in users}}
    with httpx.Client(base_url=url, auth=("sandbox-key", "X")) as client:
        agents = client.get("/api/v2/agents", params={"per_page": 100}).json()
        groups = client.get("/api/v2/groups", params={"per_page": 100}).json()
        return {"agents": {a["id"]: {k: client.get(f"/api/v2/agents/{a['id']}").json().get(k)
                                     for k in ("role_ids", "ticket_scope")} for a in agents},
                "groups": {g["id"]: (g.get("escalate_to"), g.get("unassigned_for"))
                           for g in groups}}


@pytest.mark.parametrize("direction", DIRECTIONS, ids=lambda d: f"{d[0]}-to-{d[1]}")
def test_sample_run_then_rollback_leaves_the_target_as_before(direction, state_url, tmp_path,
                                                              monkeypatch):
    source_kind, target_kind = direction
    entities = ENTITIES[target_kind]
    with exported_project(tmp_path, monkeypatch, source_kind, target_kind, tickets=30,
                          state=state_url) as (project, _, target):
        before = counts(target.url, entities)
        had = settings(target_kind, target.url)
        report = commands.migrate_project(project, spec=commands.SampleSpec(5, seed=2))
        fails = [f for s in report.steps.values() for f in s.failures]
        assert report.failed == 0, fails
        assert report.step("tickets").counts["created"] == 5
        during = counts(target.url, entities)
        assert during["tickets"] == before["tickets"] + 5
        assert during["groups"] > before["groups"]
        again = commands.migrate_project(project, spec=commands.SampleSpec(5, seed=2))
        assert again.total("created") == 0 and counts(target.url, entities) == during
        assert settings(target_kind, target.url) != had  # existing agents took their tier
        commands.rollback_project(project, report.run_id)
        assert counts(target.url, entities) == before
        assert settings(target_kind, target.url) == had  # put back as they were
        assert project.state.target_ids(Entity.TICKETS) == {}
