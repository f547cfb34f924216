"""Read endpoints of the Zendesk emulator: users, roles, groups, memberships, organisations,
ticket fields, custom ticket statuses, tickets, comments, deleted tickets, CSAT, job statuses and
attachment downloads.

Incremental exports live in :mod:`zendesk_routes_export`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .zendesk_http import (ZendeskError, cbp, ids_param, not_found, paginate, respond, routes)
from .zendesk_store import public

__all__ = ["READ_ROUTES"]

_NO_CUSTOM_ROLES = {"team", "growth", "professional"}


def _store(request: Request):
    return request.app.state.store


def _one(request: Request, table: str, key: str) -> Response:
    store = _store(request)
    with store.lock:
        record = getattr(store, table).get(request.path_params["id"])
        if record is None or record.get("_deleted"):
            raise not_found()
        return respond(request, {key: public(record)})


# -- users ----------------------------------------------------------------------------------
async def list_users(request: Request) -> Response:
    """GET /users: CBP, filters ``role``/``role[]`` and ``external_id``."""
    store = _store(request)
    roles = request.query_params.getlist("role") + request.query_params.getlist("role[]")
    external = request.query_params.get("external_id")
    with store.lock:
        rows = [u for u in store.users.values() if not roles or u["role"] in roles]
        if external:
            rows = [u for u in rows if (u["external_id"] or "").lower() == external.lower()]
        return paginate(request, "users", rows)


async def show_user(request: Request) -> Response:
    """GET /users/{id}."""
    return _one(request, "users", "user")


async def me(request: Request) -> Response:
    """GET /users/me: the admin the credentials belong to."""
    store = _store(request)
    with store.lock:
        admin = next((u for u in store.users.values() if u["role"] == "admin"), None)
        user = public(admin) if admin else {"id": 1, "name": "Sandbox Admin", "role": "admin"}
    return respond(request, {"user": {**user, "email": "admin@sandbox.test"}})


async def show_many_users(request: Request) -> Response:
    """GET /users/show_many?ids= | external_ids= (≤100)."""
    store = _store(request)
    ids, externals = ids_param(request), ids_param(request, "external_ids")
    with store.lock:
        if externals:
            wanted = {e.lower() for e in externals}
            rows = [u for u in store.users.values() if (u["external_id"] or "").lower() in wanted]
        else:
            rows = [store.users[int(i)] for i in ids if i.isdigit() and int(i) in store.users]
        return respond(request, {"users": [public(u) for u in rows], "next_page": None,
                                 "previous_page": None, "count": len(rows)})


async def search_users(request: Request) -> Response:
    """GET /users/search?query=email:x | query=x | external_id=x."""
    store = _store(request)
    query = (request.query_params.get("query") or "").strip()
    external = request.query_params.get("external_id")
    with store.lock:
        if external:
            found = store.find_user(external_id=external)
            rows = [found] if found else []
        elif query.startswith("email:") or "@" in query:
            found = store.find_user(email=query.removeprefix("email:").strip('"'))
            rows = [found] if found else []
        else:
            rows = [u for u in store.users.values() if query.lower() in u["name"].lower()]
        rows = rows[:100]
        return respond(request, {"users": [public(u) for u in rows], "next_page": None,
                                 "previous_page": None, "count": len(rows)})


# -- structure ------------------------------------------------------------------------------
async def custom_roles(request: Request) -> Response:
    """GET /custom_roles: unpaginated; 403 on plans without custom roles (Enterprise only)."""
    knobs = request.app.state.knobs
    if (knobs.plan or "").lower() in _NO_CUSTOM_ROLES:
        raise ZendeskError(403, {"error": "Forbidden",
                                 "description": "You do not have access to this page. Please "
                                                "contact the account owner of this help desk "
                                                "for further help."})
    store = _store(request)
    with store.lock:
        rows = [public(r) for r in sorted(store.custom_roles.values(), key=lambda r: r["id"])]
    return respond(request, {"custom_roles": rows, "next_page": None, "previous_page": None,
                             "count": len(rows)})


async def custom_statuses(request: Request) -> Response:
    """GET /custom_statuses: unpaginated, filters ``status_categories``, ``active``, ``default``.

    An account without the custom ticket statuses feature answers 404 here. The stored sources
    do not show that answer (clients treat 403 and 404 alike as "none").
    """
    store = _store(request)
    if store.custom_status_feature is None:
        raise not_found()
    query = request.query_params
    categories = {c.strip() for c in query.get("status_categories", "").split(",") if c.strip()}
    with store.lock:
        rows = [public(s) for s in sorted(store.custom_statuses.values(), key=lambda s: s["id"])]
    rows = [s for s in rows if not categories or s["status_category"] in categories]
    for flag in ("active", "default"):
        if query.get(flag) in ("true", "false"):
            rows = [s for s in rows if s[flag] == (query[flag] == "true")]
    return respond(request, {"custom_statuses": rows})


async def list_groups(request: Request) -> Response:
    """GET /groups: deleted groups only with ``exclude_deleted=false``."""
    store = _store(request)
    keep_deleted = request.query_params.get("exclude_deleted", "true").lower() == "false"
    with store.lock:
        rows = [g for g in store.groups.values() if keep_deleted or not g["deleted"]]
        return paginate(request, "groups", rows)


async def show_group(request: Request) -> Response:
    """GET /groups/{id}."""
    return _one(request, "groups", "group")


async def list_memberships(request: Request) -> Response:
    """GET /group_memberships (CBP)."""
    store = _store(request)
    with store.lock:
        return paginate(request, "group_memberships", list(store.memberships.values()))


async def show_membership(request: Request) -> Response:
    """GET /group_memberships/{id}."""
    return _one(request, "memberships", "group_membership")


async def list_orgs(request: Request) -> Response:
    """GET /organizations (CBP)."""
    store = _store(request)
    with store.lock:
        return paginate(request, "organizations", list(store.organizations.values()))


async def show_org(request: Request) -> Response:
    """GET /organizations/{id}."""
    return _one(request, "organizations", "organization")


async def show_many_orgs(request: Request) -> Response:
    """GET /organizations/show_many?ids= | external_ids=."""
    store = _store(request)
    ids, externals = ids_param(request), {e.lower() for e in ids_param(request, "external_ids")}
    with store.lock:
        rows = [o for o in store.organizations.values()
                if str(o["id"]) in ids or (o["external_id"] or "").lower() in externals]
        return respond(request, {"organizations": [public(o) for o in rows], "next_page": None,
                                 "previous_page": None, "count": len(rows)})


async def list_fields(request: Request) -> Response:
    """GET /ticket_fields: whole list unless CBP is asked for."""
    store = _store(request)
    with store.lock:
        rows = list(store.ticket_fields.values())
        if any(k.startswith("page[") for k in request.query_params):
            return cbp(request, "ticket_fields", rows)
        rows.sort(key=lambda f: (f["position"], f["id"]))
        return respond(request, {"ticket_fields": [public(f) for f in rows], "next_page": None,
                                 "previous_page": None, "count": len(rows)})


async def show_field(request: Request) -> Response:
    """GET /ticket_fields/{id}."""
    return _one(request, "ticket_fields", "ticket_field")


# -- tickets --------------------------------------------------------------------------------
async def list_tickets(request: Request) -> Response:
    """GET /tickets (CBP; ``external_id`` filter returns every match: it is not unique)."""
    store = _store(request)
    external = request.query_params.get("external_id")
    with store.lock:
        rows = [t for t in store.tickets.values()
                if not t["_deleted"] and not t.get("_archived")]
        if external is not None:
            rows = [t for t in rows if t["external_id"] == external]
        return paginate(request, "tickets", rows)


async def show_ticket(request: Request) -> Response:
    """GET /tickets/{id} (404 once deleted)."""
    return _one(request, "tickets", "ticket")


async def show_many_tickets(request: Request) -> Response:
    """GET /tickets/show_many?ids= (≤100; unknown and deleted ids are left out)."""
    store = _store(request)
    ids = ids_param(request)
    with store.lock:
        rows = [store.tickets[int(i)] for i in ids
                if i.isdigit() and int(i) in store.tickets and not store.tickets[int(i)]["_deleted"]]
        return respond(request, {"tickets": [public(t) for t in rows], "next_page": None,
                                 "previous_page": None, "count": len(rows)})


async def ticket_comments(request: Request) -> Response:
    """GET /tickets/{id}/comments; inline images listed only with ``include_inline_images``."""
    store = _store(request)
    inline = request.query_params.get("include_inline_images", "false").lower() == "true"
    with store.lock:
        ticket = store.tickets.get(request.path_params["id"])
        if ticket is None:
            raise not_found()
        rows = []
        for comment in store.comments.get(ticket["id"], []):
            atts = [a for a in comment["attachments"] if inline or not a["inline"]]
            rows.append({**comment, "attachments": atts})
        return paginate(request, "comments", rows)


async def deleted_tickets(request: Request) -> Response:
    """GET /deleted_tickets."""
    store = _store(request)
    with store.lock:
        rows = [{"id": t["id"], "subject": t["subject"], "description": t["description"],
                 "actor": {"id": -1, "name": "System"}, "deleted_at": t["_deleted_at"],
                 "previous_state": t["status"]}
                for t in store.tickets.values() if t["_deleted"]]
        return paginate(request, "deleted_tickets", rows)


async def satisfaction_ratings(request: Request) -> Response:
    """GET /satisfaction_ratings (CBP; ``score`` filter)."""
    store = _store(request)
    score = request.query_params.get("score")
    with store.lock:
        rows = [r for r in store.ratings.values() if not score or r["score"] == score]
        return paginate(request, "satisfaction_ratings", rows)


# -- jobs and files -------------------------------------------------------------------------
async def show_job(request: Request) -> Response:
    """GET /job_statuses/{id}."""
    job = _store(request).jobs.get(request.path_params["id"])
    if job is None:
        raise not_found()
    return respond(request, {"job_status": job})


async def show_many_jobs(request: Request) -> Response:
    """GET /job_statuses/show_many?ids=a,b."""
    jobs = [_store(request).jobs.get(i) for i in ids_param(request)]
    return respond(request, {"job_statuses": [j for j in jobs if j]})


async def download(request: Request) -> Response:
    """GET /attachments/token/{token}/?name=: the file itself, no auth (as on Zendesk)."""
    found = _store(request).blob(request.path_params["token"])
    if found is None:
        return Response("Not Found", status_code=404, media_type="text/plain")
    data, ctype, name = found
    return Response(data, media_type=ctype or "application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


_V2 = "/api/v2"
READ_ROUTES = [
    *routes(f"{_V2}/users", list_users), *routes(f"{_V2}/users/me", me),
    *routes(f"{_V2}/users/show_many", show_many_users),
    *routes(f"{_V2}/users/search", search_users),
    *routes(f"{_V2}/users/{{id:int}}", show_user),
    *routes(f"{_V2}/custom_roles", custom_roles),
    *routes(f"{_V2}/custom_statuses", custom_statuses),
    *routes(f"{_V2}/groups", list_groups), *routes(f"{_V2}/groups/{{id:int}}", show_group),
    *routes(f"{_V2}/group_memberships", list_memberships),
    *routes(f"{_V2}/group_memberships/{{id:int}}", show_membership),
    *routes(f"{_V2}/organizations", list_orgs),
    *routes(f"{_V2}/organizations/show_many", show_many_orgs),
    *routes(f"{_V2}/organizations/{{id:int}}", show_org),
    *routes(f"{_V2}/ticket_fields", list_fields),
    *routes(f"{_V2}/ticket_fields/{{id:int}}", show_field),
    *routes(f"{_V2}/tickets", list_tickets),
    *routes(f"{_V2}/tickets/show_many", show_many_tickets),
    *routes(f"{_V2}/tickets/{{id:int}}", show_ticket),
    *routes(f"{_V2}/tickets/{{id:int}}/comments", ticket_comments),
    *routes(f"{_V2}/deleted_tickets", deleted_tickets),
    *routes(f"{_V2}/satisfaction_ratings", satisfaction_ratings),
    *routes(f"{_V2}/job_statuses/show_many", show_many_jobs),
    *routes(f"{_V2}/job_statuses/{{id}}", show_job),
]
