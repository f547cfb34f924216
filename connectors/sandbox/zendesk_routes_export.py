"""Incremental exports of the Zendesk emulator (reference §2.3).

- ``incremental/tickets/cursor`` and ``incremental/users/cursor``: ``start_time`` then ``cursor``,
  ``per_page`` ≤ 1000, ``after_cursor``/``after_url``/``end_of_stream``. The cursor encodes
  ``"<generated_timestamp>.0||<id>|"`` in base64, like the real one in the zenpy recordings.
- ``incremental/ticket_events``, ``incremental/organizations``, ``incremental/users``: time based,
  ``next_page``/``end_time``/``end_of_stream``; records sharing the boundary second are returned
  together (the real quirk), and the next page starts after that second.
- ``start_time`` must be at least one minute in the past, else 400.
- Comment events list their attachments but not inline images (those are only referenced from
  ``html_body``), as comments read without ``include_inline_images``.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from .zendesk_http import ZendeskError, int_param, origin, respond, routes
from .zendesk_render import epoch
from .zendesk_store import public

__all__ = ["EXPORT_ROUTES"]

_KEEP = ("per_page", "include", "exclude_deleted", "support_type_scope")


def _start_time(request: Request, required: bool = True) -> int | None:
    raw = request.query_params.get("start_time")
    if raw in (None, ""):
        if required:
            raise ZendeskError(400, {"error": "InvalidValue",
                                     "description": "start_time is required"})
        return None
    try:
        value = int(float(raw))
    except ValueError:
        raise ZendeskError(400, {"error": "InvalidValue",
                                 "description": "start_time must be a Unix epoch"}) from None
    if value > time.time() - 60:
        raise ZendeskError(400, {"error": "InvalidValue", "description":
                                 "Too recent start_time. Use a start_time older than 1 minute"})
    return value


def _encode(ts: int, rid: int) -> str:
    return base64.b64encode(f"{ts}.0||{rid}|".encode()).decode()


def _decode(cursor: str) -> tuple[int, int]:
    try:
        ts, _, rid, _ = base64.b64decode(cursor.encode()).decode().split("|")
        return int(float(ts)), int(rid)
    except Exception:  # noqa: BLE001 - a malformed cursor is the client's mistake
        raise ZendeskError(400, {"error": "InvalidCursor",
                                 "description": "cursor is not valid"}) from None


def _url(request: Request, **params: Any) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k in _KEEP]
    return f"{origin(request)}{request.url.path}?{urlencode([*params.items(), *kept])}"


def _cursor_page(request: Request, key: str, rows: list[tuple[int, dict]]) -> dict[str, Any]:
    """One page of a cursor export over (timestamp, record) pairs."""
    per_page = int_param(request, "per_page", 1000, maximum=1000)
    if cursor := request.query_params.get("cursor"):
        after = _decode(cursor)
        rows = [r for r in rows if (r[0], r[1]["id"]) > after]
    else:
        start = _start_time(request)
        rows = [r for r in rows if r[0] >= start]
    rows.sort(key=lambda r: (r[0], r[1]["id"]))
    page, end = rows[:per_page], len(rows) <= per_page
    last = _encode(page[-1][0], page[-1][1]["id"]) if page else cursor or _encode(
        _start_time(request, required=False) or 0, 0)
    first = _encode(page[0][0], page[0][1]["id"]) if page else None
    return {key: [public(r[1]) for r in page], "after_url": _url(request, cursor=last),
            "after_cursor": last, "before_url": _url(request, cursor=first) if first else None,
            "before_cursor": first, "end_of_stream": end}


def _time_page(request: Request, key: str, rows: list[tuple[int, dict]]) -> dict[str, Any]:
    """One page of a time-based export."""
    per_page = int_param(request, "per_page", 1000, maximum=1000)
    start = _start_time(request)
    rows = sorted((r for r in rows if r[0] >= start), key=lambda r: (r[0], r[1]["id"]))
    page = rows[:per_page]
    while page and len(page) < len(rows) and rows[len(page)][0] == page[-1][0]:
        page.append(rows[len(page)])  # the whole boundary second comes together
    end = len(page) == len(rows)
    end_time = page[-1][0] + 1 if page else start
    return {key: [r[1] for r in page], "next_page": _url(request, start_time=end_time),
            "count": len(page), "end_time": end_time, "end_of_stream": end}


def _sideload(store: Any, tickets: list[dict], include: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    wanted = {w.strip() for w in include.split(",") if w.strip()}
    if "users" in wanted:
        ids = {t[k] for t in tickets for k in ("requester_id", "submitter_id", "assignee_id")}
        out["users"] = [public(store.users[i]) for i in sorted(i for i in ids if i in store.users)]
    if "groups" in wanted:
        ids = {t["group_id"] for t in tickets}
        out["groups"] = [public(store.groups[i]) for i in sorted(i for i in ids
                                                                 if i in store.groups)]
    if "organizations" in wanted:
        ids = {t["organization_id"] for t in tickets}
        out["organizations"] = [public(store.organizations[i]) for i in sorted(
            i for i in ids if i in store.organizations)]
    return out


async def tickets_cursor(request: Request) -> Response:
    """GET /incremental/tickets/cursor."""
    store = request.app.state.store
    exclude = request.query_params.get("exclude_deleted", "false").lower() == "true"
    with store.lock:
        rows = []
        for t in store.tickets.values():
            if t["_deleted"] and exclude:
                continue
            record = {**t, "status": "deleted"} if t["_deleted"] else t
            rows.append((t["generated_timestamp"], record))
        body = _cursor_page(request, "tickets", rows)
        if include := request.query_params.get("include"):
            body.update(_sideload(store, body["tickets"], include))
    return respond(request, body)


async def users_cursor(request: Request) -> Response:
    """GET /incremental/users/cursor."""
    store = request.app.state.store
    with store.lock:
        rows = [(epoch(u["updated_at"]), u) for u in store.users.values()]
        return respond(request, _cursor_page(request, "users", rows))


async def users_time(request: Request) -> Response:
    """GET /incremental/users (time based)."""
    store = request.app.state.store
    with store.lock:
        rows = [(epoch(u["updated_at"]), public(u)) for u in store.users.values()]
        return respond(request, _time_page(request, "users", rows))


async def organizations_time(request: Request) -> Response:
    """GET /incremental/organizations (time based only)."""
    store = request.app.state.store
    with store.lock:
        rows = [(epoch(o["updated_at"]), public(o)) for o in store.organizations.values()]
        return respond(request, _time_page(request, "organizations", rows))


async def ticket_events(request: Request) -> Response:
    """GET /incremental/ticket_events; comments inside ``child_events`` with comment_events."""
    store = request.app.state.store
    comments = "comment_events" in (request.query_params.get("include") or "")
    start = _start_time(request)
    per_page = int_param(request, "per_page", 1000, maximum=1000)
    with store.lock:
        rows: list[tuple[int, dict]] = []
        # Only this page's audits are rendered (plus one past it, so the page knows it is not
        # the last): the account's whole history once per page made a long export quadratic.
        for audit in sorted((a for a in store.audits if a["timestamp"] >= start),
                            key=lambda a: (a["timestamp"], a["id"])):
            if len(rows) > per_page and rows[-1][0] != rows[per_page - 1][0]:
                break
            event = public(audit)
            children = list(audit["child_events"])
            if comments:  # like comments without include_inline_images: no inline images
                children += [{**c, "event_type": "Comment",
                              "attachments": [a for a in c["attachments"] if not a["inline"]]}
                             for c in audit["_comments"]]
            if children:
                rows.append((audit["timestamp"], {**event, "child_events": children}))
        return respond(request, _time_page(request, "ticket_events", rows))


_INC = "/api/v2/incremental"
EXPORT_ROUTES = [
    *routes(f"{_INC}/tickets/cursor", tickets_cursor),
    *routes(f"{_INC}/users/cursor", users_cursor),
    *routes(f"{_INC}/users", users_time),
    *routes(f"{_INC}/organizations", organizations_time),
    *routes(f"{_INC}/ticket_events", ticket_events),
]
