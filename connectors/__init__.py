"""Connectors: one package per vendor, each offering ``make_source`` and ``make_target``.

The registry maps a ``type`` from ``migration.yaml`` to the vendor package; it is imported
lazily so that a broken or missing vendor never stops the others.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.errors import ConfigError

if TYPE_CHECKING:
    from connectors.base import Source, Target
    from migrator.config import EndpointConfig, Options

__all__ = ["VENDORS", "make_source", "make_target"]

VENDORS = {"zendesk": "connectors.zendesk", "freshdesk": "connectors.freshdesk"}


def _vendor(kind: str):
    if kind not in VENDORS:
        raise ConfigError(f"unknown help desk type {kind!r}",
                          hint=f"use one of: {', '.join(sorted(VENDORS))}")
    return importlib.import_module(VENDORS[kind])


def make_source(cfg: "EndpointConfig", *, workdir: Path, options: "Options") -> "Source":
    """Build the exporter for one side of ``migration.yaml``."""
    return _vendor(cfg.type).make_source(cfg, workdir=workdir, options=options)


def make_target(cfg: "EndpointConfig", *, workdir: Path, options: "Options") -> "Target":
    """Build the loader for one side of ``migration.yaml``."""
    return _vendor(cfg.type).make_target(cfg, workdir=workdir, options=options)
