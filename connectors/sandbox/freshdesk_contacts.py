"""Contacts and companies (reference §2.4, §4.6, §5.4).

Lists leave out blocked and deleted contacts unless ``state=blocked|deleted`` asks for them, and
accept ``updated_since`` (and the older ``_updated_since``). An e-mail that already belongs to any
user is a 409 whose body names the owner (``additional_info.user_id``), as clients have recorded
it. Writes to blocked or deleted contacts are 405 (gotcha 17).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import freshdesk_api as A

__all__ = ["routes", "contact_from_agent"]

CONTACT_FIELDS = {"name", "email", "phone", "mobile", "twitter_id", "unique_external_id",
                  "other_emails", "company_id", "view_all_tickets", "other_companies", "address",
                  "avatar", "custom_fields", "description", "job_title", "language", "tags",
                  "time_zone", "facebook_id", "lookup_parameter"}
IDENTITY = ("email", "phone", "mobile", "twitter_id", "unique_external_id")
COMPANY_FIELDS = {"name", "description", "domains", "note", "custom_fields", "health_score",
                  "account_tier", "renewal_date", "industry", "lookup_parameter"}


def contact_from_agent(agent: dict[str, Any]) -> dict[str, Any]:
    """The contact an agent becomes when deleted."""
    c = agent["contact"]
    return {"active": c["active"], "address": None, "company_id": None,
            "view_all_tickets": False, "description": None, "email": c["email"],
            "id": agent["id"], "job_title": c.get("job_title"), "language": c.get("language"),
            "mobile": c.get("mobile"), "name": c["name"], "phone": c.get("phone"),
            "time_zone": c.get("time_zone"), "twitter_id": None, "unique_external_id": None,
            "other_emails": [], "other_companies": [], "created_at": c["created_at"],
            "updated_at": A.now_iso(), "custom_fields": {}, "tags": [], "avatar": None}


def _state_of(store, cid: int, c: dict) -> str:
    if c.get("deleted"):
        return "deleted"
    return "blocked" if cid in store.blocked else "live"


async def list_contacts(request: Request) -> Response:
    """``GET /api/v2/contacts``."""
    store, q = request.app.state.store, request.query_params
    p = A.paging(request)
    state = q.get("state")
    if state and state not in ("blocked", "deleted", "unverified", "verified"):
        raise A.invalid("state", "It should be one of these values: "
                                 "'blocked,deleted,unverified,verified'")
    raw_since = q.get("updated_since") or q.get("_updated_since")
    since = A.parse_time(raw_since, "updated_since") if raw_since else None
    rows = []
    for cid, c in store.contacts.items():
        kind = _state_of(store, cid, c)
        if state in ("blocked", "deleted"):
            if kind != state:
                continue
        elif kind != "live" or (state == "verified" and not c["active"]) or (
                state == "unverified" and c["active"]):
            continue
        if since and (c["updated_at"] or "") < since:
            continue
        if any(q.get(k) and str(c.get(k) or "").lower() != q[k].lower()
               for k in ("email", "mobile", "phone", "unique_external_id")):
            continue
        if q.get("company_id") and str(c.get("company_id")) != q["company_id"]:
            continue
        rows.append(c)
    rows.sort(key=lambda c: c["id"])
    return A.page_response(request, rows, p, A.public)


def _contact(request: Request, writable: bool = False) -> dict:
    store = request.app.state.store
    cid = request.path_params["cid"]
    c = store.contacts.get(cid)
    if c is None:
        raise A.not_found()
    if writable and _state_of(store, cid, c) != "live":
        raise A.method_not_allowed("a blocked or deleted contact")
    return c


async def show_contact(request: Request) -> Response:
    """``GET /api/v2/contacts/{id}``."""
    return A.json_response(A.public(_contact(request)))


def _check_contact(store, data: dict[str, Any], creating: bool, own: int | None) -> None:
    errs = [{"field": k, "message": "Unexpected/invalid field in request",
             "code": "invalid_field"} for k in data if k not in CONTACT_FIELDS]
    if creating and not data.get("name"):
        errs.append({"field": "name", "message": "Mandatory attribute missing",
                     "code": "missing_field"})
    if creating and not any(data.get(k) for k in IDENTITY):
        errs.append({"field": "email", "message": "Please fill at least 1 of email, mobile, "
                     "phone, twitter_id, unique_external_id fields", "code": "missing_field"})
    if data.get("email") is not None and "@" not in str(data["email"]):
        errs.append({"field": "email", "message": "It should be in the 'valid email address' "
                     "format", "code": "invalid_value"})
    if data.get("company_id") is not None and data["company_id"] not in store.companies:
        errs.append({"field": "company_id", "message": "There is no company matching the given "
                     "company_id", "code": "invalid_value"})
    if errs:
        raise A.errors(errs)
    if data.get("email"):
        owner = store.contact_by_email(data["email"])
        if owner is not None and owner != own:
            raise A.invalid("email", "It should be a unique value", "duplicate_value",
                            status=409, additional_info={"user_id": owner})
    ext = data.get("unique_external_id")
    owner = store.find_user("unique_external_id", ext) if ext else None
    if owner is not None and owner != own:
        raise A.invalid("unique_external_id", "It should be a unique value",
                        "duplicate_value", status=409, additional_info={"user_id": owner})


async def create_contact(request: Request) -> Response:
    """``POST /api/v2/contacts``."""
    store = request.app.state.store
    data, _ = await A.read_payload(request)
    _check_contact(store, data, creating=True, own=None)
    now = A.now_iso()
    cid = store.new_id("users")
    c = {"active": False, "address": None, "company_id": None, "view_all_tickets": False,
         "description": None, "email": None, "id": cid, "job_title": None, "language": "en",
         "mobile": None, "name": None, "phone": None, "time_zone": None, "twitter_id": None,
         "unique_external_id": None, "other_emails": [], "other_companies": [],
         "created_at": now, "updated_at": now, "custom_fields": {}, "tags": [], "avatar": None}
    c.update({k: v for k, v in data.items() if k in c})
    store.contacts[cid] = c
    store.remember(cid)
    return A.created(request, f"contacts/{cid}", A.public(c))


async def update_contact(request: Request) -> Response:
    """``PUT /api/v2/contacts/{id}``."""
    store = request.app.state.store
    c = _contact(request, writable=True)
    data, _ = await A.read_payload(request)
    _check_contact(store, data, creating=False, own=c["id"])
    c.update({k: v for k, v in data.items() if k in c})
    c["updated_at"] = A.now_iso()
    store.remember(c["id"])
    return A.json_response(A.public(c))


async def delete_contact(request: Request) -> Response:
    """``DELETE /api/v2/contacts/{id}``: a soft delete."""
    c = _contact(request, writable=True)
    c["deleted"] = True
    c["updated_at"] = A.now_iso()
    return A.no_content()


async def hard_delete_contact(request: Request) -> Response:
    """``DELETE /api/v2/contacts/{id}/hard_delete``: soft-deleted first, unless ``force=true``;
    the contact's tickets (trashed ones too) go with it, for good (reference §4.6)."""
    store = request.app.state.store
    c = _contact(request)
    if not c.get("deleted") and request.query_params.get("force") != "true":
        raise A.invalid("contact", "The contact should be soft deleted before hard delete, or "
                        "use force=true", "inconsistent_state")
    del store.contacts[c["id"]]
    store.blocked.discard(c["id"])
    for tid in [tid for tid, t in store.tickets.items() if t["requester_id"] == c["id"]]:
        _purge_ticket(store, tid)
    return A.no_content()


def _purge_ticket(store, tid: int) -> None:
    """A ticket and everything hanging off it, gone for good."""
    ticket = store.tickets.pop(tid)
    convs = store.conversations.pop(tid, [])
    for att in [*ticket["attachments"], *(a for conv in convs for a in conv["attachments"])]:
        store.blobs.pop(att["id"], None)
    for table in (store.time_entries, store.ratings):
        for key in [k for k, row in table.items() if row["ticket_id"] == tid]:
            del table[key]


async def restore_contact(request: Request) -> Response:
    """``PUT /api/v2/contacts/{id}/restore``."""
    c = _contact(request)
    c.pop("deleted", None)
    return A.no_content()


async def make_agent(request: Request) -> Response:
    """``PUT /api/v2/contacts/{id}/make_agent``: needs an e-mail; consumes a seat."""
    from .freshdesk_agents import _new_agent, _seat_check, sync_groups
    store = request.app.state.store
    c = _contact(request, writable=True)
    if not c.get("email"):
        raise A.invalid("email", "An email should be associated with the contact before "
                        "converting it to an agent", "inconsistent_state", status=409)
    data, _ = await A.read_payload(request)
    _seat_check(request)
    roles = data.get("role_ids") or [r["id"] for r in store.roles.values() if r["name"] == "Agent"]
    agent = _new_agent(c["id"], {**data, "email": c["email"], "role_ids": roles}, A.now_iso(), c)
    del store.contacts[c["id"]]
    store.agents[c["id"]] = agent
    sync_groups(store, c["id"], agent["group_ids"])
    return A.json_response(A.public(agent))


def _company(request: Request) -> dict:
    c = request.app.state.store.companies.get(request.path_params["coid"])
    if c is None:
        raise A.not_found()
    return c


async def list_companies(request: Request) -> Response:
    """``GET /api/v2/companies``."""
    store, q = request.app.state.store, request.query_params
    p = A.paging(request)
    since = A.parse_time(q["updated_since"], "updated_since") if q.get("updated_since") else None
    rows = sorted((c for c in store.companies.values()
                   if since is None or (c["updated_at"] or "") >= since), key=lambda c: c["id"])
    return A.page_response(request, rows, p, A.public)


async def show_company(request: Request) -> Response:
    """``GET /api/v2/companies/{id}``."""
    return A.json_response(A.public(_company(request)))


def _check_company(store, data: dict[str, Any], creating: bool, own: int | None) -> None:
    errs = [{"field": k, "message": "Unexpected/invalid field in request",
             "code": "invalid_field"} for k in data if k not in COMPANY_FIELDS]
    if creating and not data.get("name"):
        errs.append({"field": "name", "message": "Mandatory attribute missing",
                     "code": "missing_field"})
    if errs:
        raise A.errors(errs)
    name = (data.get("name") or "").lower()
    for coid, c in store.companies.items():
        if name and c["name"].lower() == name and coid != own:
            raise A.invalid("name", "It should be a unique value", "duplicate_value",
                            status=409, additional_info={"company_id": coid})


async def create_company(request: Request) -> Response:
    """``POST /api/v2/companies``: the name must be unique."""
    store = request.app.state.store
    data, _ = await A.read_payload(request)
    _check_company(store, data, creating=True, own=None)
    now = A.now_iso()
    coid = store.new_id("companies")
    c = {"id": coid, "name": None, "description": None, "domains": [], "note": None,
         "custom_fields": {}, "created_at": now, "updated_at": now, "health_score": None,
         "account_tier": None, "renewal_date": None, "industry": None}
    c.update({k: v for k, v in data.items() if k in c})
    store.companies[coid] = c
    return A.created(request, f"companies/{coid}", A.public(c))


async def update_company(request: Request) -> Response:
    """``PUT /api/v2/companies/{id}``."""
    store = request.app.state.store
    c = _company(request)
    data, _ = await A.read_payload(request)
    _check_company(store, data, creating=False, own=c["id"])
    c.update({k: v for k, v in data.items() if k in c})
    c["updated_at"] = A.now_iso()
    return A.json_response(A.public(c))


async def delete_company(request: Request) -> Response:
    """``DELETE /api/v2/companies/{id}``: contacts keep existing, unlinked."""
    store = request.app.state.store
    c = _company(request)
    del store.companies[c["id"]]
    for contact in store.contacts.values():
        if contact.get("company_id") == c["id"]:
            contact["company_id"] = None
    return A.no_content()


routes = [
    Route("/api/v2/contacts", list_contacts, methods=["GET"]),
    Route("/api/v2/contacts", create_contact, methods=["POST"]),
    Route("/api/v2/contacts/{cid:int}", show_contact, methods=["GET"]),
    Route("/api/v2/contacts/{cid:int}", update_contact, methods=["PUT"]),
    Route("/api/v2/contacts/{cid:int}", delete_contact, methods=["DELETE"]),
    Route("/api/v2/contacts/{cid:int}/hard_delete", hard_delete_contact, methods=["DELETE"]),
    Route("/api/v2/contacts/{cid:int}/restore", restore_contact, methods=["PUT"]),
    Route("/api/v2/contacts/{cid:int}/make_agent", make_agent, methods=["PUT"]),
    Route("/api/v2/companies", list_companies, methods=["GET"]),
    Route("/api/v2/companies", create_company, methods=["POST"]),
    Route("/api/v2/companies/{coid:int}", show_company, methods=["GET"]),
    Route("/api/v2/companies/{coid:int}", update_company, methods=["PUT"]),
    Route("/api/v2/companies/{coid:int}", delete_company, methods=["DELETE"]),
]
