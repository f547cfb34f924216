"""The demo end to end over loopback HTTP, twice; a sample run + rollback on the sandboxes."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from migrator.cli import cli
from migrator.demo import ENV_FRESHDESK, ENV_ZENDESK, _start_sandboxes, write_demo_project
from migrator.engine import commands
from migrator.models import Entity
from migrator.project import Project

pytestmark = pytest.mark.e2e


def test_demo_runs_twice_and_exits_0(tmp_path):
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["demo", "--tickets", "25", "--workdir", str(tmp_path)])
        assert result.exit_code == 0, result.output[-3000:]
        assert "everything matches" in result.output and "Summary" in result.output
        assert "lead:" in result.output  # the org chart
    folders = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(folders) == 2
    text = (folders[0] / "migration.yaml").read_text()
    assert "${" + ENV_ZENDESK + "}" in text and "${" + ENV_FRESHDESK + "}" in text
    assert "sandbox-token" not in text and "sandbox-key" not in text
    # The demo shows the restructuring report, attributed to the new teams.
    report = json.loads((folders[0] / "report" / "report.json").read_text())
    html = (folders[0] / "report" / "report.html").read_text()
    assert report["about"]["attribution"] == "mapping" and "<svg" in html
    assert {"hub", "app", "billing", "engineering"} <= set(report["teams"])
    assert "report.html" in result.output


# What the engine records and rolls back. Not compared: the Freshdesk target's own helper fields
# (source id, original dates: created once, kept for the next run) and its trash (a deleted
# Freshdesk ticket keeps its notes and files until the trash is emptied).
ENGINE_ENTITIES = ("tickets", "organizations", "end_users", "agents", "groups", "memberships")


def _counts(url: str) -> dict:
    data = httpx.get(f"{url}/_sandbox/counts").json()
    return {k: data[k] for k in ENGINE_ENTITIES}


def test_sample_run_then_rollback_leaves_the_target_as_before(tmp_path):
    source, target = _start_sandboxes(tickets=30, seed=7)
    try:
        path = write_demo_project(tmp_path, source.url, target.url)
        with Project.load(path) as project:
            commands.export_project(project)
            before = _counts(target.url)
            report = commands.migrate_project(project, spec=commands.SampleSpec(5, seed=2))
            assert report.failed == 0 and report.step("tickets").counts["created"] == 5
            during = _counts(target.url)
            assert during != before
            again = commands.migrate_project(project, spec=commands.SampleSpec(5, seed=2))
            assert again.total("created") == 0 and _counts(target.url) == during  # idempotent
            commands.rollback_project(project, report.run_id)
            assert _counts(target.url) == before
            assert project.state.target_ids(Entity.TICKETS) == {}
    finally:
        source.stop()
        target.stop()
