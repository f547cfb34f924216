"""A Freshdesk API v2 emulator on Starlette: one seeded (or empty) account, source and target.

``create_app(company, knobs)`` renders a seeded :class:`~connectors.sandbox.seed.Company` into
Freshdesk JSON (integer ids, status/priority/source codes, ``cf_`` custom fields, agents with a
``contact`` part...) and serves it under ``/api/v2/`` with the real service's quirks: Link-header
paging with the stray space, the 30-day default window and the page cap on ticket lists, embed
credits, per-plan and per-endpoint rate limits, validation bodies, 409 duplicates, attachment URLs
that expire on a foreign host, and a reply endpoint that would e-mail customers. See the
``freshdesk_*`` modules for each part and ``../shared/reference/freshdesk-api.md`` for the facts.

Control endpoints (no auth, not part of the vendor API): ``GET /_sandbox/stats``,
``GET /_sandbox/counts``, ``GET /_sandbox/emails``, ``POST /_sandbox/reset``.
Credentials: HTTP basic with the API key ``sandbox-key`` as user name, any password.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import (freshdesk_agents, freshdesk_contacts, freshdesk_conversations, freshdesk_groups,
               freshdesk_misc, freshdesk_search, freshdesk_tickets)
from .common import SandboxKnobs
from .freshdesk_api import ApiError, api_error_response
from .freshdesk_cdn import serve_attachment, serve_inline
from .freshdesk_guard import API_KEY, Guard, new_limiter
from .freshdesk_store import FreshdeskStore, build_store

__all__ = ["create_app", "API_KEY"]


def _owner(store: FreshdeskStore) -> int:
    """The agent the API key belongs to: an administrator (created if the account has none)."""
    admin_roles = {rid for rid, r in store.roles.items()
                   if r["name"] in ("Account Administrator", "Administrator")}
    for aid, agent in store.agents.items():
        if admin_roles & set(agent["role_ids"]):
            return aid
    from .freshdesk_agents import _new_agent
    aid = store.new_id("users")
    store.agents[aid] = _new_agent(aid, {"email": "admin@sandbox.test", "name": "Sandbox Admin",
                                         "ticket_scope": 1, "role_ids": sorted(admin_roles)[:1]},
                                   "2023-01-02T09:00:00Z")
    return aid


def _attachment_loader():
    try:
        from .seed import attachment_bytes
    except ImportError:  # seed not importable: attachments download empty
        return None
    return attachment_bytes


def _fill(app: Starlette) -> None:
    state = app.state
    state.store = build_store(state.company, _attachment_loader() if state.company else None)
    state.me = _owner(state.store)
    state.limiter = new_limiter(state.knobs)
    state.requests = Counter()
    state.credits = Counter()
    state.cdn_stats = Counter(served=0, expired=0, bad_signature=0, auth_header=0)


async def stats(request: Request) -> Response:
    """Per bucket ok/throttled/credits, injected faults, requests per route, CDN outcomes."""
    state = request.app.state
    buckets = state.limiter.stats()
    for name, row in buckets.items():
        row["credits"] = state.credits[name]
    return JSONResponse({"buckets": buckets, "faults": dict(state.knobs.faults.counts),
                         "requests": dict(state.requests), "cdn": dict(state.cdn_stats),
                         "emails": len(state.store.emails)})


async def counts(request: Request) -> Response:
    """Records per entity."""
    return JSONResponse(request.app.state.store.counts())


async def emails(request: Request) -> Response:
    """Every e-mail the account would have sent to a customer (replies)."""
    return JSONResponse(request.app.state.store.emails)


async def reset(request: Request) -> Response:
    """Back to the seeded state, with fresh budgets and counters."""
    _fill(request.app)
    for key in request.app.state.knobs.faults.counts:
        request.app.state.knobs.faults.counts[key] = 0
    return JSONResponse({"reset": True, "counts": request.app.state.store.counts()})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return JSONResponse({"code": "method_not_allowed", "message": f"{request.method} method "
                             "is not allowed for this resource"}, 405, headers=exc.headers)
    return Response(b"", status_code=exc.status_code)  # unknown URL: 404, no body


def create_app(company: Any | None = None, knobs: SandboxKnobs | None = None) -> Starlette:
    """The Freshdesk sandbox app for ``company`` (``None``: a fresh, empty account)."""
    routes = [Route("/_sandbox/stats", stats, methods=["GET"]),
              Route("/_sandbox/counts", counts, methods=["GET"]),
              Route("/_sandbox/emails", emails, methods=["GET"]),
              Route("/_sandbox/reset", reset, methods=["POST"]),
              Route("/_cdn/{att_id}/{name:path}", serve_attachment, methods=["GET"]),
              Route("/inline/attachment", serve_inline, methods=["GET"])]
    for module in (freshdesk_tickets, freshdesk_conversations, freshdesk_search,
                   freshdesk_agents, freshdesk_contacts, freshdesk_groups, freshdesk_misc):
        routes += module.routes
    app = Starlette(routes=routes, exception_handlers={ApiError: api_error_response,
                                                       HTTPException: _http_error})
    app.state.knobs = knobs or SandboxKnobs()
    app.state.company = company
    app.state.cdn_secret = secrets.token_bytes(16)
    app.state.cdn_base = None
    _fill(app)
    app.add_middleware(Guard, state=app.state)
    return app
