"""``migrator init``: a starter ``migration.yaml`` and a mapping stub, credentials as ${ENV} only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migrator.config import DEFAULT_STATE, dump_config, load_config
from migrator.errors import ConfigError

__all__ = ["write_project", "endpoint_stub", "MAPPING_STUB"]

_HEADER = """\
# helpdesk-migrator project (edit the account names; credentials stay ${ENV} references:
# export the variables named below before running a command, never paste a secret here).
# Journey: migrator check -> export -> mapping scaffold -> plan -> migrate --sample 20 ->
# rollback -> migrate -> status -> verify -> report
"""

MAPPING_STUB = """\
# The restructuring: tiers, teams, agent placement, ticket routing, value maps.
# This stub is filled from your data: run `migrator export`, then
#   migrator mapping scaffold --force
# and edit the result; `migrator mapping validate` checks it and `migrator plan` shows it.
"""


def endpoint_stub(kind: str, side: str) -> dict[str, Any]:
    """The account settings of one side, with an environment reference for the credential."""
    env = f"{kind.upper()}_{side.upper()}"
    if kind == "zendesk":
        return {"type": "zendesk", "subdomain": "your-account", "email": "admin@example.com",
                "token": "${" + env + "_TOKEN}"}
    return {"type": "freshdesk", "domain": "your-account", "api_key": "${" + env + "_API_KEY}"}


def write_project(path: Path, source: str, target: str, *, force: bool = False) -> list[Path]:
    """Write ``path`` and ``mapping.yaml`` beside it; refuse to overwrite unless ``force``."""
    mapping = path.parent / "mapping.yaml"
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists", hint="pass --force to overwrite it")
    if source == target:
        raise ConfigError(f"source and target are both {source}",
                          hint="use --source and --target to name two different help desks")
    data = {"source": endpoint_stub(source, "source"), "target": endpoint_stub(target, "target"),
            "mapping": mapping.name, "state": DEFAULT_STATE, "workdir": ".migrator",
            "options": {"attachments": True, "inline_images": True, "tags": ["migrated"],
                        "archive_closed": False, "since": None, "batch_size": 100,
                        "max_in_flight": 8}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_HEADER + dump_config(data), encoding="utf-8")
    load_config(path)  # what we write must load
    written = [path]
    if not mapping.exists() or force:
        mapping.write_text(MAPPING_STUB, encoding="utf-8")
        written.append(mapping)
    return written
