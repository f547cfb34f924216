"""Conversation endpoints: the paged thread, notes, and the reply endpoint that e-mails people.

Notes (``POST /tickets/{id}/notes``) default to private (reference §5.3) and never send mail;
a reply (``POST /tickets/{id}/reply``) e-mails the requester, so the sandbox records each one in
``/_sandbox/emails``: a loader that imports history must leave that list empty.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import freshdesk_api as A
from .freshdesk_cdn import with_urls
from .freshdesk_render import SUPPORT_EMAIL, text_of
from .freshdesk_ticket_rules import check_attachment_budget, check_user_writable

__all__ = ["routes"]

NOTE_FIELDS = {"body", "private", "incoming", "user_id", "notify_emails", "attachments"}
REPLY_FIELDS = {"body", "from_email", "user_id", "cc_emails", "bcc_emails", "attachments"}


def _ticket(request: Request, writable: bool = False) -> dict:
    t = request.app.state.store.tickets.get(request.path_params["tid"])
    if t is None:
        raise A.not_found()
    if writable and (t.get("deleted") or t["spam"]):
        raise A.method_not_allowed("a spam or deleted ticket")
    return t


async def list_conversations(request: Request) -> Response:
    """``GET /api/v2/tickets/{id}/conversations``, paged with a ``Link`` header."""
    t = _ticket(request)
    p = A.paging(request)
    rows = request.app.state.store.conversations.get(t["id"], [])
    return A.page_response(request, rows, p, lambda c: with_urls(request, A.public(c)))


def _check(store, data: dict[str, Any], allowed: set[str]) -> list[dict]:
    errs = [{"field": k, "message": "Unexpected/invalid field in request",
             "code": "invalid_field"} for k in data if k not in allowed]
    if not data.get("body"):
        errs.append({"field": "body", "message": "Mandatory attribute missing",
                     "code": "missing_field"})
    uid = data.get("user_id")
    if uid is not None and store.user(uid) is None:
        errs.append({"field": "user_id", "message": "There is no contact or agent matching "
                     "the given user_id", "code": "invalid_value"})
    for key in ("private", "incoming"):
        if key in data and not isinstance(data[key], bool):
            errs.append({"field": key, "message": "It should be a/an Boolean",
                         "code": "datatype_mismatch"})
    return errs


async def _new_conversation(request: Request, allowed: set[str], note: bool) -> dict:
    store = request.app.state.store
    t = _ticket(request, writable=True)
    data, files = await A.read_payload(request)
    errs = _check(store, data, allowed)
    if errs:
        raise A.errors(errs)
    blobs = [(f.filename or "file", f.content_type or "application/octet-stream",
              await f.read()) for f in files]
    check_attachment_budget(sum(len(b[2]) for b in blobs), store.attachment_bytes_of(t["id"]))
    now = A.now_iso()
    uid = data.get("user_id") or next(iter(store.agents), None)
    check_user_writable(store, uid, "user_id")
    requester = store.user(t["requester_id"]) or {}
    private = data.get("private", True) if note else False
    incoming = bool(data.get("incoming", False)) if note else False
    conv = {"body": data["body"], "body_text": text_of(data["body"]),
            "id": store.new_id("conversations"), "incoming": incoming, "private": private,
            "user_id": uid, "support_email": None if note else SUPPORT_EMAIL,
            "source": 2 if note else 0, "category": 2 if note else 3, "ticket_id": t["id"],
            "to_emails": (data.get("notify_emails") or []) if note else [requester.get("email")],
            "from_email": None if note else data.get("from_email", SUPPORT_EMAIL),
            "cc_emails": None if note else list(data.get("cc_emails") or []),
            "bcc_emails": None if note else list(data.get("bcc_emails") or []),
            "created_at": now, "updated_at": now, "last_edited_at": None,
            "last_edited_user_id": None,
            "attachments": [store.add_blob(n, c, b, now) for n, c, b in blobs]}
    store.conversations.setdefault(t["id"], []).append(conv)
    t["updated_at"] = now
    return conv


async def create_note(request: Request) -> Response:
    """``POST /api/v2/tickets/{id}/notes``: private unless ``private`` is false."""
    conv = await _new_conversation(request, NOTE_FIELDS, note=True)
    return A.json_response(with_urls(request, A.public(conv)), 201)


async def create_reply(request: Request) -> Response:
    """``POST /api/v2/tickets/{id}/reply``: e-mails the requester (recorded, never sent)."""
    conv = await _new_conversation(request, REPLY_FIELDS, note=False)
    request.app.state.store.emails.append(
        {"ticket_id": conv["ticket_id"], "conversation_id": conv["id"],
         "to": conv["to_emails"], "cc": conv["cc_emails"], "body": conv["body"],
         "sent_at": conv["created_at"]})
    return A.json_response(with_urls(request, A.public(conv)), 201)


def _find_conversation(request: Request) -> tuple[list[dict], dict]:
    cid = request.path_params["cid"]
    for convs in request.app.state.store.conversations.values():
        for conv in convs:
            if conv["id"] == cid:
                return convs, conv
    raise A.not_found()


async def update_conversation(request: Request) -> Response:
    """``PUT /api/v2/conversations/{id}``: the body of a note (partially supported)."""
    _, conv = _find_conversation(request)
    data, _ = await A.read_payload(request)
    bad = [k for k in data if k not in ("body", "attachments")]
    if bad:
        raise A.invalid(bad[0], "Unexpected/invalid field in request", "invalid_field")
    if "body" in data:
        conv["body"], conv["body_text"] = data["body"], text_of(data["body"])
        conv["last_edited_at"] = conv["updated_at"] = A.now_iso()
    return A.json_response(with_urls(request, A.public(conv)))


async def delete_conversation(request: Request) -> Response:
    """``DELETE /api/v2/conversations/{id}``."""
    convs, conv = _find_conversation(request)
    convs.remove(conv)
    return A.no_content()


routes = [
    Route("/api/v2/tickets/{tid:int}/conversations", list_conversations, methods=["GET"]),
    Route("/api/v2/tickets/{tid:int}/notes", create_note, methods=["POST"]),
    Route("/api/v2/tickets/{tid:int}/reply", create_reply, methods=["POST"]),
    Route("/api/v2/conversations/{cid:int}", update_conversation, methods=["PUT"]),
    Route("/api/v2/conversations/{cid:int}", delete_conversation, methods=["DELETE"]),
]
