"""Products, satisfaction ratings and time entries (reference §2.4, §4.6)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import freshdesk_api as A
from .freshdesk_render import hhmm

__all__ = ["routes"]

TIME_FIELDS = {"agent_id", "billable", "executed_at", "note", "start_time", "time_spent",
               "timer_running"}


async def list_products(request: Request) -> Response:
    """``GET /api/v2/products``."""
    p = A.paging(request)
    rows = sorted(request.app.state.store.products.values(), key=lambda x: x["id"])
    return A.page_response(request, rows, p, A.public)


async def show_product(request: Request) -> Response:
    """``GET /api/v2/products/{id}``."""
    product = request.app.state.store.products.get(request.path_params["pid"])
    if product is None:
        raise A.not_found()
    return A.json_response(A.public(product))


async def list_ratings(request: Request) -> Response:
    """``GET /api/v2/surveys/satisfaction_ratings`` with ``created_since`` and ``user_id``."""
    q = request.query_params
    p = A.paging(request)
    since = A.parse_time(q["created_since"], "created_since") if q.get("created_since") else None
    rows = [r for r in request.app.state.store.ratings.values()
            if (since is None or (r["created_at"] or "") >= since)
            and (not q.get("user_id") or str(r["user_id"]) == q["user_id"])]
    rows.sort(key=lambda r: r["id"])
    return A.page_response(request, rows, p, A.public)


def _ticket_id(request: Request) -> int:
    tid = request.path_params["tid"]
    if tid not in request.app.state.store.tickets:
        raise A.not_found()
    return tid


async def ticket_ratings(request: Request) -> Response:
    """``GET /api/v2/tickets/{id}/satisfaction_ratings``."""
    tid = _ticket_id(request)
    rows = [A.public(r) for r in request.app.state.store.ratings.values()
            if r["ticket_id"] == tid]
    return A.json_response(rows)


async def list_time_entries(request: Request) -> Response:
    """``GET /api/v2/time_entries`` (filters ``agent_id``, ``company_id``, ``executed_after``)."""
    q = request.query_params
    p = A.paging(request)
    rows = [e for e in request.app.state.store.time_entries.values()
            if (not q.get("agent_id") or str(e["agent_id"]) == q["agent_id"])
            and (not q.get("company_id") or str(e["company_id"]) == q["company_id"])
            and (not q.get("executed_after") or (e["executed_at"] or "") >= q["executed_after"])]
    rows.sort(key=lambda e: e["id"])
    return A.page_response(request, rows, p, A.public)


async def ticket_time_entries(request: Request) -> Response:
    """``GET /api/v2/tickets/{id}/time_entries``."""
    tid = _ticket_id(request)
    p = A.paging(request)
    rows = sorted((e for e in request.app.state.store.time_entries.values()
                   if e["ticket_id"] == tid), key=lambda e: e["id"])
    return A.page_response(request, rows, p, A.public)


async def create_time_entry(request: Request) -> Response:
    """``POST /api/v2/tickets/{id}/time_entries``: ``executed_at`` keeps the original date."""
    store = request.app.state.store
    tid = _ticket_id(request)
    data, _ = await A.read_payload(request)
    errs = [{"field": k, "message": "Unexpected/invalid field in request",
             "code": "invalid_field"} for k in data if k not in TIME_FIELDS]
    if data.get("agent_id") is not None and data["agent_id"] not in store.agents:
        errs.append({"field": "agent_id", "message": "There is no agent matching the given "
                     "agent_id", "code": "invalid_value"})
    spent = str(data.get("time_spent", "00:00"))
    if len(spent.split(":")) != 2 or not all(x.isdigit() for x in spent.split(":")):
        errs.append({"field": "time_spent", "message": "It should be in the 'hh:mm' format",
                     "code": "invalid_value"})
    if errs:
        raise A.errors(errs)
    now = A.now_iso()
    executed = A.parse_time(data["executed_at"], "executed_at") if data.get("executed_at") \
        else now
    hours, minutes = (int(x) for x in spent.split(":"))
    eid = store.new_id("time_entries")
    entry = {"id": eid, "agent_id": data.get("agent_id") or request.app.state.me,
             "ticket_id": tid, "company_id": store.tickets[tid]["company_id"],
             "billable": bool(data.get("billable", True)), "note": data.get("note", ""),
             "time_spent": hhmm(hours * 3600 + minutes * 60),
             "timer_running": bool(data.get("timer_running", False)),
             "start_time": data.get("start_time") or executed, "executed_at": executed,
             "created_at": now, "updated_at": now}
    store.time_entries[eid] = entry
    return A.json_response(A.public(entry), 201)


async def delete_time_entry(request: Request) -> Response:
    """``DELETE /api/v2/time_entries/{id}``."""
    if request.app.state.store.time_entries.pop(request.path_params["eid"], None) is None:
        raise A.not_found()
    return A.no_content()


routes = [
    Route("/api/v2/products", list_products, methods=["GET"]),
    Route("/api/v2/products/{pid:int}", show_product, methods=["GET"]),
    Route("/api/v2/surveys/satisfaction_ratings", list_ratings, methods=["GET"]),
    Route("/api/v2/tickets/{tid:int}/satisfaction_ratings", ticket_ratings, methods=["GET"]),
    Route("/api/v2/time_entries", list_time_entries, methods=["GET"]),
    Route("/api/v2/tickets/{tid:int}/time_entries", ticket_time_entries, methods=["GET"]),
    Route("/api/v2/tickets/{tid:int}/time_entries", create_time_entry, methods=["POST"]),
    Route("/api/v2/time_entries/{eid:int}", delete_time_entry, methods=["DELETE"]),
]
