"""Freshdesk connector: export (:class:`FreshdeskSource`) and import (:class:`FreshdeskTarget`).

Modules: ``client`` (base URL, API-key auth, buckets, Link paging), ``parse`` (vendor JSON ->
canonical, pure), ``export``/``export_tickets``/``conversations`` (the Source), ``render``
(canonical -> vendor JSON, pure) and ``load``/``load_tickets`` (the Target).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from connectors.freshdesk.client import build_client

if TYPE_CHECKING:
    from connectors.freshdesk.export import FreshdeskSource
    from connectors.freshdesk.load import FreshdeskTarget
    from migrator.config import EndpointConfig, Options

__all__ = ["make_source", "make_target"]


def make_source(cfg: "EndpointConfig", *, workdir: Path, options: "Options",
                transport: httpx.BaseTransport | None = None) -> "FreshdeskSource":
    """The exporter for a Freshdesk account described by ``cfg``."""
    from connectors.freshdesk.export import FreshdeskSource
    client = build_client(cfg, options=options, what="Freshdesk source", transport=transport)
    return FreshdeskSource(cfg, client, workdir=workdir, options=options)


def make_target(cfg: "EndpointConfig", *, workdir: Path, options: "Options",
                transport: httpx.BaseTransport | None = None) -> "FreshdeskTarget":
    """The loader for a Freshdesk account described by ``cfg``."""
    from connectors.freshdesk.load import FreshdeskTarget
    from migrator.http import RetryPolicy
    client = build_client(cfg, options=options, what="Freshdesk target", transport=transport)
    # Creating requests are never retried blindly (migrator/writes.py); same account budgets.
    once = build_client(cfg, options=options, what="Freshdesk target", transport=transport,
                        retry=RetryPolicy(max_attempts=1))
    once.budgets = client.budgets
    return FreshdeskTarget(cfg, client, workdir=workdir, options=options, once=once)
