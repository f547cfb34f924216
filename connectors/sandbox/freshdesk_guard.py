"""What stands in front of every Freshdesk API call: auth, latency, faults, rate limits, headers.

Rate limits are per account and per endpoint (reference §3.1; limits.md §1.2): every call draws
from ``account`` and, for the four capped endpoints, from its own bucket (``tickets_list``,
``contacts_list``, ``ticket_create``, ``ticket_update``). A call costs its credits
(``include=`` embeds cost more, §2.2/§2.3); invalid calls count too. Every answer carries
``X-RateLimit-Total``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Used-CurrentRequest``; a 429
carries the exact ``Retry-After`` (whole seconds to the window's end, rounded up).

Dropped connections start a response (status and a ``Content-Length``) and then raise
:class:`~connectors.sandbox.common.DropConnection`, so uvicorn closes the socket mid-response and
the client sees a transport error, never a clean answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
from typing import Any
from urllib.parse import parse_qs

from .common import DropConnection, Limiter, SandboxKnobs

__all__ = ["API_KEY", "PLANS", "limits_for", "Guard", "classify"]

API_KEY = "sandbox-key"
# account, ticket_create, ticket_update, tickets_list, contacts_list per minute (reference §3.1)
_PLAN_ROWS = {"trial": (50, 0, 0, 0, 0), "growth": (200, 80, 80, 20, 20),
              "pro": (400, 160, 160, 100, 100), "enterprise": (700, 280, 280, 200, 200),
              "addon_1000": (1000, 400, 400, 300, 300), "addon_2000": (2000, 800, 800, 400, 400)}
_BUCKETS = ("account", "ticket_create", "ticket_update", "tickets_list", "contacts_list")
PLANS = {plan: dict(zip(_BUCKETS, row)) for plan, row in _PLAN_ROWS.items()}
_ID = re.compile(r"/\d+(?=/|$)")


def limits_for(knobs: SandboxKnobs) -> dict[str, int]:
    """Bucket -> requests per window from the plan, overridden by ``knobs.limits``."""
    if knobs.plan and knobs.plan.lower() not in PLANS:
        raise ValueError(f"unknown Freshdesk plan {knobs.plan!r}; one of {', '.join(PLANS)}")
    base = dict(PLANS[knobs.plan.lower()]) if knobs.plan else dict.fromkeys(_BUCKETS, 0)
    base.update(knobs.limits)
    return base


def _includes(query: str) -> list[str]:
    raw = parse_qs(query).get("include", [""])[0]
    return [x for x in raw.split(",") if x.strip()]


def classify(method: str, path: str, query: str) -> tuple[tuple[str, ...], int]:
    """The buckets a call draws from and its credit cost."""
    path = path.rstrip("/")
    if path == "/api/v2/tickets":
        if method == "GET":  # each list embed costs 2 extra credits (reference §2.2)
            return ("account", "tickets_list"), 1 + 2 * len(_includes(query))
        if method == "POST":
            return ("account", "ticket_create"), 1
    if re.fullmatch(r"/api/v2/tickets/\d+", path):
        if method == "GET":  # each view embed costs 1 extra (reference §2.3)
            return ("account",), 1 + len(_includes(query))
        if method == "PUT":
            return ("account", "ticket_update"), 1
    if path == "/api/v2/contacts" and method == "GET":
        return ("account", "contacts_list"), 1
    return ("account",), 1


def authorized(headers: dict[bytes, bytes]) -> bool:
    """Basic auth with the API key as user name; the password may be anything."""
    value = headers.get(b"authorization", b"").decode("latin-1")
    if not value.lower().startswith("basic "):
        return False
    try:
        user = base64.b64decode(value[6:].strip()).decode().split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        return False
    return user == API_KEY


def _json_start(status: int, body: Any, extra: list[tuple[bytes, bytes]]) -> tuple[dict, dict]:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"),
               (b"content-length", str(len(raw)).encode()), *extra]
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": raw})


class Guard:
    """ASGI middleware applying auth, latency, faults and rate limits to ``/api/`` calls."""

    def __init__(self, app, state):
        self.app, self.state = app, state

    def _rate_headers(self, cost: int) -> list[tuple[bytes, bytes]]:
        account = self.state.limiter.buckets["account"]
        total = account.limit or 1_000_000
        return [(b"x-ratelimit-total", str(total).encode()),
                (b"x-ratelimit-remaining", str(account.remaining()).encode()),
                (b"x-ratelimit-used-currentrequest", str(cost).encode())]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/_cdn/")):
            return await self.app(scope, receive, send)
        knobs: SandboxKnobs = self.state.knobs
        if knobs.latency:
            await asyncio.sleep(knobs.latency)
        if scope["path"].startswith("/_cdn/"):  # a foreign host: no key, no API budget
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        self.state.requests[f"{method} {_ID.sub('/{id}', path.rstrip('/'))}"] += 1
        if not authorized(dict(scope["headers"])):
            start, body = _json_start(401, {"code": "invalid_credentials", "message":
                                            "You have to be logged in to perform this action."},
                                      [])
            await send(start)
            return await send(body)
        accept = dict(scope["headers"]).get(b"accept", b"*/*").decode("latin-1").lower()
        if not any(a in accept for a in ("application/json", "*/*", "multipart/form-data")):
            # Only application/json and */* are accepted (reference §1): 406.
            start, body = _json_start(406, {"code": "invalid_accept_header", "message":
                                            "Only application/json and */* are supported"}, [])
            await send(start)
            return await send(body)
        fault = knobs.faults.draw()
        if fault in ("429", "503"):
            status = int(fault)
            start, body = _json_start(status, {"message": "Service temporarily unavailable"
                                               if status == 503 else "Rate limit exceeded"},
                                      [(b"retry-after", knobs.faults.retry_after_header.encode())])
            await send(start)
            return await send(body)
        if fault == "drop":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"1000")]})
            raise DropConnection("fault: dropped before processing")
        await self._limited(scope, receive, send, fault == "drop_after")

    async def _limited(self, scope, receive, send, drop_after: bool) -> None:
        buckets, cost = classify(scope["method"], scope["path"],
                                 scope.get("query_string", b"").decode("latin-1"))
        refused = self.state.limiter.take(buckets, cost)
        if refused:
            _, wait = refused
            # The 429 body text is not documented; the status and Retry-After are.
            start, body = _json_start(429, {"message": "You have exceeded the limit of "
                                                       "requests per minute"},
                                      [(b"retry-after", str(max(1, math.ceil(wait))).encode()),
                                       *self._rate_headers(0)])
            await send(start)
            return await send(body)
        rate = self._rate_headers(cost)
        for name in buckets:  # credits, not calls: what a budget-use report needs
            self.state.credits[name] += cost

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *rate]}
            if drop_after:
                return None  # processed, but the client never hears back
            await send(message)

        await self.app(scope, receive, send_with_headers)
        if drop_after:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"1000")]})
            raise DropConnection("fault: dropped after processing")


def new_limiter(knobs: SandboxKnobs) -> Limiter:
    """The account's buckets for these knobs."""
    return Limiter(limits_for(knobs), knobs.window)
