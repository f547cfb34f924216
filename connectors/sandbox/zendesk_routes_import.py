"""Ticket Import API, uploads, ticket deletes and ticket-field writes of the Zendesk emulator.

Imports keep ``created_at``/``updated_at``/``solved_at`` and each comment's ``author_id``,
``created_at``, ``public`` and ``uploads`` (reference §5.3). Unknown requesters, authors,
assignees or groups get the 422 ``RecordInvalid`` body the service sends; an empty ticket gets the
recorded ``Description: cannot be blank``. With ``knobs.requester_collision_rate`` an inline new
requester is answered ``409 Requester creation collision - please try again`` (text/plain).
A ``custom_status_id`` must be one of the account's custom statuses (422 otherwise) and its
category becomes the ticket's ``status``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from migrator.models import iso

from . import zendesk_render as R
from .zendesk_http import ZendeskError, not_found, read_json, record_invalid, respond, routes
from .zendesk_routes_write import _ids, _new_user, items_of, now_iso
from .zendesk_store import public

__all__ = ["IMPORT_ROUTES", "check_ref", "comment_record", "custom_status"]


def check_ref(store: Any, data: dict, key: str, table: str, agents_only: bool = False) -> None:
    value = data.get(key)
    if value is None:
        return
    record = getattr(store, table).get(value)
    if record is None or (agents_only and record.get("role") not in ("agent", "admin")):
        label = key.removesuffix("_id").capitalize()
        raise record_invalid(key, f"{label}: {value} is invalid", "InvalidValue")


def custom_status(store: Any, data: dict, status: str) -> tuple[str, int | None]:
    """The ``status`` and ``custom_status_id`` a written ticket gets.

    A given ``custom_status_id`` must be one of the account's custom statuses (422 otherwise;
    the exact body is not in the stored sources) and its category wins over a disagreeing
    ``status`` (a closed ticket stays closed in a solved status). Without one, the ticket gets
    its category's default status (``None`` on accounts without the feature).
    """
    raw = data.get("custom_status_id")
    if raw is None:
        return status, store.default_status_id(status)
    found = store.custom_statuses.get(int(raw)) if str(raw).isdigit() else None
    if found is None:
        raise record_invalid("custom_status_id", f"Custom status: {raw} is invalid",
                             "InvalidValue")
    if status == "closed" and found["status_category"] == "solved":
        return status, found["id"]
    return found["status_category"], found["id"]


def _requester(store: Any, knobs: Any, data: dict) -> int:
    if data.get("requester_id") is not None:
        check_ref(store, data, "requester_id", "users")
        return data["requester_id"]
    inline = data.get("requester")
    if isinstance(inline, dict) and inline.get("email"):
        found = store.find_user(email=inline["email"])
        if found:
            return found["id"]
        if knobs.requester_collision_rate and (
                knobs.faults.rng.random() < knobs.requester_collision_rate):
            raise ZendeskError(409, "Requester creation collision - please try again")
        return _new_user(store, {"name": inline.get("name") or inline["email"],
                                 "email": inline["email"]})["id"]
    raise record_invalid("requester", "Requester: cannot be blank", "BlankValue")


def _comments(store: Any, data: dict, requester: int, stamp: str) -> list[dict]:
    raw = list(data.get("comments") or [])
    if not raw and isinstance(data.get("comment"), dict):
        raw = [data["comment"]]
    if not raw and data.get("description"):
        raw = [{"value": data["description"]}]
    if not raw:
        raise record_invalid("base", "Description: cannot be blank", "BlankValue")
    return [comment_record(store, c, requester, stamp, n) for n, c in enumerate(raw)]


def comment_record(store: Any, c: dict, default_author: int, stamp: str, index: int) -> dict:
    """One comment as the store keeps it (422 for an unknown author); upload tokens attach
    their files, unknown tokens are ignored as Zendesk does."""
    author = c.get("author_id", default_author)
    if author not in store.users:
        raise record_invalid("base", f"Comment {index}: author {author} is invalid",
                             "InvalidValue")
    body = c.get("value") or c.get("body") or c.get("html_body") or ""
    attachments = []
    for token in c.get("uploads") or []:
        upload = store.uploads.get(token)
        if upload is not None:
            attachments += upload["_attachments"]
            upload["_attached"] = True
    return {"id": store.new_id("comment", [], 110_000_000), "type": "Comment",
            "author_id": author, "body": body,
            "html_body": c.get("html_body") or R.html_of(body), "plain_body": body,
            "public": bool(c.get("public", True)), "attachments": attachments,
            "audit_id": 0, "via": {"channel": "api", "source": {"from": {}, "to": {},
                                                               "rel": None}},
            "created_at": iso(c.get("created_at")) or stamp,
            "metadata": {"system": {"client": "import"}, "custom": {}}}


def _import_one(store: Any, knobs: Any, data: dict, archive: bool) -> dict[str, Any]:
    """Validate and store one imported ticket; raises ZendeskError (422/409)."""
    requester = _requester(store, knobs, data)
    check_ref(store, data, "assignee_id", "users", agents_only=True)
    check_ref(store, data, "group_id", "groups")
    check_ref(store, data, "organization_id", "organizations")
    status, status_id = custom_status(
        store, data, data.get("status") or ("open" if data.get("assignee_id") else "new"))
    stamp = now_iso()
    created = iso(data.get("created_at")) or stamp
    comments = _comments(store, data, requester, created)
    tid = store.new_id("ticket", store.tickets, 0)
    fields = [{"id": f.get("id"), "value": f.get("value")}
              for f in (data.get("custom_fields") or data.get("fields") or [])]
    ticket = {"url": f"{R.BASE}/api/v2/tickets/{tid}.json", "id": tid,
              "external_id": data.get("external_id"),
              "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
              "created_at": created, "updated_at": iso(data.get("updated_at")) or created,
              "generated_timestamp": int(time.time()), "type": data.get("type"),
              "subject": data.get("subject"), "raw_subject": data.get("subject"),
              "description": comments[0]["body"], "priority": data.get("priority"),
              "status": status, "recipient": None, "requester_id": requester,
              "submitter_id": data.get("submitter_id", requester),
              "assignee_id": data.get("assignee_id"),
              "organization_id": data.get("organization_id"), "group_id": data.get("group_id"),
              "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [],
              "forum_topic_id": None, "problem_id": None, "has_incidents": False,
              "is_public": any(c["public"] for c in comments), "due_at": data.get("due_at"),
              "tags": list(data.get("tags") or []), "custom_fields": fields,
              "satisfaction_rating": None, "sharing_agreement_ids": [],
              "custom_status_id": status_id, "fields": [dict(f) for f in fields],
              "followup_ids": [],
              "ticket_form_id": None, "brand_id": None, "allow_channelback": False,
              "allow_attachments": True, "from_messaging_channel": False,
              "support_type": "agent", "_deleted": False, "_deleted_at": None,
              "_archived": archive and status == "closed",
              "_solved_at": iso(data.get("solved_at"))}
    store.tickets[tid] = ticket
    keyed: dict = {}
    for comment in comments:
        audit = store._audit(keyed, ticket, comment["created_at"], str(comment["author_id"]))
        comment["audit_id"] = audit["id"]
        audit["_comments"].append(comment)
    store.comments[tid] = comments  # audits are put in time order by the events export
    return ticket


async def import_ticket(request: Request) -> Response:
    """POST /imports/tickets (201 ``ticket``)."""
    store, knobs = request.app.state.store, request.app.state.knobs
    data = (await read_json(request)).get("ticket") or {}
    archive = request.query_params.get("archive_immediately", "false").lower() == "true"
    with store.lock:
        ticket = _import_one(store, knobs, data, archive)
        return respond(request, {"ticket": public(ticket)}, 201)


async def import_many(request: Request) -> Response:
    """POST /imports/tickets/create_many (job; results ``{"index","id","account_id"}``)."""
    items = await items_of(request, "tickets")
    store, knobs = request.app.state.store, request.app.state.knobs
    archive = request.query_params.get("archive_immediately", "false").lower() == "true"

    def work() -> list[dict[str, Any]]:
        results = []
        for index, data in enumerate(items):
            try:
                tid = _import_one(store, knobs, data, archive)["id"]
                results.append({"index": index, "id": tid, "account_id": 1})
            except ZendeskError as exc:
                body = exc.body if isinstance(exc.body, dict) else {"error": str(exc.body)}
                results.append({"index": index, "status": "Failed",
                                "error": body.get("error"), "details": body.get("details")})
        return results
    job = store.jobs.submit("bulk_import_tickets", len(items), work)
    return respond(request, {"job_status": job})


def _soft_delete(store: Any, ids: list[int]):
    def work() -> list[dict[str, Any]]:
        results = []
        for tid in ids:
            ticket = store.tickets.get(tid)
            ok = ticket is not None and not ticket["_deleted"]
            if ok:
                ticket.update(_deleted=True, _deleted_at=now_iso())
            results.append({"id": tid, "action": "destroy", "success": ok,
                            "status": "Deleted" if ok else "Failed",
                            **({} if ok else {"error": "RecordNotFound"})})
        return results
    return work


async def tickets_destroy_many(request: Request) -> Response:
    """DELETE /tickets/destroy_many?ids= (job)."""
    store, ids = request.app.state.store, _ids(request)
    return respond(request, {"job_status": store.jobs.submit(
        "bulk_delete_tickets", len(ids), _soft_delete(store, ids))})


async def delete_ticket(request: Request) -> Response:
    """DELETE /tickets/{id} (204)."""
    store = request.app.state.store
    with store.lock:
        result = _soft_delete(store, [request.path_params["id"]])()[0]
    if not result["success"]:
        raise not_found()
    return Response(status_code=204)


def _purge(store: Any, ids: list[int]):
    """Permanent deletion of soft-deleted tickets; the job's results are ``{"success": true}``
    (an object, not a list: reference §5.4, zenpy TestDeletedTickets)."""
    def work() -> dict[str, Any]:
        gone = set()
        for tid in ids:
            ticket = store.tickets.get(tid)
            if ticket is not None and ticket["_deleted"]:
                del store.tickets[tid]
                store.comments.pop(tid, None)
                gone.add(tid)
        if gone:  # one pass over the history, not one per ticket
            store.audits = [a for a in store.audits if a["ticket_id"] not in gone]
        return {"success": True}
    return work


async def deleted_destroy_many(request: Request) -> Response:
    """DELETE /deleted_tickets/destroy_many?ids= (job; only soft-deleted tickets go)."""
    store, ids = request.app.state.store, _ids(request)
    return respond(request, {"job_status": store.jobs.submit(
        "bulk_permanent_delete_tickets", len(ids), _purge(store, ids))})


async def deleted_destroy(request: Request) -> Response:
    """DELETE /deleted_tickets/{id} (job; 404 unless the ticket was soft-deleted first)."""
    store, tid = request.app.state.store, request.path_params["id"]
    with store.lock:
        ticket = store.tickets.get(tid)
        if ticket is None or not ticket["_deleted"]:
            raise not_found()
    return respond(request, {"job_status": store.jobs.submit(
        "permanent_delete_ticket", 1, _purge(store, [tid]))})


async def deleted_restore(request: Request) -> Response:
    """PUT /deleted_tickets/{id}/restore (200, empty body; 404 once purged)."""
    store = request.app.state.store
    with store.lock:
        ticket = store.tickets.get(request.path_params["id"])
        if ticket is None or not ticket["_deleted"]:
            raise not_found()
        ticket.update(_deleted=False, _deleted_at=None)
    return Response(status_code=200)


async def upload(request: Request) -> Response:
    """POST /uploads?filename=[&token=]: raw body -> token (201, ``Location``)."""
    store = request.app.state.store
    name = request.query_params.get("filename")
    if not name:
        raise record_invalid("filename", "Filename: cannot be blank", "BlankValue")
    data = await request.body()
    ctype = request.headers.get("content-type") or "application/binary"
    with store.lock:
        att_id = store.new_id("attachment", [], 910_000_000)
        token = request.query_params.get("token") or R.attachment_token(f"upload-{att_id}")
        content_token = R.attachment_token(str(att_id))
        store.blobs[content_token] = (data, ctype, name)
        content = f"{R.CDN}/attachments/token/{content_token}/?name={name}"
        attachment = {"url": f"{R.BASE}/api/v2/attachments/{att_id}.json", "id": att_id,
                      "file_name": name, "content_url": content, "mapped_content_url": content,
                      "content_type": ctype, "size": len(data), "width": None, "height": None,
                      "inline": False, "deleted": False, "malware_access_override": False,
                      "malware_scan_result": "not_scanned", "thumbnails": []}
        entry = store.uploads.setdefault(token, {"token": token, "_attachments": []})
        entry["_attachments"].append(attachment)
        entry["_file_name"] = name
        expires = (datetime.now(timezone.utc) + timedelta(days=3)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")  # observed: upload time + 3 days (reference §5.2)
        body = {"upload": {"token": token, "expires_at": expires,
                           "attachments": list(entry["_attachments"]),
                           "attachment": attachment}}
        return respond(request, body, 201,
                       {"Location": f"{request.url.scheme}://{request.url.netloc}"
                                    f"/api/v2/uploads/{token}.json"})


async def create_field(request: Request) -> Response:
    """POST /ticket_fields."""
    store = request.app.state.store
    data = (await read_json(request)).get("ticket_field") or {}
    if not data.get("type") or not data.get("title"):
        raise record_invalid("base", "Type and title are required", "BlankValue")
    with store.lock:
        fid = store.new_id("field", store.ticket_fields, 360_020_000)
        field = R._field_base(fid, data["type"], data["title"], now_iso())
        field.update({k: data[k] for k in ("description", "active", "required", "position",
                                           "tag", "regexp_for_validation") if k in data})
        if data["type"] in ("tagger", "multiselect"):
            field["custom_field_options"] = []
            for opt in data.get("custom_field_options") or []:
                _upsert_option(field, opt)
        store.ticket_fields[fid] = field
        return respond(request, {"ticket_field": field}, 201)


def _upsert_option(field: dict, opt: dict) -> tuple[dict, bool]:
    options = field.setdefault("custom_field_options", [])
    for existing in options:
        if opt.get("id") is not None and existing["id"] == opt["id"]:
            existing.update(name=opt.get("name", existing["name"]),
                            raw_name=opt.get("name", existing["name"]),
                            value=opt.get("value", existing["value"]))
            return existing, False
    oid = field["id"] * 100 + len(options) + 1
    option = {"id": oid, "name": opt.get("name"), "raw_name": opt.get("name"),
              "value": opt.get("value"), "default": False, "position": len(options),
              "url": f"{R.BASE}/api/v2/ticket_fields/{field['id']}/options/{oid}.json"}
    options.append(option)
    return option, True


async def field_option(request: Request) -> Response:
    """POST /ticket_fields/{id}/options: 201 created, 200 updated (with ``id``)."""
    store = request.app.state.store
    opt = (await read_json(request)).get("custom_field_option") or {}
    if not opt.get("name") or not opt.get("value"):
        raise record_invalid("base", "Name and value are required", "BlankValue")
    with store.lock:
        field = store.ticket_fields.get(request.path_params["id"])
        if field is None:
            raise not_found()
        option, created = _upsert_option(field, opt)
        return respond(request, {"custom_field_option": option}, 201 if created else 200)


async def delete_field(request: Request) -> Response:
    """DELETE /ticket_fields/{id}: 204; 404 unknown; system fields (``removable: false``) stay.

    The OAS gives only the 204; the refusal of a system field is modelled as a 422
    ``RecordInvalid`` (the exact body is not in the stored sources).
    """
    store = request.app.state.store
    with store.lock:
        field = store.ticket_fields.get(request.path_params["id"])
        if field is None:
            raise not_found()
        if field.get("removable") is False:
            raise record_invalid("base", f"{field['title']}: system fields cannot be deleted",
                                 "InvalidValue")
        del store.ticket_fields[field["id"]]
    return Response(status_code=204)


_V2 = "/api/v2"
IMPORT_ROUTES = [
    *routes(f"{_V2}/imports/tickets", import_ticket, ["POST"]),
    *routes(f"{_V2}/imports/tickets/create_many", import_many, ["POST"]),
    *routes(f"{_V2}/tickets/destroy_many", tickets_destroy_many, ["DELETE"]),
    *routes(f"{_V2}/tickets/{{id:int}}", delete_ticket, ["DELETE"]),
    *routes(f"{_V2}/deleted_tickets/destroy_many", deleted_destroy_many, ["DELETE"]),
    *routes(f"{_V2}/deleted_tickets/{{id:int}}", deleted_destroy, ["DELETE"]),
    *routes(f"{_V2}/deleted_tickets/{{id:int}}/restore", deleted_restore, ["PUT"]),
    *routes(f"{_V2}/uploads", upload, ["POST"]),
    *routes(f"{_V2}/ticket_fields", create_field, ["POST"]),
    *routes(f"{_V2}/ticket_fields/{{id:int}}", delete_field, ["DELETE"]),
    *routes(f"{_V2}/ticket_fields/{{id:int}}/options", field_option, ["POST"]),
]
