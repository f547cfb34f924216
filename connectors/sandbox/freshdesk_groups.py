"""Groups and ticket fields (reference §4.5, §4.6, §5.4).

``GET /groups`` rows have no ``agent_ids`` (only ``GET /groups/{id}`` does); names are unique;
``escalate_to`` must be an agent, ``unassigned_for`` one of the documented durations and
``auto_ticket_assign`` 0 or 1 on writes. Created custom ticket fields get a generated internal
name with a numeric suffix (``cf_issue_type_297457``), so a loader must read it back.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import freshdesk_api as A

__all__ = ["routes", "UNASSIGNED_FOR"]

UNASSIGNED_FOR = ("30m", "1h", "2h", "4h", "8h", "12h", "1d", "2d", "3d")
GROUP_FIELDS = {"name", "description", "agent_ids", "escalate_to", "unassigned_for",
                "auto_ticket_assign", "business_hour_id", "group_type"}
FIELD_TYPES = ("custom_text", "custom_paragraph", "custom_checkbox", "custom_number",
               "custom_decimal", "custom_date", "custom_dropdown")
FIELD_WRITE = {"label", "label_for_customers", "type", "choices", "position",
               "required_for_closure", "required_for_agents", "required_for_customers",
               "customers_can_edit", "displayed_to_customers", "description"}


def _group(request: Request) -> dict:
    g = request.app.state.store.groups.get(request.path_params["gid"])
    if g is None:
        raise A.not_found()
    return g


async def list_groups(request: Request) -> Response:
    """``GET /api/v2/groups``: no ``agent_ids`` in the rows."""
    p = A.paging(request)
    rows = sorted(request.app.state.store.groups.values(), key=lambda g: g["id"])
    return A.page_response(request, rows, p, lambda g: A.public(g, ("agent_ids",)))


async def show_group(request: Request) -> Response:
    """``GET /api/v2/groups/{id}``."""
    return A.json_response(A.public(_group(request)))


def _check_group(store, data: dict[str, Any], creating: bool, own: int | None) -> None:
    errs = [{"field": k, "message": "Unexpected/invalid field in request",
             "code": "invalid_field"} for k in data if k not in GROUP_FIELDS]
    if creating and not data.get("name"):
        errs.append({"field": "name", "message": "Mandatory attribute missing",
                     "code": "missing_field"})
    if "unassigned_for" in data and data["unassigned_for"] not in (None, *UNASSIGNED_FOR):
        errs.append({"field": "unassigned_for", "message": "It should be one of these values: "
                     f"'{','.join(UNASSIGNED_FOR)}'", "code": "invalid_value"})
    if "auto_ticket_assign" in data and data["auto_ticket_assign"] not in (0, 1, True, False):
        errs.append({"field": "auto_ticket_assign", "message": "It should be one of these "
                     "values: '0,1'", "code": "invalid_value"})
    esc = data.get("escalate_to")
    if esc is not None and esc not in store.agents:
        errs.append({"field": "escalate_to", "message": "There is no agent matching the given "
                     "escalate_to", "code": "invalid_value"})
    ids = data.get("agent_ids")
    if ids is not None:
        missing = [a for a in ids if a not in store.agents] if isinstance(ids, list) else ids
        if missing:
            errs.append({"field": "agent_ids", "message": "There are no records matching the "
                         f"ids: '{missing}'", "code": "invalid_value"})
    if errs:
        raise A.errors(errs)
    name = (data.get("name") or "").lower()
    if name and any(g["name"].lower() == name and gid != own
                    for gid, g in store.groups.items()):
        raise A.invalid("name", "It should be a unique value", "duplicate_value", status=409)


def _set_members(store, g: dict, agent_ids: list[int]) -> None:
    for aid, agent in store.agents.items():
        if aid in agent_ids and g["id"] not in agent["group_ids"]:
            agent["group_ids"].append(g["id"])
        elif aid not in agent_ids and g["id"] in agent["group_ids"]:
            agent["group_ids"].remove(g["id"])
    g["agent_ids"] = list(dict.fromkeys(agent_ids))


async def create_group(request: Request) -> Response:
    """``POST /api/v2/groups``."""
    store = request.app.state.store
    data, _ = await A.read_payload(request)
    _check_group(store, data, creating=True, own=None)
    now = A.now_iso()
    gid = store.new_id("groups")
    g = {"id": gid, "name": data["name"], "description": data.get("description"),
         "business_hour_id": data.get("business_hour_id"),
         "escalate_to": data.get("escalate_to"),
         "unassigned_for": data.get("unassigned_for", "30m"), "agent_ids": [],
         "auto_ticket_assign": int(data.get("auto_ticket_assign", 0)),
         "group_type": "support_agent_group", "created_at": now, "updated_at": now}
    store.groups[gid] = g
    _set_members(store, g, list(data.get("agent_ids") or []))
    return A.created(request, f"groups/{gid}", A.public(g))


async def update_group(request: Request) -> Response:
    """``PUT /api/v2/groups/{id}``; ``agent_ids: []`` removes every member."""
    store = request.app.state.store
    g = _group(request)
    data, _ = await A.read_payload(request)
    _check_group(store, data, creating=False, own=g["id"])
    for key, value in data.items():
        if key == "agent_ids":
            _set_members(store, g, list(value))
        elif key == "auto_ticket_assign":
            g[key] = int(value)
        else:
            g[key] = value
    g["updated_at"] = A.now_iso()
    return A.json_response(A.public(g))


async def delete_group(request: Request) -> Response:
    """``DELETE /api/v2/groups/{id}``: tickets of the group become unassigned to a group."""
    store = request.app.state.store
    g = _group(request)
    _set_members(store, g, [])
    del store.groups[g["id"]]
    for t in store.tickets.values():
        if t["group_id"] == g["id"]:
            t["group_id"] = None
    return A.no_content()


def _live_choices(store, field: dict) -> dict:
    """Group, agent and product fields list the account's current names -> ids."""
    out = A.public(field)
    if field["type"] == "default_group":
        out["choices"] = {g["name"]: g["id"] for g in store.groups.values()}
    elif field["type"] == "default_agent":
        out["choices"] = {a["contact"]["name"]: a["id"] for a in store.agents.values()}
    elif field["type"] == "default_product":
        out["choices"] = {p["name"]: p["id"] for p in store.products.values()}
    return out


async def list_fields(request: Request) -> Response:
    """``GET /api/v2/ticket_fields`` (and the admin twin), optionally ``?type=``."""
    store = request.app.state.store
    rows = sorted(store.ticket_fields.values(), key=lambda f: f["position"])
    wanted = request.query_params.get("type")
    return A.json_response([_live_choices(store, f) for f in rows
                            if not wanted or f["type"] == wanted])


def _field(request: Request) -> dict:
    f = request.app.state.store.ticket_fields.get(request.path_params["fid"])
    if f is None:
        raise A.not_found()
    return f


async def show_field(request: Request) -> Response:
    """``GET /api/v2/admin/ticket_fields/{id}``."""
    return A.json_response(A.public(_field(request)))


def _choices(data: dict[str, Any]) -> list[str] | None:
    raw = data.get("choices")
    if raw is None:
        return None
    # Admin writes take [{value, position}]; reads show the plain labels.
    items = sorted(raw, key=lambda c: c.get("position", 0)) if raw and isinstance(
        raw[0], dict) else raw
    return [c["value"] if isinstance(c, dict) else c for c in items]


async def create_field(request: Request) -> Response:
    """``POST /api/v2/admin/ticket_fields``: the name is generated from the label."""
    store = request.app.state.store
    data, _ = await A.read_payload(request)
    errs = [{"field": k, "message": "Unexpected/invalid field in request",
             "code": "invalid_field"} for k in data if k not in FIELD_WRITE]
    for key in ("label", "type"):
        if not data.get(key):
            errs.append({"field": key, "message": "Mandatory attribute missing",
                         "code": "missing_field"})
    if data.get("type") and data["type"] not in FIELD_TYPES:
        errs.append({"field": "type", "message": f"It should be one of these values: "
                     f"'{','.join(FIELD_TYPES)}'", "code": "invalid_value"})
    if data.get("type") == "custom_dropdown" and not data.get("choices"):
        errs.append({"field": "choices", "message": "Mandatory attribute missing",
                     "code": "missing_field"})
    if any(f["label"].lower() == str(data.get("label", "")).lower()
           for f in store.ticket_fields.values()):
        errs.append({"field": "label", "message": "It should be a unique value",
                     "code": "duplicate_value"})
    if errs:
        raise A.errors(errs)
    fid = store.new_id("fields")
    slug = re.sub(r"[^a-z0-9]+", "_", data["label"].lower()).strip("_") or "field"
    now = A.now_iso()
    f = {"id": fid, "name": f"cf_{slug}_{fid % 1_000_000}", "label": data["label"],
         "description": data.get("description"),
         "position": data.get("position", len(store.ticket_fields) + 1),
         "required_for_closure": bool(data.get("required_for_closure", False)),
         "required_for_agents": bool(data.get("required_for_agents", False)),
         "type": data["type"], "default": False,
         "customers_can_edit": bool(data.get("customers_can_edit", False)),
         "label_for_customers": data.get("label_for_customers", data["label"]),
         "required_for_customers": bool(data.get("required_for_customers", False)),
         "displayed_to_customers": bool(data.get("displayed_to_customers", False)),
         "created_at": now, "updated_at": now}
    if data["type"] == "custom_dropdown":
        f["choices"] = _choices(data)
    store.ticket_fields[fid] = f
    for t in store.tickets.values():
        t["custom_fields"].setdefault(f["name"], None)
    return A.created(request, f"admin/ticket_fields/{fid}", A.public(f))


async def update_field(request: Request) -> Response:
    """``PUT /api/v2/admin/ticket_fields/{id}`` (custom fields only)."""
    f = _field(request)
    data, _ = await A.read_payload(request)
    bad = [k for k in data if k not in FIELD_WRITE - {"type"}]
    if bad or f["default"]:
        raise A.invalid(bad[0] if bad else "id", "Unexpected/invalid field in request",
                        "invalid_field")
    for key, value in data.items():
        f[key] = _choices(data) if key == "choices" else value
    f["updated_at"] = A.now_iso()
    return A.json_response(A.public(f))


async def delete_field(request: Request) -> Response:
    """``DELETE /api/v2/admin/ticket_fields/{id}`` (custom fields only)."""
    store = request.app.state.store
    f = _field(request)
    if f["default"]:
        raise A.method_not_allowed("a default ticket field")
    del store.ticket_fields[f["id"]]
    for t in store.tickets.values():
        t["custom_fields"].pop(f["name"], None)
    return A.no_content()


routes = [
    Route("/api/v2/groups", list_groups, methods=["GET"]),
    Route("/api/v2/groups", create_group, methods=["POST"]),
    Route("/api/v2/groups/{gid:int}", show_group, methods=["GET"]),
    Route("/api/v2/groups/{gid:int}", update_group, methods=["PUT"]),
    Route("/api/v2/groups/{gid:int}", delete_group, methods=["DELETE"]),
    Route("/api/v2/ticket_fields", list_fields, methods=["GET"]),
    Route("/api/v2/admin/ticket_fields", list_fields, methods=["GET"]),
    Route("/api/v2/admin/ticket_fields", create_field, methods=["POST"]),
    Route("/api/v2/admin/ticket_fields/{fid:int}", show_field, methods=["GET"]),
    Route("/api/v2/admin/ticket_fields/{fid:int}", update_field, methods=["PUT"]),
    Route("/api/v2/admin/ticket_fields/{fid:int}", delete_field, methods=["DELETE"]),
]
