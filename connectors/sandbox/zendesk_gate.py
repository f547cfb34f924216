"""The gate in front of the Zendesk emulator: latency, injected faults, auth, rate limits.

A plain ASGI middleware so that it can do what real networks do: close the socket after the
response has started (``DropConnection``), or after the request was fully processed
(``drop_after``), which leaves the client unsure whether a write took effect.
"""

from __future__ import annotations

import asyncio
import base64
import math
from typing import Any

from migrator.errors import ConfigError

from .common import DropConnection, Limiter, SandboxKnobs

__all__ = ["ZendeskGate", "PLAN_LIMITS", "bucket_limits", "USER", "TOKEN", "OAUTH"]

USER, TOKEN, OAUTH = "admin@sandbox.test", "sandbox-token", "sandbox-oauth"
# Requests per minute by plan [reference §3.1]; incremental exports 10/min, 30 with the High
# Volume add-on, which Enterprise Plus includes [§3.3].
PLAN_LIMITS = {"team": 200, "growth": 400, "professional": 400, "enterprise": 700,
               "enterprise_plus": 2500}
_BASIC_OK = "Basic " + base64.b64encode(f"{USER}/token:{TOKEN}".encode()).decode()


def bucket_limits(knobs: SandboxKnobs) -> dict[str, int]:
    """Bucket -> requests per window from the plan and the overrides (0 = unlimited)."""
    limits = {"account": 0, "incremental": 0}
    if knobs.plan is not None:
        plan = knobs.plan.lower().replace("-", "_").replace(" ", "_")
        if plan not in PLAN_LIMITS:
            raise ConfigError(f"unknown Zendesk plan {knobs.plan!r}",
                              hint=f"use one of: {', '.join(PLAN_LIMITS)}")
        limits = {"account": PLAN_LIMITS[plan],
                  "incremental": 30 if plan == "enterprise_plus" else 10}
    limits.update(knobs.limits)
    return limits


class ZendeskGate:
    """ASGI middleware: latency, faults, auth (401) and the plan's buckets (429)."""

    def __init__(self, app: Any, *, knobs: SandboxKnobs, limiter: Limiter, store: Any):
        self.app, self.knobs, self.limiter, self.store = app, knobs, limiter, store

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sandbox"):
            return await self.app(scope, receive, send)
        self.store.requests += 1
        if self.knobs.latency:
            await asyncio.sleep(self.knobs.latency)
        fault = self.knobs.faults.draw()
        if fault in ("429", "503"):
            return await _text(send, int(fault), "Rate limit exceeded" if fault == "429"
                               else "Service Unavailable",
                               {"Retry-After": self.knobs.faults.retry_after_header})
        if fault == "drop":
            await _start(send, 200, {"Content-Length": "4096"})
            raise DropConnection("injected: connection dropped before processing")
        if path.startswith("/api/") and not _authorized(scope):
            return await _json(send, 401, b'{"error":"Couldn\'t authenticate you"}',
                               {"WWW-Authenticate": 'Basic realm="Web Password"'})
        names = ["account"] + (["incremental"] if "/incremental/" in path else [])
        refused = self.limiter.take(names) if path.startswith("/api/") else None
        if refused:
            wait = str(max(1, math.ceil(refused[1])))
            return await _text(send, 429, "Rate limit exceeded",
                               {"Retry-After": wait, **self._rate_headers(names)})
        self.store.jobs.settle()
        extra = self._rate_headers(names) if path.startswith("/api/") else {}
        if fault == "drop_after":
            await self.app(scope, receive, _swallow)
            await _start(send, 200, {"Content-Length": "4096"})
            raise DropConnection("injected: connection dropped after processing")
        await self.app(scope, receive, _with_headers(send, extra))

    def _rate_headers(self, names: list[str]) -> dict[str, str]:
        account = self.limiter.buckets["account"]
        limit = account.limit or 1_000_000
        out = {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": str(account.remaining()),
               "ratelimit-limit": str(limit), "ratelimit-remaining": str(account.remaining()),
               "ratelimit-reset": str(account.resets_in())}
        if "incremental" in names:
            inc = self.limiter.buckets["incremental"]
            out["zendesk-ratelimit-incremental-exports"] = (
                f"total={inc.limit or 1_000_000}; remaining={inc.remaining()}; "
                f"resets={inc.resets_in()}")
        return out


def _authorized(scope: dict) -> bool:
    headers = dict(scope.get("headers") or [])
    value = headers.get(b"authorization", b"").decode("latin-1").strip()
    return value in (_BASIC_OK, f"Bearer {OAUTH}")


async def _start(send: Any, status: int, headers: dict[str, str]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


async def _body(send: Any, status: int, body: bytes, ctype: str, headers: dict[str, str]):
    await _start(send, status, {"Content-Type": ctype, "Content-Length": str(len(body)),
                                **headers})
    await send({"type": "http.response.body", "body": body})


async def _text(send: Any, status: int, text: str, headers: dict[str, str]) -> None:
    # Real 429s are text/plain with Retry-After (reference §3.2).
    await _body(send, status, text.encode(), "text/plain; charset=utf-8", headers)


async def _json(send: Any, status: int, body: bytes, headers: dict[str, str]) -> None:
    await _body(send, status, body, "application/json; charset=utf-8", headers)


async def _swallow(message: dict) -> None:
    return None


def _with_headers(send: Any, extra: dict[str, str]) -> Any:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start" and extra:
            message = dict(message)
            message["headers"] = list(message.get("headers", [])) + [
                (k.lower().encode(), v.encode()) for k, v in extra.items()]
        await send(message)
    return wrapped
