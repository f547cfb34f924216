"""The demo end to end over loopback HTTP, twice (sample + rollback on the sandboxes:
tests/engine/test_engine_sample_sandbox.py)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from migrator.cli import cli
from migrator.demo import ENV_FRESHDESK, ENV_ZENDESK

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
