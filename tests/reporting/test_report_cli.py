"""`migrator report` over the seeded demo company staged in a state store, and the screenshot."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.sandbox.seed import build_company
from migrator.cli import cli
from migrator.reporting import ReportOptions, build_report, histories_from_records

from migrator.reporting.render_html import render_html
from migrator.reporting.screenshot import find_chromium, screenshot
from migrator.state import StateStore
from tests.reporting.report_kit import seeded_attribution

NOW = datetime(2025, 6, 30, tzinfo=timezone.utc)
CONFIG = """
source: {type: zendesk, subdomain: acme, email: a@acme.test, token: "${ZD_TOKEN}"}
target: {type: freshdesk, base_url: "http://127.0.0.1:9", api_key: "${FD_KEY}"}
state: sqlite:///state.db
"""


@pytest.fixture(scope="module")
def company():
    return build_company(seed=7, tickets=300, now=NOW)


@pytest.fixture(scope="module")
def project(tmp_path_factory, company):
    folder = tmp_path_factory.mktemp("project")
    (folder / "migration.yaml").write_text(CONFIG, encoding="utf-8")
    store = StateStore(f"sqlite:///{folder / 'state.db'}")
    for name in ("agents", "groups", "memberships", "tickets", "comments", "ticket_events",
                 "satisfaction_ratings", "time_entries"):
        store.stage(getattr(company, name))
    store.close()
    return folder


def run(project, *args):
    return CliRunner().invoke(cli, ["-c", str(project / "migration.yaml"), "report", *args])


def test_report_command_writes_html_markdown_and_json(project, company, tmp_path):
    out = tmp_path / "out"
    result = run(project, "--out", str(out), "--service-level", "0.8", "--within", "1h")
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"report.html", "report.md", "report.json"}
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    live = [t for t in company.tickets if not (t.deleted or t.spam)]
    assert data["department"]["tickets"]["value"] == len(live)
    assert data["about"]["attribution"] == "source groups"  # no mapping in this project
    assert "<svg" in (out / "report.html").read_text(encoding="utf-8")


def test_json_flag_prints_json_with_comparison(project):
    result = run(project, "--json", "--before", "2024-01-01:2025-01-01",
                 "--after", "2025-01-01:2025-07-01")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["comparison"]["periods"]) == {"before", "after"}
    assert data["comparison"]["team"]


@pytest.mark.parametrize("args, words", [
    (["--before", "2024-01-01:2024-02-01"], "--before and --after go together"),
    (["--before", "nope", "--after", "2024-01-01:2024-02-01"], "--before"),
    (["--within", "soon"], "--within"),
    (["--service-level", "80"], "between 0 and 1"),
    (["--nps", "missing.csv"], "no such file"),
])
def test_bad_input_is_a_message_not_a_traceback(project, args, words):
    result = run(project, "--json", *args)
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output


def test_empty_state_says_to_export_first(tmp_path):
    (tmp_path / "migration.yaml").write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "migration.yaml"), "report"])
    assert result.exit_code == 2 and "migrator export" in result.output


def test_seeded_company_in_the_new_structure(company):
    """Records passed directly, attributed to tiers the way the demo mapping places them."""
    attribution = seeded_attribution(company)
    report = build_report(
        histories_from_records(company.tickets, company.comments, company.ticket_events,
                               company.satisfaction_ratings, company.time_entries),
        attribution, ReportOptions())
    tiers = report["tiers"]
    assert {"l1", "l2", "engineer"} <= set(tiers)
    assert tiers["l2"]["escalated_in_rate"]["value"] > 0  # the seed escalates L1 -> L2
    assert tiers["l1"]["escalated_out_rate"]["value"] > 0
    assert report["department"]["handling_avg_min"].get("estimate") is None  # time entries exist
    assert any(row["agent_hours_needed"] > 0 for row in report["coverage"]["rows"])
    assert sum(row["tickets"] for row in report["coverage"]["rows"]) == \
        report["department"]["tickets"]["value"]


def test_screenshot_with_headless_chromium(company, tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium) - screenshot "
                    "not checked; run `python -m migrator.reporting.screenshot` by hand")
    report = build_report(histories_from_records(company.tickets, company.comments,
                                                 company.ticket_events),
                          seeded_attribution(company))
    html = tmp_path / "report.html"
    html.write_text(render_html(report), encoding="utf-8")
    png = screenshot(html, tmp_path / "report.png", width=1000, height=1400)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a real, non-blank page


def test_report_uses_the_mapping_plan_when_there_is_one(tmp_path, company):
    pytest.importorskip("mappings.plan", reason="the mapping layer's build_plan is not here")
    example = Path(__file__).resolve().parents[2] / "mappings/examples/product-lines.yaml"
    if not example.exists():
        pytest.skip("mappings/examples/product-lines.yaml is not here")
    (tmp_path / "migration.yaml").write_text(CONFIG + f"mapping: {example}\n", encoding="utf-8")
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    for name in company.counts():
        store.stage(getattr(company, name))
    store.close()
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "migration.yaml"), "report", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["about"]["attribution"] == "mapping"
    assert {"l1", "l2", "engineer"} <= set(data["tiers"])
    placed = {(row["team"], row["tier"]): row["headcount"] for row in data["coverage"]["rows"]}
    assert sum(placed.values()) > 10  # the plan placed the seeded staff in teams and tiers
