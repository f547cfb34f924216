"""A real project over two loopback sandboxes, in either direction, with the state on any URL."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from connectors.sandbox.run import credentials, start_sandbox
from migrator.config import DEFAULT_STATE, dump_config
from migrator.demo import EXAMPLE
from migrator.engine import commands
from migrator.project import Project

ENV = {"zendesk": "MIGRATOR_TEST_ZENDESK_TOKEN", "freshdesk": "MIGRATOR_TEST_FRESHDESK_KEY"}


def endpoint(kind: str, url: str) -> dict:
    """The project-file section for one sandbox (credentials by environment reference)."""
    if kind == "zendesk":
        return {"type": "zendesk", "base_url": url, "email": credentials("zendesk")["email"],
                "token": "${" + ENV["zendesk"] + "}"}
    return {"type": "freshdesk", "base_url": url, "api_key": "${" + ENV["freshdesk"] + "}",
            "create_agents": True}


def write_project(folder: Path, source: tuple[str, str], target: tuple[str, str], *,
                  state: str = DEFAULT_STATE, batch_size: int = 50) -> Path:
    """migration.yaml + the shipped product-lines mapping; source/target are (kind, url)."""
    shutil.copyfile(EXAMPLE, folder / "mapping.yaml")
    data = {"source": endpoint(*source), "target": endpoint(*target), "mapping": "mapping.yaml",
            "state": state, "options": {"batch_size": batch_size, "max_in_flight": 8}}
    path = folder / "migration.yaml"
    path.write_text(dump_config(data), encoding="utf-8")
    return path


def start_pair(monkeypatch, source_kind: str, target_kind: str, *, tickets: int, seed: int = 7,
               **target_knobs):
    """(source, target) sandboxes: a seeded source and an empty target."""
    monkeypatch.setenv(ENV["zendesk"], credentials("zendesk")["api_token"])
    monkeypatch.setenv(ENV["freshdesk"], credentials("freshdesk")["api_key"])
    source = start_sandbox(source_kind, seed=seed, tickets=tickets)
    try:
        target = start_sandbox(target_kind, seed=seed, empty=True, **target_knobs)
    except BaseException:
        source.stop()
        raise
    return source, target


def counts(url: str, entities) -> dict:
    """Records per entity in a sandbox, from its control endpoint."""
    data = httpx.get(f"{url}/_sandbox/counts").json()
    return {k: data[k] for k in entities}


@contextmanager
def exported_project(tmp_path: Path, monkeypatch, source_kind: str, target_kind: str, *,
                     tickets: int, seed: int = 7, state: str = DEFAULT_STATE
                     ) -> Iterator[tuple[Project, object, object]]:
    """(project, source, target): both sandboxes running, the project open, its export staged."""
    source, target = start_pair(monkeypatch, source_kind, target_kind, tickets=tickets, seed=seed)
    try:
        path = write_project(tmp_path, (source_kind, source.url), (target_kind, target.url),
                             state=state)
        with Project.load(path) as project:
            commands.export_project(project)
            yield project, source, target
    finally:
        source.stop()
        target.stop()
