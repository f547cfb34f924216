"""Start a seeded sandbox (Zendesk or Freshdesk) on loopback, in-process.

``start_sandbox("zendesk")`` builds the demo company, renders it into the emulator and serves it
on ``127.0.0.1`` in a background thread. The Zendesk sandbox also serves attachment downloads on
a second port, so ``content_url`` points at a foreign host as Zendesk's CDN does and clients that
send credentials to any host get caught.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from migrator.errors import ConfigError

from .common import Faults, SandboxKnobs, ServerThread
from .seed import Company, build_company, target_account

__all__ = ["RunningSandbox", "start_sandbox", "KINDS", "make_knobs", "credentials"]

KINDS = ("zendesk", "freshdesk")
_KNOB_NAMES = {f.name for f in fields(SandboxKnobs)}


def credentials(kind: str) -> dict[str, str]:
    """What a client must send to the sandbox of ``kind``."""
    if kind == "zendesk":
        return {"email": "admin@sandbox.test", "api_token": "sandbox-token",
                "oauth_token": "sandbox-oauth"}
    return {"api_key": "sandbox-key"}


@dataclass
class RunningSandbox:
    """A sandbox being served: ``.url``, ``.kind``, ``.app``, ``.stop()``; a context manager."""

    kind: str
    app: Any
    company: Company
    server: ServerThread
    cdn: ServerThread | None = None
    knobs: SandboxKnobs = field(default_factory=SandboxKnobs)

    @property
    def url(self) -> str:
        """The API origin, e.g. ``http://127.0.0.1:53123``."""
        return self.server.url

    @property
    def cdn_url(self) -> str | None:
        """Where attachments are downloaded from (Zendesk only)."""
        return self.cdn.url if self.cdn else None

    @property
    def store(self) -> Any:
        """The emulator's in-memory account."""
        return self.app.state.store

    @property
    def credentials(self) -> dict[str, str]:
        """The credentials this sandbox accepts."""
        return credentials(self.kind)

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        for server in (self.cdn, self.server):
            if server is not None and server.thread.is_alive():
                server.stop()

    def __enter__(self) -> "RunningSandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def make_knobs(knobs: SandboxKnobs | None = None, **overrides: Any) -> SandboxKnobs:
    """``knobs`` (or defaults) with keyword overrides; unknown names are a ConfigError."""
    unknown = set(overrides) - _KNOB_NAMES
    if unknown:
        raise ConfigError(f"unknown sandbox setting(s): {', '.join(sorted(unknown))}",
                          hint=f"use one of: {', '.join(sorted(_KNOB_NAMES))}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(given.get("faults"), dict):
        given["faults"] = Faults(**given["faults"])
    return replace(knobs or SandboxKnobs(), **given)


def _factory(kind: str) -> Any:
    if kind not in KINDS:
        raise ConfigError(f"unknown sandbox kind {kind!r}", hint="use zendesk or freshdesk")
    # Imported lazily: each emulator is its own module (and the Freshdesk one has its own owner).
    return importlib.import_module(f"connectors.sandbox.{kind}").create_app


def start_sandbox(kind: str, *, seed: int = 7, tickets: int = 400, empty: bool = False,
                  knobs: SandboxKnobs | None = None, port: int = 0,
                  now: datetime | None = None, company: Company | None = None,
                  custom_statuses: Any = False, **overrides: Any) -> RunningSandbox:
    """Build the company, serve the ``kind`` emulator on loopback and return it running.

    Args:
        kind: ``zendesk`` or ``freshdesk``.
        seed, tickets, now: passed to :func:`~connectors.sandbox.seed.build_company`.
        empty: serve what an empty *target* account holds (agents as seats, default roles).
        knobs: plan, limits, faults, latency... (keyword ``overrides`` such as ``plan=``,
            ``latency=``, ``job_seconds=`` are applied on top).
        port: 0 picks a free port.
        company: a ready company instead of building one.
        custom_statuses: Zendesk only: the account has the custom ticket statuses feature
            (``True``: a few seeded statuses such as "Waiting on vendor"; or a list of
            ``(agent label, category[, active])``). Off, ``/custom_statuses`` answers 404.
    """
    create_app = _factory(kind)
    knobs = make_knobs(knobs, **overrides)
    if custom_statuses and kind != "zendesk":
        raise ConfigError("custom_statuses is a Zendesk sandbox setting",
                          hint="Freshdesk custom statuses come from the seeded status field")
    company = company or build_company(seed=seed, tickets=tickets, now=now)
    if empty:
        company = target_account(company)
    app = create_app(company, knobs)
    if custom_statuses is True:
        app.state.store.enable_custom_statuses()
    elif custom_statuses:
        app.state.store.enable_custom_statuses(custom_statuses)
    server = ServerThread(app, port=port).start()
    cdn = None
    if kind == "zendesk":
        from .zendesk import create_cdn_app
        try:
            cdn = ServerThread(create_cdn_app(app.state.store)).start()
        except Exception:
            server.stop()
            raise
        app.state.store.cdn_base = cdn.url
    return RunningSandbox(kind=kind, app=app, company=company, server=server, cdn=cdn,
                          knobs=knobs)
