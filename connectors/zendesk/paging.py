"""Zendesk's three ways of paging: cursor (CBP), incremental cursor and incremental time.

Each generator yields ``(items, position)`` per page, where ``position`` is what resumes after
that page, and stops by the vendor's own end marker, never by a missing link:

- CBP stops on ``meta.has_more == false`` even when ``links.next`` is still set (reference §2.1:
  a real comments page had both).
- Incremental exports stop on ``end_of_stream`` (§2.3).
- A cursor or ``end_time`` that does not move is a server loop (§7 gotcha 2); we stop and log.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Iterator

from migrator.http import HttpClient

__all__ = ["iter_all", "iter_cbp", "iter_incremental_cursor", "iter_incremental_time",
           "list_all"]

log = logging.getLogger("connectors.zendesk")


def iter_cbp(client: HttpClient, path: str, key: str, *, params: dict[str, Any] | None = None,
             after: str | None = None, size: int = 100) -> Iterator[tuple[list[dict], str | None,
                                                                          bool]]:
    """Cursor-paginated list: yields ``(items, after_cursor, has_more)``."""
    base = dict(params or {})
    base["page[size]"] = size
    seen: set[str] = set()
    while True:
        query = dict(base)
        if after:
            query["page[after]"] = after
        body = client.get_json(path, params=query)
        items = body.get(key) or []
        meta = body.get("meta") or {}
        has_more = bool(meta.get("has_more"))
        nxt = meta.get("after_cursor")
        if has_more and (not nxt or nxt in seen):
            log.warning("zendesk: %s repeated cursor %r; stopping this listing", path, nxt)
            has_more = False
        yield items, nxt or after, has_more
        if not has_more:
            return
        seen.add(nxt)
        after = nxt


def iter_all(client: HttpClient, path: str, key: str, **kw: Any) -> Iterator[dict]:
    """Every item of a CBP list, a page at a time (never the whole list at once)."""
    for items, _, _ in iter_cbp(client, path, key, **kw):
        yield from items


def list_all(client: HttpClient, path: str, key: str, **kw: Any) -> list[dict]:
    """Every item of a CBP list."""
    return list(iter_all(client, path, key, **kw))


def iter_incremental_cursor(client: HttpClient, path: str, key: str, *, start_time: int,
                            cursor: str | None = None, params: dict[str, Any] | None = None,
                            ) -> Iterator[tuple[list[dict], str | None, bool, dict]]:
    """Cursor-based incremental export: yields ``(items, after_cursor, end_of_stream, body)``.

    ``body`` is the whole page, for side-loads such as ``metric_sets``.
    """
    seen: set[str] = set()
    while True:
        query = dict(params or {})
        if cursor:
            query["cursor"] = cursor
        else:
            query["start_time"] = start_time
        body = client.get_json(path, params=query)
        items = body.get(key) or []
        end = bool(body.get("end_of_stream"))
        nxt = body.get("after_cursor")
        if not end and (not nxt or nxt in seen or nxt == cursor):
            log.warning("zendesk: %s returned a repeated cursor; treating it as the end", path)
            end = True
        yield items, nxt or cursor, end, body
        if end:
            return
        seen.add(nxt)
        cursor = nxt


def iter_incremental_time(client: HttpClient, path: str, key: str, *, start_time: int,
                          params: dict[str, Any] | None = None,
                          ) -> Iterator[tuple[list[dict], int, bool]]:
    """Time-based incremental export: yields ``(items, end_time, end_of_stream)``.

    Zendesk refuses a ``start_time`` less than a minute old, so a resume never asks for one.
    """
    start = max(0, int(start_time))
    while True:
        query = dict(params or {})
        query["start_time"] = min(start, int(time.time()) - 60)
        body = client.get_json(path, params=query)
        items = body.get(key) or []
        end = bool(body.get("end_of_stream"))
        end_time = int(body.get("end_time") or start)
        if not end and end_time <= start:
            # Over 1000 records in one second never advance (tap-zendesk PR #103): stop.
            log.warning("zendesk: %s did not advance past %s; treating it as the end", path, start)
            end = True
        yield items, end_time, end
        if end:
            return
        start = end_time
