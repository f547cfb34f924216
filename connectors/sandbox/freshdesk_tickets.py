"""Ticket endpoints: list (30-day default window, page cap, embeds), view, create, update, delete.

Behaviour per reference §2.2-§2.3 and §5.1-§5.2: a plain list returns only tickets *created* in
the last 30 days unless ``updated_since`` is given; spam and deleted tickets only with
``filter=spam|deleted``; list rows carry no description (``include=description``), no stats and no
attachments; pages past ``knobs.page_cap`` (300 on the real service) are a 400. Create accepts JSON
or multipart with ``attachments[]`` (20 MB per ticket, all conversations included) and rejects
``created_at``/``updated_at`` as unexpected fields: imported tickets get the import time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import freshdesk_api as A
from . import freshdesk_ticket_rules as V
from .freshdesk_cdn import with_urls

__all__ = ["routes", "list_row", "requester_embed"]

LIST_DROP = ("description", "description_text", "attachments", "stats")
LIST_INCLUDES = ("stats", "requester", "description")
VIEW_INCLUDES = ("conversations", "requester", "company", "stats")
FILTERS = ("new_and_my_open", "watching", "spam", "deleted")
ORDER_BY = ("created_at", "due_by", "updated_at", "status")


def _includes(request: Request, allowed: tuple[str, ...]) -> list[str]:
    raw = request.query_params.get("include", "")
    names = [x.strip() for x in raw.split(",") if x.strip()]
    for name in names:
        if name not in allowed:
            raise A.invalid("include", f"It should be one of these values: "
                                       f"'{','.join(allowed)}'")
    return names


def _choice(request: Request, name: str, allowed: tuple[str, ...], default: str | None):
    value = request.query_params.get(name, default)
    if value is not None and value not in allowed:
        raise A.invalid(name, f"It should be one of these values: '{','.join(allowed)}'")
    return value


def requester_embed(store, uid: int | None) -> dict[str, Any] | None:
    """The ``requester`` embed: email, id, mobile, name, phone."""
    user = store.user(uid)
    if user is None:
        return None
    return {k: user.get(k) for k in ("email", "id", "mobile", "name", "phone")}


def list_row(store, t: dict, includes: list[str] = ()) -> dict[str, Any]:
    """A ticket as list and search results show it."""
    row = A.public(t, LIST_DROP)
    if "stats" in includes:
        row["stats"] = dict(t["stats"])
    if "requester" in includes:
        row["requester"] = requester_embed(store, t["requester_id"])
    if "description" in includes:
        row["description"], row["description_text"] = t["description"], t["description_text"]
    return row


def _visible(t: dict, filt: str | None) -> bool:
    if filt == "deleted":
        return bool(t.get("deleted"))
    if filt == "spam":
        return t["spam"] and not t.get("deleted")
    return not t.get("deleted") and not t["spam"]


async def list_tickets(request: Request) -> Response:
    """``GET /api/v2/tickets``."""
    state = request.app.state
    store, q = state.store, request.query_params
    p = A.paging(request, page_cap=state.knobs.page_cap)
    filt = _choice(request, "filter", FILTERS, None)
    includes = _includes(request, LIST_INCLUDES)
    order_by = _choice(request, "order_by", ORDER_BY, "created_at")
    desc = _choice(request, "order_type", ("asc", "desc"), "desc") == "desc"
    since = A.parse_time(q["updated_since"], "updated_since") if "updated_since" in q else None
    # Without updated_since only the last 30 days of *created* tickets come back (gotcha 1).
    window = None if since else (datetime.now(timezone.utc) - timedelta(days=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    requester = _requester_filter(store, q)
    company = int(q["company_id"]) if q.get("company_id", "").isdigit() else None
    rows = [t for t in store.tickets.values() if _visible(t, filt)
            and (since is None or (t["updated_at"] or "") >= since)
            and (window is None or (t["created_at"] or "") >= window)
            and (requester is None or t["requester_id"] == requester)
            and (company is None or t["company_id"] == company)]
    rows.sort(key=lambda t: (t.get(order_by) or (0 if order_by == "status" else ""), t["id"]),
              reverse=desc)
    return A.page_response(request, rows, p,
                           lambda t: with_urls(request, list_row(store, t, includes)))


def _requester_filter(store, q) -> int | None:
    if q.get("requester_id", "").isdigit():
        return int(q["requester_id"])
    if q.get("email"):
        return store.contact_by_email(q["email"]) or -1
    return None


def _ticket(request: Request) -> dict:
    tid = request.path_params["tid"]
    t = request.app.state.store.tickets.get(tid)
    if t is None:
        raise A.not_found()
    return t


def _writable(t: dict) -> None:
    if t.get("deleted") or t["spam"]:  # changelog Apr 2016 (reference §5.5, gotcha 17)
        raise A.method_not_allowed("a spam or deleted ticket")


def view_row(request: Request, t: dict, includes: list[str] = ()) -> dict[str, Any]:
    """A ticket as ``GET /tickets/{id}`` shows it, URLs signed for this request."""
    store = request.app.state.store
    out = A.public(t, ("stats",))
    if "stats" in includes:
        out["stats"] = dict(t["stats"])
    if "requester" in includes:
        out["requester"] = requester_embed(store, t["requester_id"])
    if "company" in includes:
        c = store.companies.get(t["company_id"])
        out["company"] = {"id": c["id"], "name": c["name"]} if c else None
    if "conversations" in includes:  # at most 10, oldest first (reference §2.3)
        out["conversations"] = [A.public(c) for c in store.conversations.get(t["id"], [])[:10]]
    return with_urls(request, out)


async def view_ticket(request: Request) -> Response:
    """``GET /api/v2/tickets/{id}``."""
    includes = _includes(request, VIEW_INCLUDES)
    return A.json_response(view_row(request, _ticket(request), includes))


async def create_ticket(request: Request) -> Response:
    """``POST /api/v2/tickets`` (JSON or multipart)."""
    store = request.app.state.store
    data, files = await A.read_payload(request)
    V.check_create(store, data)
    blobs = [(f.filename or "file", f.content_type or "application/octet-stream",
              await f.read()) for f in files]
    V.check_attachment_budget(sum(len(b[2]) for b in blobs), 0)
    requester = V.resolve_requester(store, data)
    now = A.now_iso()
    tid = store.new_id("tickets")
    t = V.new_ticket(store, tid, data, requester, now)
    t["attachments"] = [store.add_blob(n, c, b, now) for n, c, b in blobs]
    store.tickets[tid] = t
    store.conversations[tid] = []
    return A.created(request, f"tickets/{tid}", view_row(request, t))


async def update_ticket(request: Request) -> Response:
    """``PUT /api/v2/tickets/{id}``."""
    store = request.app.state.store
    t = _ticket(request)
    _writable(t)
    data, files = await A.read_payload(request)
    V.check_update(store, data)
    blobs = [(f.filename or "file", f.content_type or "application/octet-stream",
              await f.read()) for f in files]
    V.check_attachment_budget(sum(len(b[2]) for b in blobs), store.attachment_bytes_of(t["id"]))
    now = A.now_iso()
    V.apply_update(store, t, data, now)
    t["attachments"] += [store.add_blob(n, c, b, now) for n, c, b in blobs]
    return A.json_response(view_row(request, t))


async def delete_ticket(request: Request) -> Response:
    """``DELETE /api/v2/tickets/{id}``: to the trash (``filter=deleted``)."""
    t = _ticket(request)
    _writable(t)
    t["deleted"] = True
    t["updated_at"] = A.now_iso()
    return A.no_content()


async def restore_ticket(request: Request) -> Response:
    """``PUT /api/v2/tickets/{id}/restore``."""
    t = _ticket(request)
    t.pop("deleted", None)
    t["updated_at"] = A.now_iso()
    return A.no_content()


routes = [
    Route("/api/v2/tickets", list_tickets, methods=["GET"]),
    Route("/api/v2/tickets", create_ticket, methods=["POST"]),
    Route("/api/v2/tickets/{tid:int}", view_ticket, methods=["GET"]),
    Route("/api/v2/tickets/{tid:int}", update_ticket, methods=["PUT"]),
    Route("/api/v2/tickets/{tid:int}", delete_ticket, methods=["DELETE"]),
    Route("/api/v2/tickets/{tid:int}/restore", restore_ticket, methods=["PUT"]),
]
