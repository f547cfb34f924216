"""A migrate killed right after a tickets batch was sent, rerun while Freshdesk's search index
still lags (``search_lag``): recovery finds every ticket of the batch, nothing is made twice."""

from __future__ import annotations

import signal

import pytest
import yaml

from connectors.sandbox.run import credentials, start_sandbox
from migrator.demo import ENV_FRESHDESK, ENV_ZENDESK, write_demo_project
from migrator.engine import commands
from migrator.engine.killpoints import ENV as KILL_ENV
from migrator.project import Project
from tests.engine.test_engine_kill import _assert_exactly_once, _migrate

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_ZENDESK, credentials("zendesk")["api_token"])
    monkeypatch.setenv(ENV_FRESHDESK, credentials("freshdesk")["api_key"])
    with start_sandbox("zendesk", seed=7, tickets=20) as source, \
            start_sandbox("freshdesk", seed=7, empty=True, search_lag=600.0) as target:
        path = write_demo_project(tmp_path, source.url, target.url)
        data = yaml.safe_load(path.read_text())
        data["options"]["batch_size"] = 5
        path.write_text(yaml.safe_dump(data))
        with Project.load(path) as p:
            commands.export_project(p)
        yield path, target


def test_killed_after_a_tickets_batch_was_sent_rerun_with_a_lagging_index(project):
    path, target = project
    proc = _migrate(path, **{KILL_ENV: "batch.sent.tickets:2"})
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == -signal.SIGKILL, out[-2000:]
    with Project.load(path) as p:
        left = p.state.open_batches()
        assert any(b["status"] == "sent" and b["entity"] == "tickets" for b in left), left
        # sent, outcomes never recorded: only recovery can tell what the account holds
    final = _migrate(path)
    out = final.communicate(timeout=120)[0].decode()
    assert final.returncode == 0, out[-2000:]
    _assert_exactly_once(path, target)
