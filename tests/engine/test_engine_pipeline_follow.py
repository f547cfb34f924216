"""`migrator migrate --follow` end to end: Zendesk sandbox -> Freshdesk sandbox, export and load
at once; loading starts before the export ends; a kill then the same command finishes once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from migrator.engine import commands
from migrator.engine.follow import Readiness
from migrator.engine.killpoints import ENV as KILL_ENV
from migrator.project import Project
from connectors.sandbox.run import credentials, start_sandbox
from tests.engine.sandbox_project import ENV, write_project
from tests.engine.test_engine_kill import _assert_exactly_once

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _pair(tmp_path, monkeypatch, tickets: int, latency: float):
    monkeypatch.setenv(ENV["zendesk"], credentials("zendesk")["api_token"])
    monkeypatch.setenv(ENV["freshdesk"], credentials("freshdesk")["api_key"])
    source = start_sandbox("zendesk", seed=7, tickets=tickets, latency=latency)
    target = start_sandbox("freshdesk", seed=7, empty=True)
    path = write_project(tmp_path, ("zendesk", source.url), ("freshdesk", target.url),
                         batch_size=5)
    data = yaml.safe_load(path.read_text())
    data["source"]["comments_strategy"] = "per_ticket"
    data["options"]["max_in_flight"] = 2
    path.write_text(yaml.safe_dump(data))
    return path, source, target


@pytest.fixture
def slow_pair(tmp_path, monkeypatch):
    # A slow source (latency per request) and per-ticket comments: comments passes of 25
    # tickets go on while the loader starts, so it has tickets to load before the export ends.
    path, source, target = _pair(tmp_path, monkeypatch, 150, 0.05)
    yield path, source, target
    source.stop()
    target.stop()


@pytest.fixture
def pair(tmp_path, monkeypatch):
    path, source, target = _pair(tmp_path, monkeypatch, 30, 0.0)
    yield path, source, target
    source.stop()
    target.stop()


def _runs(path: Path) -> list[dict]:
    with Project.load(path) as project:
        return project.state.list_runs()


def test_follow_loads_while_exporting_then_everything_once(slow_pair):
    path, _, target = slow_pair
    with Project.load(path) as project:
        report = commands.follow_project(project)
    assert report.final.status == "done" and report.export is not None
    runs = _runs(path)
    export = next(r for r in runs if r["command"] == "export")
    rounds = [r for r in runs
              if r["command"] == "migrate" and r["options"].get("follow") != "final"]
    assert rounds, "no round loaded while the export ran"
    # the first target write happened before the last source read
    assert rounds[0]["started_at"] < export["finished_at"]
    # a round with tickets started before the export's last source read
    assert [r for r in report.rounds if r["tickets"] and r["started"] < export["finished_at"]]
    _assert_exactly_once(path, target)


def _follow(path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "migrator", "-c", str(path), "migrate",
                           "--follow"], cwd=path.parent, env=full, capture_output=True,
                          timeout=180)


@pytest.mark.parametrize("kill_at", ["batch.sent.tickets:1", "export.staged:12"])
def test_follow_killed_then_rerun_finishes_exactly_once(pair, kill_at):
    path, _, target = pair
    killed = _follow(path, **{KILL_ENV: kill_at})
    assert killed.returncode == -signal.SIGKILL, killed.stdout.decode()[-2000:]
    again = _follow(path)
    assert again.returncode == 0, (again.stdout + again.stderr).decode()[-2000:]
    _assert_exactly_once(path, target)


def test_readiness_keeps_at_most_its_bound_and_leaves_the_rest_to_the_last_round():
    readiness = Readiness(set(), most=3)
    readiness.comments_staged(["1", "2"])
    readiness.comments_staged(["2", "3", "4", "5"])  # the export outpaces the rounds
    assert readiness.take() == ["1", "2", "3"] and readiness.dropped == 2
    readiness.comments_staged(["6"])
    assert readiness.take() == ["6"]
