"""Live ticket writes of the Zendesk emulator: ``POST /tickets`` and ``PUT /tickets/{id}``.

What an agent or a trigger does to a source account between two exports, so that a delta can be
tested for real. Each write is one audit (reference §2.3, OAS ``UpdateTicket``): field changes
become ``Change`` child events (``Create`` on a new ticket) and a ``comment`` becomes a comment
of the ticket; ``updated_at`` and ``generated_timestamp`` move to now, so the incremental ticket
export and ``incremental/ticket_events?include=comment_events`` show the write. The answer is
``{"ticket", "audit"}`` with the audit's ``events``. A closed ticket cannot be updated (422,
reference §7.4 "Closed tickets are frozen").
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from migrator.models import iso

from . import zendesk_render as R
from .zendesk_http import not_found, read_json, record_invalid, respond, routes
from .zendesk_routes_import import check_ref, comment_record, custom_status
from .zendesk_routes_write import _new_user
from .zendesk_store import public

__all__ = ["TICKET_ROUTES"]

_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
_PRIORITIES = (None, "low", "normal", "high", "urgent")
_TYPES = (None, "problem", "incident", "question", "task")
# Fields an update may change, with the table a reference must exist in.
_FIELDS = {"status": None, "custom_status_id": None, "priority": None, "type": None,
           "subject": None, "due_at": None, "external_id": None, "assignee_id": "users",
           "group_id": "groups", "organization_id": "organizations", "requester_id": "users"}


def _validate(store: Any, data: dict[str, Any]) -> None:
    for key, allowed in (("status", _STATUSES), ("priority", _PRIORITIES), ("type", _TYPES)):
        if key in data and data[key] not in allowed:
            raise record_invalid(key, f"{key.capitalize()}: {data[key]} is not valid",
                                 "InvalidValue")
    for key, table in _FIELDS.items():
        if table and data.get(key) is not None:
            check_ref(store, data, key, table, agents_only=key == "assignee_id")


def _with_status(store: Any, data: dict[str, Any], current: str | None) -> dict[str, Any]:
    """``data`` with the ``status`` and ``custom_status_id`` the write leaves (a custom status
    sets its category; a bare status its category's default custom status)."""
    if "status" not in data and "custom_status_id" not in data:
        return data
    status, status_id = custom_status(store, data, data.get("status") or current)
    return {**data, "status": status, "custom_status_id": status_id}


def _admin_id(store: Any) -> int:
    """The authenticated user: the sandbox's admin (the author of comments without one)."""
    return next((u["id"] for u in store.users.values() if u["role"] == "admin"), -1)


def _change(store: Any, kind: str, field: str, value: Any, previous: Any = None) -> dict:
    child = {"id": store.new_id("event", [], 210_000_000), "via": "Web service",
             "via_reference_id": None, "type": kind, "event_type": kind, "field_name": field,
             field: value}
    if kind == "Change":
        child["previous_value"] = previous
    return child


def _audit(store: Any, ticket: dict, author: int, stamp: str, changes: list[dict],
           comment: dict | None) -> dict:
    """Record one audit (changes + optional comment) and return its API form."""
    audit = store._audit({}, ticket, stamp, str(author))
    audit["via"] = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
    audit["child_events"].extend(changes)
    if comment is not None:
        comment["audit_id"] = audit["id"]
        audit["_comments"].append(comment)
        store.comments.setdefault(ticket["id"], []).append(comment)
    events = [{"id": c["id"], "type": c["type"], "field_name": c["field_name"],
               "value": c[c["field_name"]],
               **({"previous_value": c["previous_value"]} if "previous_value" in c else {})}
              for c in changes]
    if comment is not None:
        events.append({**public(comment), "type": "Comment"})
    return {"id": audit["id"], "ticket_id": ticket["id"], "created_at": stamp,
            "author_id": author, "metadata": {"system": {"client": "sandbox"}, "custom": {}},
            "via": audit["via"], "events": events}


def _comment(store: Any, raw: Any, default_author: int, stamp: str) -> dict | None:
    if not isinstance(raw, dict):
        return None
    author = raw.get("author_id") or default_author
    # created_at is read-only on a live comment: it is dated now
    made = comment_record(store, {**raw, "author_id": author, "created_at": None}, author,
                          stamp, index=0)
    made["via"] = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
    made["metadata"] = {"system": {"client": "sandbox"}, "custom": {}}
    return made


def _touch(ticket: dict, stamp: str) -> None:
    ticket["updated_at"] = stamp
    ticket["generated_timestamp"] = int(time.time())


async def update_ticket(request: Request) -> Response:
    """PUT /tickets/{id}: field changes and/or a new ``comment``; 200 ``{"ticket", "audit"}``."""
    store = request.app.state.store
    data = (await read_json(request)).get("ticket") or {}
    with store.lock:
        ticket = store.tickets.get(request.path_params["id"])
        if ticket is None or ticket["_deleted"]:
            raise not_found()
        if ticket["status"] == "closed":
            raise record_invalid("status", "Status: closed prevents ticket update",
                                 "InvalidValue")
        _validate(store, data)
        data = _with_status(store, data, ticket["status"])
        stamp = iso(time.time())
        author = _admin_id(store)
        comment = _comment(store, data.get("comment"), author, stamp)
        changes = [_change(store, "Change", k, data[k], ticket.get(k))
                   for k in _FIELDS if k in data and data[k] != ticket.get(k)]
        for child in changes:
            ticket[child["field_name"]] = child[child["field_name"]]
        if "tags" in data:
            ticket["tags"] = list(data["tags"] or [])
        if changes or comment is not None or "tags" in data:
            _touch(ticket, stamp)
        if comment is not None and comment["public"]:
            ticket["is_public"] = True
        audit = _audit(store, ticket, author, stamp, changes, comment) \
            if changes or comment is not None else None
        return respond(request, {"ticket": public(ticket), "audit": audit})


async def create_ticket(request: Request) -> Response:
    """POST /tickets: a live ticket (dated now) with its first comment; 201."""
    store = request.app.state.store
    data = (await read_json(request)).get("ticket") or {}
    with store.lock:
        _validate(store, data)
        requester = data.get("requester_id")
        inline = data.get("requester")
        if requester is None and isinstance(inline, dict) and inline.get("email"):
            found = store.find_user(email=inline["email"])
            requester = found["id"] if found else _new_user(store, {
                "name": inline.get("name") or inline["email"], "email": inline["email"]})["id"]
        author = requester if requester is not None else _admin_id(store)
        stamp = iso(time.time())
        raw = data.get("comment")
        if not isinstance(raw, dict) or not (raw.get("body") or raw.get("html_body")
                                             or raw.get("value")):
            raise record_invalid("base", "Description: cannot be blank", "BlankValue")
        tid = store.new_id("ticket", store.tickets, 0)
        status, status_id = custom_status(
            store, data, data.get("status") or ("open" if data.get("assignee_id") else "new"))
        fields = [{"id": f.get("id"), "value": f.get("value")}
                  for f in data.get("custom_fields") or []]
        ticket = {
            "url": f"{R.BASE}/api/v2/tickets/{tid}.json", "id": tid,
            "external_id": data.get("external_id"),
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": stamp, "updated_at": stamp, "generated_timestamp": int(time.time()),
            "type": data.get("type"), "subject": data.get("subject"),
            "raw_subject": data.get("subject"), "description": "",
            "priority": data.get("priority"), "status": status, "recipient": None,
            "requester_id": author, "submitter_id": author,
            "assignee_id": data.get("assignee_id"),
            "organization_id": data.get("organization_id"), "group_id": data.get("group_id"),
            "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [],
            "forum_topic_id": None, "problem_id": None, "has_incidents": False,
            "is_public": raw.get("public", True) is not False, "due_at": data.get("due_at"),
            "tags": list(data.get("tags") or []), "custom_fields": fields,
            "satisfaction_rating": None, "sharing_agreement_ids": [],
            "custom_status_id": status_id, "fields": [dict(f) for f in fields],
            "followup_ids": [], "ticket_form_id": None,
            "brand_id": None, "allow_channelback": False, "allow_attachments": True,
            "from_messaging_channel": False, "support_type": "agent",
            "_deleted": False, "_deleted_at": None, "_archived": False, "_solved_at": None}
        comment = _comment(store, raw, author, stamp)
        ticket["description"] = comment["body"]
        store.tickets[tid] = ticket
        changes = [_change(store, "Create", k, ticket[k])
                   for k in ("subject", "status", "priority", "group_id", "assignee_id",
                             "requester_id") if ticket.get(k) is not None]
        audit = _audit(store, ticket, author, stamp, changes, comment)
        return respond(request, {"ticket": public(ticket), "audit": audit}, 201,
                       {"Location": f"{request.url.scheme}://{request.url.netloc}"
                                    f"/api/v2/tickets/{tid}.json"})


_V2 = "/api/v2"
TICKET_ROUTES = [
    *routes(f"{_V2}/tickets", create_ticket, ["POST"]),
    *routes(f"{_V2}/tickets/{{id:int}}", update_ticket, ["PUT"]),
]
