"""Write endpoints for people and structure: users, organisations, groups, memberships, fields.

Bulk endpoints take ≤100 items (else 400 TooManyValues) and answer with a ``job_status``; the
job's ``results`` are shaped as the real service shapes them (reference §5.4): users and
organisations ``{"id", "status": "Created"}`` without ``index``; memberships ``{"id", "index"}``;
deletes ``{"id", "action", "success", "status"}``. A completed job can hold failed items.
"""

from __future__ import annotations

from typing import Any

from migrator.models import iso

from starlette.requests import Request
from starlette.responses import Response

from . import zendesk_render as R
from .zendesk_http import (ZendeskError, ids_param, not_found, read_json, record_invalid, respond,
                           routes, too_many)
from .zendesk_store import public

__all__ = ["WRITE_ROUTES", "items_of", "now_iso"]


def now_iso() -> str:
    """The current time, canonical."""
    import time
    return iso(time.time())


async def items_of(request: Request, key: str, limit: int = 100) -> list[dict[str, Any]]:
    """The list under ``key`` of a bulk body (400 past ``limit``)."""
    body = await read_json(request)
    items = body.get(key)
    if not isinstance(items, list) or not items:
        raise record_invalid("base", f"{key} must be a non-empty list", "BlankValue")
    if len(items) > limit:
        raise too_many(limit)
    return items


# -- users ----------------------------------------------------------------------------------
def _new_user(store: Any, data: dict[str, Any]) -> dict[str, Any]:
    name = (data.get("name") or "").strip()
    if not name:
        raise record_invalid("name", "Name: is too short (minimum one character)", "BlankValue")
    if data.get("email") and store.find_user(email=data["email"]):
        raise record_invalid("email", f"Email: {data['email']} is already being used by another "
                                      "user", "DuplicateValue")
    uid = store.new_id("user", store.users, 390_000)
    stamp = now_iso()
    user = R._user_common(str(uid), name, stamp, stamp)
    role = data.get("role") or "end-user"
    user.update({"email": data.get("email"), "time_zone": data.get("time_zone"),
                 "iana_time_zone": data.get("time_zone"), "phone": data.get("phone"),
                 "locale": data.get("locale") or "en-US", "locale_id": 1,
                 "organization_id": data.get("organization_id"), "role": role,
                 "external_id": data.get("external_id"), "tags": data.get("tags") or [],
                 "active": True, "last_login_at": None, "role_type": None,
                 "custom_role_id": data.get("custom_role_id"),
                 "ticket_restriction": "requested" if role == "end-user" else None,
                 "only_private_comments": False, "restricted_agent": role == "end-user",
                 "suspended": bool(data.get("suspended")), "default_group_id": None,
                 "verified": bool(data.get("skip_verify_email") or data.get("verified"))})
    store.users[uid] = user
    return user


def _update_user(user: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    for key in ("name", "phone", "time_zone", "locale", "organization_id", "role", "tags",
                "external_id", "custom_role_id", "suspended"):
        if key in data:
            user[key] = data[key]
    user["updated_at"] = now_iso()
    return user


def _upsert_user(store: Any, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    found = store.find_user(email=data.get("email"), external_id=data.get("external_id"))
    return (_update_user(found, data), False) if found else (_new_user(store, data), True)


async def create_user(request: Request) -> Response:
    """POST /users."""
    store, data = request.app.state.store, (await read_json(request)).get("user") or {}
    with store.lock:
        return respond(request, {"user": public(_new_user(store, data))}, 201)


async def create_or_update_user(request: Request) -> Response:
    """POST /users/create_or_update: 201 created or 200 updated."""
    store, data = request.app.state.store, (await read_json(request)).get("user") or {}
    with store.lock:
        user, created = _upsert_user(store, data)
        return respond(request, {"user": public(user)}, 201 if created else 200)


async def update_user(request: Request) -> Response:
    """PUT /users/{id}: the given fields change, 200 with the user."""
    store, data = request.app.state.store, (await read_json(request)).get("user") or {}
    with store.lock:
        user = store.users.get(int(request.path_params["id"]))
        if user is None:
            raise not_found()
        return respond(request, {"user": public(_update_user(user, data))})


def _bulk_users(store: Any, items: list[dict], upsert: bool):
    def work() -> list[dict[str, Any]]:
        results = []
        for data in items:
            try:
                if upsert:
                    user, created = _upsert_user(store, data)
                else:
                    user, created = _new_user(store, data), True
                results.append({"id": user["id"], "status": "Created" if created else "Updated"})
            except ZendeskError as exc:
                detail = next(iter(exc.body["details"].values()))[0]
                results.append({"status": "Failed", "error": detail["error"],
                                "details": detail["description"],
                                **{k: data[k] for k in ("email", "external_id") if data.get(k)}})
        return results
    return work


async def users_create_many(request: Request) -> Response:
    """POST /users/create_many (job)."""
    items = await items_of(request, "users")
    store = request.app.state.store
    job = store.jobs.submit("bulk_create_users", len(items), _bulk_users(store, items, False))
    return respond(request, {"job_status": job})


async def users_create_or_update_many(request: Request) -> Response:
    """POST /users/create_or_update_many (job)."""
    items = await items_of(request, "users")
    store = request.app.state.store
    job = store.jobs.submit("bulk_create_or_update_users", len(items),
                            _bulk_users(store, items, True))
    return respond(request, {"job_status": job})


def _destroy(store: Any, table: str, ids: list[int]):
    def work() -> list[dict[str, Any]]:
        results = []
        for rid in ids:
            gone = getattr(store, table).pop(rid, None) is not None
            results.append({"id": rid, "action": "destroy", "success": gone,
                            "status": "Deleted" if gone else "Failed",
                            **({} if gone else {"error": "RecordNotFound"})})
        return results
    return work


def _ids(request: Request) -> list[int]:
    ids = ids_param(request)
    if not ids or not all(i.isdigit() for i in ids):
        raise ZendeskError(400, {"error": "InvalidValue",
                                 "description": "ids must be a comma-separated list of integers"})
    return [int(i) for i in ids]


async def users_destroy_many(request: Request) -> Response:
    """DELETE /users/destroy_many?ids= (job)."""
    store, ids = request.app.state.store, _ids(request)
    return respond(request, {"job_status": store.jobs.submit(
        "bulk_delete_users", len(ids), _destroy(store, "users", ids))})


# -- organisations --------------------------------------------------------------------------
def _new_org(store: Any, data: dict[str, Any]) -> dict[str, Any]:
    name = (data.get("name") or "").strip()
    if not name:
        raise record_invalid("name", "Name: cannot be blank", "BlankValue")
    if any(o["name"].lower() == name.lower() for o in store.organizations.values()):
        raise record_invalid("name", "Name: has already been taken", "DuplicateValue")
    oid = store.new_id("organization", store.organizations, 361_000)
    stamp = now_iso()
    org = {"id": oid, "url": f"{R.BASE}/api/v2/organizations/{oid}.json", "name": name,
           "shared_tickets": False, "shared_comments": False,
           "external_id": data.get("external_id"), "created_at": stamp, "updated_at": stamp,
           "domain_names": data.get("domain_names") or [], "details": data.get("details"),
           "notes": data.get("notes"), "group_id": None, "tags": data.get("tags") or [],
           "organization_fields": data.get("organization_fields") or {}}
    store.organizations[oid] = org
    return org


async def create_org(request: Request) -> Response:
    """POST /organizations."""
    store, data = request.app.state.store, (await read_json(request)).get("organization") or {}
    with store.lock:
        return respond(request, {"organization": public(_new_org(store, data))}, 201)


async def orgs_create_many(request: Request) -> Response:
    """POST /organizations/create_many (job)."""
    items = await items_of(request, "organizations")
    store = request.app.state.store

    def work() -> list[dict[str, Any]]:
        results = []
        for data in items:
            try:
                results.append({"id": _new_org(store, data)["id"], "status": "Created"})
            except ZendeskError as exc:
                detail = next(iter(exc.body["details"].values()))[0]
                results.append({"status": "Failed", "error": detail["error"],
                                "details": detail["description"]})
        return results
    job = store.jobs.submit("bulk_create_organizations", len(items), work)
    return respond(request, {"job_status": job})


async def orgs_destroy_many(request: Request) -> Response:
    """DELETE /organizations/destroy_many?ids= (job)."""
    store, ids = request.app.state.store, _ids(request)
    return respond(request, {"job_status": store.jobs.submit(
        "bulk_delete_organizations", len(ids), _destroy(store, "organizations", ids))})


# -- groups and memberships -----------------------------------------------------------------
async def create_group(request: Request) -> Response:
    """POST /groups."""
    store, data = request.app.state.store, (await read_json(request)).get("group") or {}
    name = (data.get("name") or "").strip()
    if not name:
        raise record_invalid("name", "Name: cannot be blank", "BlankValue")
    with store.lock:
        gid = store.new_id("group", store.groups, 362_000)
        stamp = now_iso()
        group = {"id": gid, "url": f"{R.BASE}/api/v2/groups/{gid}.json", "name": name,
                 "description": data.get("description") or "", "default": False,
                 "deleted": False, "is_public": data.get("is_public", True),
                 "created_at": stamp, "updated_at": stamp}
        store.groups[gid] = group
        return respond(request, {"group": group}, 201)


async def delete_group(request: Request) -> Response:
    """DELETE /groups/{id}: soft delete (listed again with ``exclude_deleted=false``)."""
    store = request.app.state.store
    with store.lock:
        group = store.groups.get(request.path_params["id"])
        if group is None or group["deleted"]:
            raise not_found()
        group["deleted"] = True
        for mid in [m for m, v in store.memberships.items() if v["group_id"] == group["id"]]:
            del store.memberships[mid]
    return Response(status_code=204)


def _new_membership(store: Any, data: dict[str, Any]) -> dict[str, Any]:
    user = store.users.get(data.get("user_id"))
    if user is None or user["role"] not in ("agent", "admin"):
        raise record_invalid("user_id", "User: must be an agent", "InvalidValue")
    group = store.groups.get(data.get("group_id"))
    if group is None or group["deleted"]:
        raise record_invalid("group_id", "Group: is invalid", "InvalidValue")
    if any(m["user_id"] == user["id"] and m["group_id"] == group["id"]
           for m in store.memberships.values()):
        raise record_invalid("user_id", "User: is already a member of this group",
                             "DuplicateValue")
    mid = store.new_id("membership", store.memberships, 461_000)
    stamp = now_iso()
    membership = {"id": mid, "url": f"{R.BASE}/api/v2/group_memberships/{mid}.json",
                  "user_id": user["id"], "group_id": group["id"],
                  "default": bool(data.get("default")), "created_at": stamp, "updated_at": stamp}
    store.memberships[mid] = membership
    return membership


async def create_membership(request: Request) -> Response:
    """POST /group_memberships."""
    store = request.app.state.store
    data = (await read_json(request)).get("group_membership") or {}
    with store.lock:
        return respond(request, {"group_membership": _new_membership(store, data)}, 201)


async def memberships_create_many(request: Request) -> Response:
    """POST /group_memberships/create_many (job; results with ``index``)."""
    items = await items_of(request, "group_memberships")
    store = request.app.state.store

    def work() -> list[dict[str, Any]]:
        results = []
        for index, data in enumerate(items):
            try:
                results.append({"index": index, "id": _new_membership(store, data)["id"]})
            except ZendeskError as exc:
                detail = next(iter(exc.body["details"].values()))[0]
                results.append({"index": index, "status": "Failed", "error": detail["error"],
                                "details": detail["description"]})
        return results
    job = store.jobs.submit("bulk_create_group_memberships", len(items), work)
    return respond(request, {"job_status": job})


async def memberships_destroy_many(request: Request) -> Response:
    """DELETE /group_memberships/destroy_many?ids= (job)."""
    store, ids = request.app.state.store, _ids(request)
    return respond(request, {"job_status": store.jobs.submit(
        "bulk_delete_group_memberships", len(ids), _destroy(store, "memberships", ids))})


async def delete_membership(request: Request) -> Response:
    """DELETE /group_memberships/{id}."""
    store = request.app.state.store
    with store.lock:
        if store.memberships.pop(request.path_params["id"], None) is None:
            raise not_found()
    return Response(status_code=204)


_V2 = "/api/v2"
WRITE_ROUTES = [
    *routes(f"{_V2}/users", create_user, ["POST"]),
    *routes(f"{_V2}/users/create_or_update", create_or_update_user, ["POST"]),
    *routes(f"{_V2}/users/create_many", users_create_many, ["POST"]),
    *routes(f"{_V2}/users/create_or_update_many", users_create_or_update_many, ["POST"]),
    *routes(f"{_V2}/users/destroy_many", users_destroy_many, ["DELETE"]),
    *routes(f"{_V2}/users/{{id:int}}", update_user, ["PUT"]),
    *routes(f"{_V2}/organizations", create_org, ["POST"]),
    *routes(f"{_V2}/organizations/create_many", orgs_create_many, ["POST"]),
    *routes(f"{_V2}/organizations/destroy_many", orgs_destroy_many, ["DELETE"]),
    *routes(f"{_V2}/groups", create_group, ["POST"]),
    *routes(f"{_V2}/groups/{{id:int}}", delete_group, ["DELETE"]),
    *routes(f"{_V2}/group_memberships", create_membership, ["POST"]),
    *routes(f"{_V2}/group_memberships/create_many", memberships_create_many, ["POST"]),
    *routes(f"{_V2}/group_memberships/destroy_many", memberships_destroy_many, ["DELETE"]),
    *routes(f"{_V2}/group_memberships/{{id:int}}", delete_membership, ["DELETE"]),
]
