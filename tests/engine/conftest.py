"""Fixtures for engine tests: a state store on SQLite, the fake company, source, target, plan."""

from __future__ import annotations

import pytest

from migrator.config import Options
from migrator.engine import run_export
from migrator.state import StateStore
from tests.engine.fakes import FakeSource, FakeTarget, company


@pytest.fixture
def options() -> Options:
    return Options(batch_size=3, max_in_flight=2)


@pytest.fixture
def world(tmp_path, options, state_url):
    """(state, source, target, plan, workdir) with the export done; on SQLite and PostgreSQL."""
    data, files, plan = company()
    state = StateStore(state_url)
    source, target = FakeSource(data, files), FakeTarget()
    run_export(source, state, tmp_path, options=options)
    yield state, source, target, plan, tmp_path
    state.close()
