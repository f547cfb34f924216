"""Target housekeeping: what exists, what an earlier attempt created, fetch, rollback deletes."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from connectors.zendesk import parse
from connectors.zendesk.comments import fetch_ticket_comments
from connectors.zendesk.paging import iter_all, list_all
from migrator.errors import RecordError
from migrator.http import HttpClient
from migrator.models import Entity

if TYPE_CHECKING:
    from connectors.zendesk.jobs import JobQueue
    from connectors.zendesk.lookups import Lookups

__all__ = ["reason_of", "existing", "reconcile", "fetch", "delete"]

log = logging.getLogger("connectors.zendesk")

_SHOW = {"tickets": ("/api/v2/tickets/{}", "ticket", parse.parse_ticket),
         "end_users": ("/api/v2/users/{}", "user", parse.parse_user),
         "agents": ("/api/v2/users/{}", "user", parse.parse_user),
         "organizations": ("/api/v2/organizations/{}", "organization", parse.parse_organization),
         "groups": ("/api/v2/groups/{}", "group", parse.parse_group)}
_DESTROY_MANY = {"end_users": "/api/v2/users/destroy_many",
                 "agents": "/api/v2/users/destroy_many",
                 "organizations": "/api/v2/organizations/destroy_many",
                 "memberships": "/api/v2/group_memberships/destroy_many"}
_DELETE_ONE = {"groups": "/api/v2/groups/{}", "ticket_fields": "/api/v2/ticket_fields/{}"}


def reason_of(exc: RecordError) -> str:
    """Zendesk's reason for a refused record, from the 422 body when there is one (§5.5)."""
    body = getattr(exc, "body", None)
    if not isinstance(body, dict):
        return exc.message
    error = body.get("error")
    if isinstance(error, dict):  # newer style {"error": {"title", "message"}}
        return f"{error.get('title')}: {error.get('message')}"
    parts = [str(p) for p in (error, body.get("description")) if p]
    for field, problems in (body.get("details") or {}).items():
        for p in problems if isinstance(problems, list) else [problems]:
            text = p.get("description") if isinstance(p, dict) else str(p)
            code = f" ({p.get('error')})" if isinstance(p, dict) and p.get("error") else ""
            parts.append(f"{field}: {text}{code}")
    return f"HTTP {exc.status}: " + "; ".join(parts) if parts else exc.message


def existing(client: HttpClient, lookups: "Lookups", entity: Entity) -> Iterator[Any]:
    """Target records the engine may reuse (agents, groups, roles, ticket fields, orgs)."""
    if entity == Entity.AGENTS:
        roles = {str(v): k for k, v in lookups.custom_roles().items()}
        groups: dict[str, list[str]] = {}
        for (user, group) in lookups.memberships():
            groups.setdefault(user, []).append(group)
        users = list_all(client, "/api/v2/users", "users", params={"role[]": ["agent", "admin"]})
        return iter(parse.parse_agent(u, role_names=roles, group_ids=groups.get(str(u["id"]), []))
                    for u in users if parse.is_agent(u))
    if entity == Entity.ROLES:
        names = lookups.custom_roles()
        custom = [parse.parse_role({"id": i, "name": n}) for n, i in names.items()]
        return iter(parse.builtin_roles() + custom)
    if entity == Entity.GROUPS:
        return iter(parse.parse_group(g) for g in list_all(client, "/api/v2/groups", "groups")
                    if not g.get("deleted"))
    if entity == Entity.TICKET_FIELDS:
        seen = {int(f["id"]): f for f in lookups.fields().values()}
        return iter(f for f in map(parse.parse_ticket_field, seen.values()) if f is not None)
    if entity == Entity.ORGANIZATIONS:
        return map(parse.parse_organization,  # a page at a time: an account has many
                   iter_all(client, "/api/v2/organizations", "organizations"))
    return iter(())


def reconcile(client: HttpClient, entity: Entity | str, source_ids: Sequence[str]
              ) -> dict[str, str]:
    """Source id -> target id, found by the ``external_id`` the loader wrote."""
    entity = Entity(entity)
    ids = [str(s) for s in source_ids]
    if entity == Entity.TICKETS:
        # external_id is not unique on tickets (§5.7): the oldest match is the original.
        def one(sid: str) -> tuple[str, str | None]:
            """The oldest ticket carrying ``sid`` as external_id."""
            found = client.get_json("/api/v2/tickets", params={"external_id": sid})
            matches = sorted(int(t["id"]) for t in found.get("tickets") or []
                             if str(t.get("external_id")) == sid)
            return sid, str(matches[0]) if matches else None
        with ThreadPoolExecutor(max_workers=client.max_in_flight) as pool:
            return {s: t for s, t in pool.map(one, ids) if t}
    path = {Entity.END_USERS: ("/api/v2/users/show_many", "users"),
            Entity.AGENTS: ("/api/v2/users/show_many", "users"),
            Entity.ORGANIZATIONS: ("/api/v2/organizations/show_many", "organizations")}.get(entity)
    if path is None:
        return {}  # groups, memberships, fields: submit reuses them by name / pair
    out: dict[str, str] = {}
    for i in range(0, len(ids), 100):
        body = client.get_json(path[0], params={"external_ids": ",".join(ids[i:i + 100])})
        wanted = {s.lower(): s for s in ids[i:i + 100]}  # external_id is case-insensitive
        for rec in body.get(path[1]) or []:
            key = str(rec.get("external_id") or "").lower()
            if key in wanted:
                out[wanted[key]] = str(rec["id"])
    return out


def fetch(client: HttpClient, entity: Entity, target_id: str) -> Any | None:
    """One record as the target holds it; tickets come with their comments."""
    if entity.value not in _SHOW:
        return None
    path, key, parser = _SHOW[entity.value]
    response = client.request("GET", path.format(target_id), ok=(404,))
    if response.status_code == 404:
        return None
    record = parser(response.json()[key])
    if entity == Entity.TICKETS:
        record.comments = fetch_ticket_comments(client, str(target_id))
    return record


def delete(client: HttpClient, jobs: "JobQueue", entity: Entity, target_ids: Sequence[str]
           ) -> list[str]:
    """Delete records; ids already absent count as gone."""
    ids = [str(t) for t in target_ids]
    gone: list[str] = []
    if entity == Entity.TICKETS:
        for i in range(0, len(ids), 100):
            chunk = ids[i:i + 100]
            # Soft delete, then purge: only soft-deleted tickets can be destroyed (§5.6).
            _destroy_many(client, jobs, "/api/v2/tickets/destroy_many", chunk)
            _destroy_many(client, jobs, "/api/v2/deleted_tickets/destroy_many", chunk)
            gone += [t for t in chunk if _absent(client, f"/api/v2/tickets/{t}")]
        return gone
    if entity.value in _DESTROY_MANY:
        for i in range(0, len(ids), 100):
            chunk = ids[i:i + 100]
            failed = _destroy_many(client, jobs, _DESTROY_MANY[entity.value], chunk)
            gone += [t for t in chunk if t not in failed]
        return gone
    if entity.value in _DELETE_ONE:
        for t in ids:
            try:
                response = client.request("DELETE", _DELETE_ONE[entity.value].format(t),
                                          ok=(404,))
            except RecordError as exc:  # kept, and said: the rest of the rollback goes on
                log.warning("zendesk target: could not delete %s %s: %s", entity, t, exc.message)
                continue
            if response.status_code < 300 or response.status_code == 404:
                gone.append(t)
    return gone


def _destroy_many(client: HttpClient, jobs: "JobQueue", path: str, ids: list[str]) -> set[str]:
    """Run one bulk destroy job; the ids it reports as failed (not-found counts as done)."""
    try:
        job_id = jobs.submit("DELETE", path, params={"ids": ",".join(ids)})
    except RecordError as exc:
        if exc.status in (404, 422):
            return set()  # nothing (left) to delete
        raise
    job = jobs.wait(job_id)
    failed = set()
    for res in job.get("results") if isinstance(job.get("results"), list) else []:
        text = str(res.get("error") or "") + str(res.get("details") or "")
        if (res.get("success") is False or res.get("error")) and "notfound" not in \
                text.lower().replace(" ", ""):
            failed.add(str(res.get("id")))
    return failed


def _absent(client: HttpClient, path: str) -> bool:
    return client.request("GET", path, ok=(404,)).status_code == 404
