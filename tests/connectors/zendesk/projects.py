"""Real projects over loopback sandboxes for the Zendesk tests driven through the engine."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx

from connectors.sandbox.run import credentials, start_sandbox
from migrator.config import dump_config
from migrator.demo import EXAMPLE

ENV = {"zendesk": "MIGRATOR_ZD_TEST_TOKEN", "freshdesk": "MIGRATOR_ZD_TEST_FRESHDESK_KEY"}


def _endpoint(kind: str, url: str) -> dict[str, Any]:
    if kind == "zendesk":
        return {"type": "zendesk", "base_url": url, "email": credentials("zendesk")["email"],
                "token": "${" + ENV["zendesk"] + "}"}
    return {"type": "freshdesk", "base_url": url, "api_key": "${" + ENV["freshdesk"] + "}",
            "create_agents": True}


def write_project(folder: Path, source: tuple[str, str], target: tuple[str, str], *,
                  batch_size: int = 50, source_extra: dict | None = None) -> Path:
    """migration.yaml + the shipped mapping for (kind, url) source and target; the path."""
    shutil.copyfile(EXAMPLE, folder / "mapping.yaml")
    data = {"source": {**_endpoint(*source), **(source_extra or {})},
            "target": _endpoint(*target), "mapping": "mapping.yaml",
            "options": {"batch_size": batch_size, "max_in_flight": 4}}
    path = folder / "migration.yaml"
    path.write_text(dump_config(data), encoding="utf-8")
    return path


@contextmanager
def sandbox_pair(monkeypatch, source_kind: str, target_kind: str, *, tickets: int,
                 seed: int = 7, **target_knobs: Any) -> Iterator[tuple[Any, Any]]:
    """A seeded source and an empty target, both running; stopped on exit."""
    monkeypatch.setenv(ENV["zendesk"], credentials("zendesk")["api_token"])
    monkeypatch.setenv(ENV["freshdesk"], credentials("freshdesk")["api_key"])
    with start_sandbox(source_kind, seed=seed, tickets=tickets) as source, \
            start_sandbox(target_kind, seed=seed, empty=True, **target_knobs) as target:
        yield source, target


def counts(url: str) -> dict[str, int]:
    """Records per entity, from the sandbox's control endpoint."""
    return httpx.get(f"{url}/_sandbox/counts").json()
