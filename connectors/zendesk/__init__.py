"""Zendesk connector: export (:class:`ZendeskSource`) and import (:class:`ZendeskTarget`).

Vendor-specific keys read from the endpoint in ``migration.yaml``:
    comments_strategy   ``auto`` (default), ``per_ticket`` or ``events`` (see ``comments.py``)
    placeholder_email   the agent used for comment authors with no target user
                        (default ``migration-placeholder@<domain of email>``)
    job_cap             queued-or-running jobs allowed at once (default 30)
    account_limit, incremental_limit   requests per minute, overriding the plan's
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.zendesk.client import build_client
from connectors.zendesk.export import ZendeskSource
from connectors.zendesk.load import ZendeskTarget
from migrator.config import EndpointConfig, Options
from migrator.http import RetryPolicy

__all__ = ["make_source", "make_target", "ZendeskSource", "ZendeskTarget"]


def make_source(cfg: EndpointConfig, *, workdir: Path, options: Options,
                **client_kw: Any) -> ZendeskSource:
    """The exporter for a Zendesk account."""
    extra = cfg.model_extra or {}
    client = build_client(cfg, what="Zendesk source", max_in_flight=options.max_in_flight,
                          **client_kw)
    return ZendeskSource(client, workdir=Path(workdir), options=options,
                         comments_strategy=str(extra.get("comments_strategy", "auto")))


def make_target(cfg: EndpointConfig, *, workdir: Path, options: Options,
                **client_kw: Any) -> ZendeskTarget:
    """The loader for a Zendesk account."""
    extra = cfg.model_extra or {}
    domain = (cfg.email or "admin@example.com").rpartition("@")[2]
    client = build_client(cfg, what="Zendesk target", max_in_flight=options.max_in_flight,
                          **client_kw)
    # Creating requests are never retried blindly (see writes.py); same account budgets.
    once = build_client(cfg, what="Zendesk target", max_in_flight=options.max_in_flight,
                        retry=RetryPolicy(max_attempts=1), **client_kw)
    once.budgets = client.budgets
    return ZendeskTarget(
        client, once=once, workdir=Path(workdir), options=options,
        placeholder_email=str(extra.get("placeholder_email")
                              or f"migration-placeholder@{domain}"),
        job_cap=int(extra.get("job_cap", 30)),
        poll_interval=float(extra.get("job_poll_seconds", 1.0)))
