"""Creating requests that must not run twice, and what to do when their outcome is unknown.

Shared by the connectors (Zendesk, Freshdesk); ``connectors.zendesk.writes`` re-exports it.

The shared :class:`HttpClient` retries a request whose connection broke, which is right for
reads and for upserts (``users/create_or_update*``) but can create a ticket batch, a note, a
group or a field twice when the connection drops *after* the help desk processed the request.
Creating requests therefore go through a client that does not retry by itself:

- 429 (refused before processing): sent again once the bucket allows (the budget waits).
- a connection that could not be opened, or a 503: nothing was processed; sent again.
- anything else (a connection lost mid-request, 500/502/504): the outcome is unknown. The caller
  looks for what the request would have created (by ``external_id``, name or title) and sends
  again only if it is not there.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import httpx

from migrator.errors import RateLimitedError, TransientError
from migrator.http import HttpClient

__all__ = ["OnceClient", "Unknown", "create_once", "wait_for"]

log = logging.getLogger("migrator.writes")
_NOT_SENT = ("ConnectError", "ConnectTimeout", "HTTP 503")


class Unknown(Exception):
    """The request may or may not have taken effect."""


class OnceClient:
    """Sends a creating request at most once per attempt that could have reached the account."""

    def __init__(self, once: HttpClient, *, attempts: int = 8,
                 sleep: Callable[[float], None] = time.sleep):
        if once.retry.max_attempts != 1:
            raise ValueError("OnceClient needs an HttpClient built with RetryPolicy(max_attempts=1)")
        self._once = once
        self.what = once.what
        self.attempts = attempts
        self._sleep = sleep

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Send; raise :class:`Unknown` when it may have been processed without an answer."""
        for attempt in range(self.attempts):
            try:
                return self._once.request(method, path, **kw)
            except RateLimitedError:
                continue  # the bucket is paused for Retry-After; acquire waits for it
            except TransientError as exc:
                if not any(mark in exc.message for mark in _NOT_SENT):
                    raise Unknown(exc.message) from None
                policy = self._once.retry  # the endpoint's backoff, doubling per attempt
                self._sleep(min(policy.max_backoff, policy.base_backoff * 2 ** attempt))
        raise TransientError(f"{self.what}: {method} {path} kept failing",
                             hint="the state is saved; run the same command again to continue")

    def close(self) -> None:
        """Close the connection pool."""
        self._once.close()


def wait_for(find: Callable[[], dict], want: int, *, tries: int, every: float = 1.0,
             sleep: Callable[[float], None] = time.sleep) -> dict:
    """Call ``find`` until it returns ``want`` entries, at most ``tries`` times; the last result.

    A bulk job sent without an answer may still be queued: what it creates shows up later.
    """
    for attempt in range(max(1, tries)):
        found = find()
        if len(found) >= want or attempt + 1 >= tries:
            return found
        sleep(every)
    return {}


def create_once(send: Callable[..., httpx.Response], method: str, path: str,
                find: Callable[[], Any], *, attempts: int = 4, **kw: Any) -> httpx.Response:
    """Send a creating request through ``send`` (an :meth:`OnceClient.request`) at most once
    per outcome: when it is :class:`Unknown`, ``find()`` looks for what it would have created
    and, if that is there, its JSON comes back as a 200 response; only if absent is it resent.
    """
    for _ in range(max(1, attempts)):
        try:
            return send(method, path, **kw)
        except Unknown as exc:
            found = find()
            if found is not None:
                log.info("%s %s: the answer was lost but the record exists; not sent again",
                         method, path)
                return httpx.Response(200, json=found)
            log.info("%s %s: the answer was lost (%s) and nothing was created; sending again",
                     method, path, exc)
    raise TransientError(f"{method} {path}: the answer kept getting lost",
                         hint="the state is saved; run the same command again to continue")
