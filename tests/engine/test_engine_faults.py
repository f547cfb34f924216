"""A full migration through injected faults (10% 429, 5% 503, dropped connections, also dropped
*after* the request took effect) on both sandboxes, with the state on SQLite and on PostgreSQL,
finishes with the same exact result: each record once, verify clean (issue 6). The faults'
Retry-After is shortened to 0.05 s (real services send whole seconds) and the first retry backoff
to 0.05 s (the endpoint's ``retry_backoff``) so the full run stays quick;
a step past its retries stops cleanly and the same command is run again, as a user would."""

from __future__ import annotations

import pytest
import yaml

from connectors.sandbox.common import Faults
from connectors.sandbox.run import credentials, start_sandbox
from migrator.demo import ENV_FRESHDESK, ENV_ZENDESK, write_demo_project
from migrator.engine import commands
from migrator.errors import TransientError
from migrator.project import Project
from tests.engine.test_engine_kill import _assert_exactly_once

pytestmark = pytest.mark.e2e

# A connection dropped *after* the target took a POST leaves its outcome unknown: the Freshdesk
# loader's creating requests are not retried blindly but looked up first (migrator/writes.py;
# tests/connectors/freshdesk/test_freshdesk_once.py). The engine's own recovery (open batches)
# is exact; see the SIGKILL test.


def _run(tmp_path, monkeypatch, state_url, faults, *, source_faults: bool = False) -> None:
    monkeypatch.setenv(ENV_ZENDESK, credentials("zendesk")["api_token"])
    monkeypatch.setenv(ENV_FRESHDESK, credentials("freshdesk")["api_key"])
    source = start_sandbox("zendesk", seed=7, tickets=20,
                           faults=faults(1) if source_faults else Faults())
    target = start_sandbox("freshdesk", seed=7, empty=True, faults=faults(2))
    try:
        path = write_demo_project(tmp_path, source.url, target.url)
        data = yaml.safe_load(path.read_text())
        data["state"] = state_url  # SQLite and PostgreSQL
        for side in ("source", "target"):  # retries wait 0.05 s, 0.1 s, ... (default 0.5 s)
            data[side]["retry_backoff"] = 0.05
        path.write_text(yaml.safe_dump(data))
        for _ in range(5):  # past its retries a step stops cleanly; the same command resumes
            try:
                with Project.load(path) as project:
                    commands.export_project(project)
                    report = commands.migrate_project(project)
                break
            except TransientError:
                continue
        fails = [f for s in report.steps.values() for f in s.failures]
        assert report.failed == 0, fails
        assert sum(target.knobs.faults.counts.values()) > 3  # the faults really happened
        _assert_exactly_once(path, target)
    finally:
        source.stop()
        target.stop()


def test_migration_through_429_503_and_dropped_connections(tmp_path, monkeypatch, state_url):
    _run(tmp_path, monkeypatch, state_url, source_faults=True,
         faults=lambda seed: Faults(rate_429=0.10, rate_503=0.05, drop_rate=0.03, seed=seed,
                                    retry_after=0.05))


def test_connection_dropped_after_the_target_took_the_request(tmp_path, monkeypatch, state_url):
    _run(tmp_path, monkeypatch, state_url, source_faults=True,
         faults=lambda seed: Faults(drop_after_rate=0.10, seed=seed, retry_after=0.05))
