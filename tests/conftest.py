"""Shared fixtures: where ../shared lives, a state store on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The workplace's shared folder (../shared beside the checkout), or $MIGRATOR_SHARED."""
    env = os.environ.get("MIGRATOR_SHARED")
    if env:
        return Path(env)
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "recordings").is_dir():
            return base / "shared"
    return ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.fail(f"../shared not found at {path}; set MIGRATOR_SHARED")
    return path


@pytest.fixture(scope="session")
def recordings(shared: Path) -> Path:
    return shared / "recordings"


PG_URL = os.environ.get("MIGRATOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        import sqlalchemy as sa
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    reason = _pg_available()
    if reason:
        if os.environ.get("MIGRATOR_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL is required (MIGRATOR_REQUIRE_PG) but unavailable: {reason}")
        pytest.skip(f"PostgreSQL not available: {reason}")
    return PG_URL


@pytest.fixture
def pg_url(pg_base_url: str):
    """A fresh schema on the local PostgreSQL, dropped afterwards."""
    import sqlalchemy as sa
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(pg_base_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in pg_base_url else "?"
    yield f"{pg_base_url}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request, tmp_path):
    """A state database URL on SQLite and on the local PostgreSQL (parametrized)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("pg_url")
