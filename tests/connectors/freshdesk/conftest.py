"""Fixtures for the Freshdesk connector tests: a config and sources/targets on a fake base URL."""

from __future__ import annotations

import pytest

from connectors.freshdesk import make_source, make_target
from migrator.config import EndpointConfig, Options

BASE = "https://acme.freshdesk.com"
API_KEY = "fd-test-key-123"


@pytest.fixture
def fd_cfg(monkeypatch) -> EndpointConfig:
    monkeypatch.setenv("FD_TEST_KEY", API_KEY)
    return EndpointConfig(type="freshdesk", domain="acme", api_key="${FD_TEST_KEY}")


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _no_sleep(client, sleeps):
    client._sleep = sleeps.append  # tenacity waits are recorded, not slept


@pytest.fixture
def source(fd_cfg, tmp_path, sleeps):
    src = make_source(fd_cfg, workdir=tmp_path, options=Options(max_in_flight=4))
    _no_sleep(src.client, sleeps)
    yield src
    src.close()


@pytest.fixture
def target_factory(fd_cfg, tmp_path, sleeps):
    made = []

    def build(**cfg_changes):
        cfg = fd_cfg.model_copy(update=cfg_changes)
        tgt = make_target(cfg, workdir=tmp_path, options=Options(max_in_flight=2))
        _no_sleep(tgt.client, sleeps)
        made.append(tgt)
        return tgt

    yield build
    for tgt in made:
        tgt.close()
