"""Agents and roles (reference §4.3, §4.4, §5.4).

``GET /agents`` leaves out ``role_ids``, ``group_ids`` and ``skill_ids`` (gotcha 11): only the
detail view has them. Creating an agent consumes a paid seat (``knobs.agent_seats``; past it a
403 ``max_agents_reached``); name, phone, mobile and job title cannot be changed by update;
deleting an agent turns it back into a contact. Roles are read-only in the API.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import freshdesk_api as A
from .freshdesk_render import SCOPE_CODES

__all__ = ["routes", "sync_groups"]

LIST_DROP = ("role_ids", "group_ids", "skill_ids")
CREATE_FIELDS = {"email", "name", "ticket_scope", "role_ids", "group_ids", "skill_ids",
                 "occasional", "signature", "agent_type", "language", "time_zone", "focus_mode"}
FROZEN = {"name", "phone", "mobile", "job_title"}  # not updatable through the API
UPDATE_FIELDS = CREATE_FIELDS - FROZEN


def _agent(request: Request) -> dict:
    a = request.app.state.store.agents.get(request.path_params["aid"])
    if a is None:
        raise A.not_found()
    return a


async def list_agents(request: Request) -> Response:
    """``GET /api/v2/agents``: alphabetical, filterable by email and state."""
    store, q = request.app.state.store, request.query_params
    p = A.paging(request)
    rows = list(store.agents.values())
    if q.get("email"):
        rows = [a for a in rows if (a["contact"]["email"] or "").lower() == q["email"].lower()]
    if q.get("state") in ("fulltime", "occasional"):
        rows = [a for a in rows if a["occasional"] == (q["state"] == "occasional")]
    rows.sort(key=lambda a: ((a["contact"]["name"] or "").lower(), a["id"]))
    return A.page_response(request, rows, p, lambda a: A.public(a, LIST_DROP))


async def me(request: Request) -> Response:
    """``GET /api/v2/agents/me``: the owner of the API key (the first administrator)."""
    store = request.app.state.store
    return A.json_response(A.public(store.agents[request.app.state.me]))


async def show_agent(request: Request) -> Response:
    """``GET /api/v2/agents/{id}``."""
    return A.json_response(A.public(_agent(request)))


def _check(store, data: dict[str, Any], allowed: set[str], creating: bool) -> list[dict]:
    errs = [{"field": k, "message": "Unexpected/invalid field in request",
             "code": "invalid_field"} for k in data if k not in allowed]
    if creating:
        for key in ("email", "ticket_scope"):
            if data.get(key) in (None, ""):
                errs.append({"field": key, "message": "Mandatory attribute missing",
                             "code": "missing_field"})
        if not data.get("role_ids"):  # at least one role matching the agent type
            errs.append({"field": "role_ids", "message": "It should contain elements of type "
                         "Positive Integer only and at least 1 role", "code": "missing_field"})
    if "ticket_scope" in data and data["ticket_scope"] not in SCOPE_CODES.values():
        errs.append({"field": "ticket_scope", "message": "It should be one of these values: "
                     "'1,2,3'", "code": "invalid_value"})
    for key, table in (("role_ids", store.roles), ("group_ids", store.groups)):
        ids = data.get(key)
        if ids is None:
            continue
        if not isinstance(ids, list):
            errs.append({"field": key, "message": "It should be a/an Array",
                         "code": "datatype_mismatch"})
            continue
        missing = [i for i in ids if i not in table]
        if missing:
            errs.append({"field": key, "message": f"There are no records matching the ids: "
                         f"'{','.join(str(m) for m in missing)}'", "code": "invalid_value"})
    return errs


def sync_groups(store, aid: int, group_ids: list[int]) -> None:
    """Keep ``group.agent_ids`` in step with an agent's ``group_ids``."""
    for gid, g in store.groups.items():
        if gid in group_ids and aid not in g["agent_ids"]:
            g["agent_ids"].append(aid)
        elif gid not in group_ids and aid in g["agent_ids"]:
            g["agent_ids"].remove(aid)


def _seat_check(request: Request) -> None:
    seats = request.app.state.knobs.agent_seats
    if seats is not None and len(request.app.state.store.agents) >= seats:
        raise A.ApiError(403, {"code": "max_agents_reached",
                               "message": "The account has reached the maximum number of "
                                          "agents. Please buy more agent seats."})


async def create_agent(request: Request) -> Response:
    """``POST /api/v2/agents``."""
    store = request.app.state.store
    data, _ = await A.read_payload(request)
    errs = _check(store, data, CREATE_FIELDS, creating=True)
    if errs:
        raise A.errors(errs)
    owner = store.contact_by_email(data["email"])
    if owner is not None:
        raise A.invalid("email", "It should be a unique value", "duplicate_value", status=409,
                        additional_info={"user_id": owner})
    _seat_check(request)
    now = A.now_iso()
    aid = store.new_id("users")
    store.agents[aid] = _new_agent(aid, data, now)
    store.remember(aid)
    sync_groups(store, aid, store.agents[aid]["group_ids"])
    return A.created(request, f"agents/{aid}", A.public(store.agents[aid]))


def _new_agent(aid: int, data: dict[str, Any], now: str,
               contact: dict[str, Any] | None = None) -> dict[str, Any]:
    contact = contact or {}
    return {"available": False, "occasional": bool(data.get("occasional", False)),
            "signature": data.get("signature"), "id": aid,
            "ticket_scope": data.get("ticket_scope", 1),
            "type": {1: "support_agent", 2: "field_agent", 3: "collaborator"}.get(
                data.get("agent_type", 1), "support_agent"),
            "skill_ids": list(data.get("skill_ids") or []), "focus_mode": True,
            "role_ids": list(data.get("role_ids") or []),
            "group_ids": list(data.get("group_ids") or []),
            "created_at": now, "updated_at": now, "available_since": None,
            "last_active_at": None,
            "contact": {"active": False, "email": data.get("email") or contact.get("email"),
                        "job_title": contact.get("job_title"),
                        "language": data.get("language", "en"), "last_login_at": None,
                        "mobile": contact.get("mobile"),
                        "name": data.get("name") or contact.get("name")
                        or (data.get("email") or "").split("@")[0],
                        "phone": contact.get("phone"), "time_zone": data.get("time_zone"),
                        "created_at": contact.get("created_at", now), "updated_at": now}}


async def update_agent(request: Request) -> Response:
    """``PUT /api/v2/agents/{id}``: roles, groups, scope...; never the profile fields."""
    store = request.app.state.store
    agent = _agent(request)
    data, _ = await A.read_payload(request)
    errs = _check(store, data, UPDATE_FIELDS, creating=False)
    if errs:
        raise A.errors(errs)
    for key, value in data.items():
        if key in ("email", "language", "time_zone"):
            agent["contact"][key] = value
        elif key == "agent_type":
            agent["type"] = {1: "support_agent", 2: "field_agent", 3: "collaborator"}[value]
        else:
            agent[key] = value
    if "group_ids" in data:
        sync_groups(store, agent["id"], agent["group_ids"])
    agent["updated_at"] = A.now_iso()
    store.remember(agent["id"])
    return A.json_response(A.public(agent))


async def delete_agent(request: Request) -> Response:
    """``DELETE /api/v2/agents/{id}``: the agent becomes a contact again."""
    from .freshdesk_contacts import contact_from_agent
    store = request.app.state.store
    agent = _agent(request)
    sync_groups(store, agent["id"], [])
    del store.agents[agent["id"]]
    store.contacts[agent["id"]] = contact_from_agent(agent)
    return A.no_content()


async def list_roles(request: Request) -> Response:
    """``GET /api/v2/roles`` (not paginated: a small list)."""
    return A.json_response([A.public(r) for r in request.app.state.store.roles.values()])


async def show_role(request: Request) -> Response:
    """``GET /api/v2/roles/{id}``."""
    role = request.app.state.store.roles.get(request.path_params["rid"])
    if role is None:
        raise A.not_found()
    return A.json_response(A.public(role))


async def roles_read_only(request: Request) -> Response:
    """Roles cannot be created, changed or deleted through the API (gotcha 10)."""
    raise A.ApiError(405, {"code": "method_not_allowed", "message":
                           f"{request.method} method is not allowed. It should be GET"},
                     headers={"Allow": "GET"})


routes = [
    Route("/api/v2/agents", list_agents, methods=["GET"]),
    Route("/api/v2/agents", create_agent, methods=["POST"]),
    Route("/api/v2/agents/me", me, methods=["GET"]),
    Route("/api/v2/agents/{aid:int}", show_agent, methods=["GET"]),
    Route("/api/v2/agents/{aid:int}", update_agent, methods=["PUT"]),
    Route("/api/v2/agents/{aid:int}", delete_agent, methods=["DELETE"]),
    Route("/api/v2/roles", list_roles, methods=["GET"]),
    Route("/api/v2/roles", roles_read_only, methods=["POST", "PUT", "DELETE"]),
    Route("/api/v2/roles/{rid:int}", show_role, methods=["GET"]),
    Route("/api/v2/roles/{rid:int}", roles_read_only, methods=["POST", "PUT", "DELETE"]),
]
