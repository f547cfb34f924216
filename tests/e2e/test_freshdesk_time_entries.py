"""Time logged on Freshdesk tickets reaches a Freshdesk target with its duration, date, billable
flag and agent, on the migrated tickets; rollback removes it (real loopback HTTP)."""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from migrator.engine import commands
from migrator.models import Entity
from tests.engine.sandbox_project import counts, exported_project

pytestmark = pytest.mark.e2e


def entries(url: str) -> list[dict]:
    """Every time entry of a Freshdesk sandbox, all pages."""
    out, page = [], 1
    with httpx.Client(auth=("sandbox-key", "X")) as client:
        while True:
            rows = client.get(f"{url}/api/v2/time_entries",
                              params={"page": page, "per_page": 100}).json()
            out.extend(rows)
            if len(rows) < 100:
                return out
            page += 1


def shape(e: dict, ticket: str, agent: object) -> tuple:
    return ticket, agent, e["time_spent"], e["executed_at"], e["billable"]


def logged_by(row: dict) -> object:
    """The target entry's agent, or the source agent its note names when it was not migrated."""
    named = re.search(r"Logged in the source by agent #(\w+), who was not migrated",
                      row.get("note") or "")
    return ("not migrated", named.group(1)) if named else str(row["agent_id"])


def test_time_entries_reach_the_target_on_their_tickets_and_roll_back(tmp_path, monkeypatch):
    with exported_project(tmp_path, monkeypatch, "freshdesk", "freshdesk",
                          tickets=25) as (project, source, target):
        report = commands.migrate_project(project)
        logged = report.step("time_entries").counts
        assert logged.get("created", 0) > 0, logged
        state = project.state
        tickets = state.target_ids(Entity.TICKETS)
        agents = state.target_ids(Entity.AGENTS)
        created = state.target_ids(Entity.TIME_ENTRIES)
        want = Counter(
            shape(e, tickets[str(e["ticket_id"])],
                  agents.get(str(e["agent_id"])) or ("not migrated", str(e["agent_id"])))
            for e in entries(source.url) if str(e["id"]) in created)
        got = Counter(shape(e, str(e["ticket_id"]), logged_by(e))
                      for e in entries(target.url))
        assert got == want and sum(got.values()) == logged["created"]
        skipped = state.outcome_counts(Entity.TIME_ENTRIES)["time_entries"].get("skipped", 0)
        assert skipped == logged.get("skipped", 0)  # each with its reason in the id map
        commands.rollback_project(project, report.run_id)
        assert counts(target.url, ["time_entries"]) == {"time_entries": 0}
