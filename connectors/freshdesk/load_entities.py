"""Loading the people and the structure: companies, contacts, agents, groups, memberships.

Each function turns one :class:`LoadItem` into one :class:`RecordOutcome`; a rejected record is
kept with Freshdesk's reason and the batch goes on. Creating requests go through
:meth:`EntityLoader.create`: never retried blindly; when the answer is lost the record is looked
up (company, group and field by name, contact and agent by e-mail, time entry by its marker)
and sent again only if it is not there.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, Sequence

import httpx

from migrator.diskmap import DiskMap
from migrator.errors import ConfigError, MigratorError, RecordError
from migrator.http import HttpClient
from migrator.writes import OnceClient, create_once
from migrator.models import (Agent, EndUser, Entity, Group, Membership, Organization, Outcome,
                             Role, TimeEntry)
from migrator.state import RecordOutcome

from connectors.base import Change, ChangeLog, LoadItem, RecentIds, TeamGroup
from connectors.freshdesk import parse as P
from connectors.freshdesk import render as R
from connectors.freshdesk.client import API, iter_pages
from connectors.freshdesk.dormant import DormantContacts
from connectors.freshdesk.load_tickets import record_error_reason

__all__ = ["EntityLoader"]

DELETE_PATHS = {Entity.TICKETS: "tickets", Entity.END_USERS: "contacts",
                Entity.ORGANIZATIONS: "companies", Entity.GROUPS: "groups",
                Entity.AGENTS: "agents", Entity.TIME_ENTRIES: "time_entries"}
# No "view a time entry" endpoint exists (only list, create, update, delete).
FETCH_PATHS = {**{e: p for e, p in DELETE_PATHS.items() if e is not Entity.TIME_ENTRIES},
               Entity.ROLES: "roles", Entity.PRODUCTS: "products"}
NOT_LOADED = {Entity.SATISFACTION_RATINGS: (
    "satisfaction ratings are not re-created: Freshdesk would date them today and count them in "
    "current CSAT reports; the score is kept in the ticket's description header")}
PARSERS = {Entity.END_USERS: P.parse_contact, Entity.ORGANIZATIONS: P.parse_company,
           Entity.GROUPS: P.parse_group, Entity.AGENTS: P.parse_agent, Entity.ROLES: P.parse_role,
           Entity.PRODUCTS: P.parse_product}


class EntityLoader:
    """The non-ticket half of the Freshdesk target."""

    def __init__(self, client: HttpClient, *, create_agents: bool,
                 once: HttpClient | None = None, dormant: DormantContacts | None = None):
        self.client = client
        self.dormant = dormant  # contacts deleted in the source, kept deleted between writes
        # Creating requests: sent once, looked up when their outcome is unknown (writes.py).
        self.writes = (OnceClient(once, sleep=lambda s: client._sleep(s))
                       if once is not None else None)
        self.create_agents = create_agents
        self._roles: dict[str, Role] | None = None
        self._companies: DiskMap | None = None  # name (lower case) -> id; many in an account
        self._companies_lock = threading.Lock()
        self._created: dict[Entity, RecentIds] = {e: RecentIds() for e in Entity}
        self._changes = ChangeLog()  # existing agents and groups changed here
        self._lock = threading.Lock()
        # A membership is a read-modify-write of the group's agent_ids: two batches in flight
        # adding to one group would each write their own list and lose the other's agent.
        self._group_locks = [threading.Lock() for _ in range(32)]

    # -- helpers ---------------------------------------------------------------------------
    def _group_lock(self, group_id: str) -> threading.Lock:
        return self._group_locks[hash(str(group_id)) % len(self._group_locks)]

    def _list(self, resource: str, params: dict[str, Any] | None = None) -> list[dict]:
        return list(self._rows(resource, params))

    def _rows(self, resource: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """The rows of a listing, a page at a time (never the whole listing at once)."""
        for page, _ in iter_pages(self.client, f"{API}/{resource}", params):
            yield from page

    def roles_by_id(self) -> dict[str, Role]:
        """Target roles, read once."""
        if self._roles is None:
            self._roles = {r.id: r for r in map(P.parse_role, self._list("roles"))}
        return self._roles

    def remember(self, entity: Entity, source_id: str, target_id: str) -> None:
        self._created[entity][source_id] = target_id

    def created_ids(self, entity: Entity, source_ids: Sequence[str]) -> dict[str, str]:
        """Source id -> target id of those of ``source_ids`` this process created lately."""
        return self._created[entity].pick(source_ids)

    def _changed(self, entity: Entity, target_id: str, before: dict[str, Any]) -> None:
        """Called *before* the write (see :class:`~connectors.base.ChangeLog`)."""
        self._changes.note(Change(entity, str(target_id), before))

    def watch_changes(self, sink: Callable[[list[Change]], None] | None) -> None:
        """Hand each change to ``sink`` before its write (``None``: queue for ``changes()``)."""
        self._changes.watch(sink)

    def changes(self) -> list[Change]:
        """Existing agents and groups changed since the last call, with what they had."""
        return self._changes.drain()

    def restore(self, entity: Entity, target_id: str, before: dict[str, Any]) -> None:
        """Put back what a reused agent (role, ticket scope) or group (escalation) had; a record
        deleted since has nothing to restore."""
        path = {Entity.AGENTS: "agents", Entity.GROUPS: "groups"}.get(entity)
        if path is None:
            raise MigratorError(f"Freshdesk target: cannot restore {entity.value} {target_id}")
        # An agent keeps at least one role and a scope (the API refuses none); a group's empty
        # escalation is put back as empty.
        body = {k: v for k, v in before.items() if entity is Entity.GROUPS or v not in (None, [])}
        if body:
            self.client.request("PUT", f"{API}/{path}/{target_id}", json=body, ok=(404,))

    def create(self, path: str, find: Callable[[], Any], **kw: Any) -> httpx.Response:
        """``POST path`` once; on a lost answer, ``find()`` the record before sending again."""
        if self.writes is None:
            return self.client.request("POST", path, **kw)
        return create_once(self.writes.request, "POST", path, find, **kw)

    def _named(self, resource: str, name: str, key: str = "name") -> dict | None:
        """The first row of a listing whose ``key`` is ``name`` (read until found)."""
        return next((row for row in self._rows(resource)
                     if str(row.get(key) or "").lower() == name.lower()), None)

    def _contact_like(self, user: EndUser) -> dict | None:
        """The contact a lost ``POST /contacts`` would have made (e-mail, phone or external id)."""
        body = R.render_contact(user)
        for key in ("email", "phone", "unique_external_id"):
            if body.get(key):
                rows = self.client.get_json(f"{API}/contacts", params={key: body[key]})
                return next((r for r in rows if str(r.get(key) or "").lower()
                             == str(body[key]).lower()), None)
        return None

    def _gone(self, path: str) -> bool:
        response = self.client.request("DELETE", path, ok=(404, 405))
        return response.status_code in (200, 204, 404) or response.status_code == 405

    def load_items(self, entity: Entity, items: list[LoadItem]) -> list[RecordOutcome]:
        """One outcome per item for the structural entities."""
        handler = {Entity.ORGANIZATIONS: self._company, Entity.END_USERS: self._contact,
                   Entity.AGENTS: self._agent, Entity.GROUPS: self._group,
                   Entity.MEMBERSHIPS: self._membership,
                   Entity.TIME_ENTRIES: self._time_entry}.get(entity)
        if handler is None:
            reason = NOT_LOADED.get(entity, f"Freshdesk target does not load {entity.value}")
            return [RecordOutcome(i.source_id, Outcome.SKIPPED, None, reason) for i in items]
        outcomes = []
        for item in items:
            try:
                outcomes.append(handler(item))
            except RecordError as exc:
                outcomes.append(RecordOutcome(item.source_id, Outcome.FAILED, None,
                                              record_error_reason(exc)))
        return outcomes

    def _created_outcome(self, entity: Entity, item: LoadItem, target_id: Any,
                         reason: str | None = None) -> RecordOutcome:
        self.remember(entity, item.source_id, str(target_id))
        return RecordOutcome(item.source_id, Outcome.CREATED, str(target_id), reason)

    # -- companies and contacts ------------------------------------------------------------
    def _company_ids(self) -> DiskMap:
        with self._companies_lock:
            if self._companies is None:
                self._companies = DiskMap((str(c["name"]).lower(), str(c["id"]))
                                          for c in self._rows("companies"))
            return self._companies

    def _company(self, item: LoadItem) -> RecordOutcome:
        org: Organization = item.record
        known = self._company_ids().get(org.name.lower())
        if known:
            return RecordOutcome(item.source_id, Outcome.REUSED, known)
        response = self.create(f"{API}/companies", lambda: self._named("companies", org.name),
                               json=R.render_company(org), ok=(409,))
        if response.status_code == 409:  # the name is taken since we listed: reuse it
            row = self._named("companies", org.name)
            if row is None:
                return RecordOutcome(item.source_id, Outcome.FAILED, None,
                                     f"Freshdesk reports a company named {org.name!r} exists but "
                                     f"does not list it: {response.text[:200]}")
            self._company_ids()[org.name.lower()] = str(row["id"])
            return RecordOutcome(item.source_id, Outcome.REUSED, str(row["id"]))
        data = response.json()
        self._company_ids()[org.name.lower()] = str(data["id"])
        return self._created_outcome(Entity.ORGANIZATIONS, item, data["id"])

    def _contact(self, item: LoadItem) -> RecordOutcome:
        user: EndUser = item.record
        body = R.render_contact(user)
        if user.blocked and not user.deleted:  # no API blocks a contact: tagged to find them
            body["tags"] = sorted({*(body.get("tags") or []), BLOCKED_TAG})
        response = self.create(f"{API}/contacts", lambda: self._contact_like(user),
                               json=body, ok=(409,))
        state = _source_state(user)
        if response.status_code == 409 and user.email:
            return self._conflict(item, user, response, state)
        if response.status_code == 409:
            return RecordOutcome(item.source_id, Outcome.FAILED, None,
                                 f"Freshdesk reports a conflicting contact: {response.text[:200]}")
        target_id = str(response.json()["id"])
        if user.deleted and self.dormant is not None:
            # Deleted as in the source; restored only while its tickets and notes are written.
            self.dormant.put_to_sleep(target_id)
        return self._created_outcome(Entity.END_USERS, item, target_id, _state_reason(user))

    def _conflict(self, item: LoadItem, user: EndUser, response: httpx.Response,
                  state: str | None) -> RecordOutcome:
        """An e-mail that already belongs to a user is a 409 (§5.4): reuse that user."""
        rows = self.client.get_json(f"{API}/contacts", params={"email": user.email})
        if rows:
            return RecordOutcome(item.source_id, Outcome.REUSED, str(rows[0]["id"]),
                                 f"{state} in the source; the existing contact is kept as "
                                 "it is" if state else None)
        agents = self.client.get_json(f"{API}/agents", params={"email": user.email})
        if agents:
            return RecordOutcome(item.source_id, Outcome.REUSED, str(agents[0]["id"]),
                                 "the e-mail belongs to an agent; tickets use the agent")
        # Lists leave deleted contacts out: one this target put to sleep is its own creation.
        gone = self.client.get_json(f"{API}/contacts", params={"email": user.email,
                                                                "state": "deleted"})
        if gone and self.dormant is not None and gone[0]["id"] in self.dormant:
            return self._created_outcome(Entity.END_USERS, item, gone[0]["id"],
                                         _state_reason(user))
        if gone:
            return RecordOutcome(item.source_id, Outcome.REUSED, str(gone[0]["id"]),
                                 "the e-mail belongs to a deleted contact, kept as it is")
        return RecordOutcome(item.source_id, Outcome.FAILED, None,
                             f"Freshdesk reports a conflicting contact: {response.text[:200]}")

    # -- agents ----------------------------------------------------------------------------
    def _role_id(self, name: str) -> str | None:
        for role in self.roles_by_id().values():
            if role.name.lower() == (name or "").lower():
                return role.id
        return None

    def _agent(self, item: LoadItem) -> RecordOutcome:
        agent: Agent = item.record
        role_id = self._role_id(agent.role)
        if role_id is None:
            names = ", ".join(sorted(r.name for r in self.roles_by_id().values()))
            return RecordOutcome(item.source_id, Outcome.FAILED, None, (
                f"role {agent.role!r} does not exist in Freshdesk and roles cannot be created "
                f"through the API: create it in Admin > Agents > Roles (existing: {names}), "
                "or map the tier to an existing role, then run migrate again"))
        body = R.render_agent(agent, int(role_id))
        found = self.client.get_json(f"{API}/agents", params={"email": agent.email})
        if found:
            return self._reused_agent(item, str(found[0]["id"]), body)
        if not self.create_agents:
            return RecordOutcome(item.source_id, Outcome.SKIPPED, None, (
                f"no Freshdesk agent with e-mail {agent.email}: agents are paid seats, so "
                "invite them in Freshdesk or set `create_agents: true` on the target"))
        try:
            data = self.create(f"{API}/agents", lambda: next(iter(self.client.get_json(
                f"{API}/agents", params={"email": agent.email})), None), json=body).json()
        except ConfigError as exc:  # 403 max_agents_reached: no seat left (§5.4)
            return RecordOutcome(item.source_id, Outcome.FAILED, None,
                                 f"{exc.message}; free or buy an agent seat, then run again")
        return self._created_outcome(Entity.AGENTS, item, data["id"])

    def _reused_agent(self, item: LoadItem, target: str, body: dict) -> RecordOutcome:
        """Set an existing agent's role and scope; what it had is said in the reason (the list
        omits role ids: one detail read), since a rollback never touches reused records."""
        update = {k: v for k, v in body.items() if k in ("role_ids", "ticket_scope")}
        before = self.client.get_json(f"{API}/agents/{target}")
        had = {k: before.get(k) for k in update}
        if had == update:
            return RecordOutcome(item.source_id, Outcome.REUSED, target,
                                 "matched by e-mail; it already had this role and ticket scope")
        self._changed(Entity.AGENTS, target, had)
        self.client.request("PUT", f"{API}/agents/{target}", json=update)
        roles = self.roles_by_id()
        names = ", ".join(roles[str(r)].name if str(r) in roles else str(r)
                          for r in before.get("role_ids") or [])
        return RecordOutcome(item.source_id, Outcome.REUSED, target, (
            f"matched by e-mail; role and ticket scope set (it had role(s) {names or 'none'}, "
            f"ticket scope {before.get('ticket_scope')}: a rollback restores them)"))

    # -- groups and memberships ------------------------------------------------------------
    def _group(self, item: LoadItem) -> RecordOutcome:
        group: Group = item.record
        body, warning = R.render_group(group)
        existing = next((g for g in self._list("groups")
                         if str(g.get("name", "")).lower() == group.name.lower()), None)
        if existing:
            settings = {k: v for k, v in body.items() if k in ("escalate_to", "unassigned_for")}
            had = {k: existing.get(k) for k in settings}
            if settings and had != settings:
                self._changed(Entity.GROUPS, existing["id"], had)
                self.client.request("PUT", f"{API}/groups/{existing['id']}", json=settings)
            return RecordOutcome(item.source_id, Outcome.REUSED, str(existing["id"]), warning)
        data = self.create(f"{API}/groups", lambda: self._named("groups", group.name),
                           json=body).json()
        return self._created_outcome(Entity.GROUPS, item, data["id"], warning)

    def _membership(self, item: LoadItem) -> RecordOutcome:
        with self._group_lock(item.record.group_id):
            return self._join_group(item)

    def _join_group(self, item: LoadItem) -> RecordOutcome:
        m: Membership = item.record
        group = self.client.get_json(f"{API}/groups/{m.group_id}")
        members = [str(a) for a in group.get("agent_ids") or []]
        target_id = f"{m.agent_id}@{m.group_id}"
        if m.agent_id in members:
            return RecordOutcome(item.source_id, Outcome.REUSED, target_id)
        ids = [int(a) if a.isdigit() else a for a in [*members, m.agent_id]]
        self.client.request("PUT", f"{API}/groups/{m.group_id}", json={"agent_ids": ids})
        return self._created_outcome(Entity.MEMBERSHIPS, item, target_id)

    def find_existing(self, entity: Entity, keys: Sequence[str]) -> dict[str, str]:
        """Lower-cased e-mail -> contact id, one ``GET /contacts?email=`` per key (recovery of
        an interrupted batch of contacts: the account's contacts are not listed whole)."""
        if entity is not Entity.END_USERS:
            return {}
        out = {}
        for email in keys:
            rows = self.client.get_json(f"{API}/contacts", params={"email": email})
            if rows:
                out[email] = str(rows[0]["id"])
        return out

    def team_structure(self) -> dict[str, TeamGroup]:
        """Every group with its members and escalation, read now (one detail call per group:
        the list has no ``agent_ids``, §4.5)."""
        out = {}
        for row in self._list("groups"):
            group = self.client.get_json(f"{API}/groups/{row['id']}")
            out[str(row["id"])] = TeamGroup(
                str(row["id"]), str(group.get("name") or ""),
                frozenset(str(a) for a in group.get("agent_ids") or []),
                str(group["escalate_to"]) if group.get("escalate_to") else None)
        return out

    # -- time entries ----------------------------------------------------------------------
    def _time_entry(self, item: LoadItem) -> RecordOutcome:
        """``POST /tickets/{id}/time_entries`` (ticket id already the target's), once: an entry
        whose note marker is on the ticket already is reused (a re-run or a recovery)."""
        entry: TimeEntry = item.record
        if not entry.ticket_id:
            return RecordOutcome(item.source_id, Outcome.SKIPPED, None,
                                 "its ticket was not migrated")
        path = f"{API}/tickets/{entry.ticket_id}/time_entries"

        def marked() -> dict | None:
            return next((row for row in self._list(path.removeprefix(f"{API}/"))
                         if entry.id in R.TIME_MARKER.findall(str(row.get("note") or ""))), None)

        row = marked()
        if row is not None:
            return RecordOutcome(item.source_id, Outcome.REUSED, str(row["id"]))
        data = self.create(path, marked, json=R.render_time_entry(entry)).json()
        reason = None if entry.agent_id else (
            "no agent of the target logged it: Freshdesk attributes it to the API user")
        return self._created_outcome(Entity.TIME_ENTRIES, item, data["id"], reason)

    # -- fetch and delete ------------------------------------------------------------------
    def fetch_other(self, entity: Entity, target_id: str) -> Any | None:
        """One non-ticket record as the target holds it."""
        if entity not in FETCH_PATHS:
            return None
        response = self.client.request("GET", f"{API}/{FETCH_PATHS[entity]}/{target_id}",
                                       ok=(404,))
        return None if response.status_code == 404 else PARSERS[entity](response.json())

    def delete_records(self, entity: Entity, target_ids: Sequence[str]) -> list[str]:
        """Rollback deletes: contacts soft then hard; memberships leave the group."""
        gone = []
        for tid in target_ids:
            if entity is Entity.MEMBERSHIPS:
                ok = self._leave_group(tid)
            elif entity is Entity.END_USERS:
                # For good, with the contact's tickets (trashed ones too, §4.6).
                self._gone(f"{API}/contacts/{tid}")  # soft first, should force be refused
                ok = self._gone(f"{API}/contacts/{tid}/hard_delete?force=true")
                if ok and self.dormant is not None:
                    self.dormant.forget(tid)
            elif entity is Entity.AGENTS:
                # Deleting an agent makes it a contact again (§5.4): that contact goes too.
                ok = self._gone(f"{API}/agents/{tid}")
                self._gone(f"{API}/contacts/{tid}/hard_delete?force=true")
            elif entity in DELETE_PATHS:
                ok = self._gone(f"{API}/{DELETE_PATHS[entity]}/{tid}")
            else:
                ok = False
            if ok:
                gone.append(tid)
        return gone

    def _leave_group(self, target_id: str) -> bool:
        agent_id, _, group_id = target_id.partition("@")
        with self._group_lock(group_id):
            return self._left_group(agent_id, group_id)

    def _left_group(self, agent_id: str, group_id: str) -> bool:
        response = self.client.request("GET", f"{API}/groups/{group_id}", ok=(404,))
        if response.status_code == 404:
            return True
        members = [a for a in response.json().get("agent_ids") or [] if str(a) != agent_id]
        self.client.request("PUT", f"{API}/groups/{group_id}", json={"agent_ids": members})
        return True


BLOCKED_TAG = "blocked-in-source"


def _state_reason(user: EndUser) -> str | None:
    """What of a blocked/deleted source contact the target holds, and what it cannot."""
    if user.deleted:
        also = (" (blocked too in the source: the API cannot block a contact)"
                if user.blocked else "")
        return ("deleted in the source; created, then deleted (soft) after writing it, so it "
                "sits in Freshdesk's deleted contacts" + also)
    if user.blocked:
        return (f"blocked in the source; created active and tagged {BLOCKED_TAG!r}: the API "
                "cannot block a contact, block it in Freshdesk (Contacts > filter by tag)")
    return None


def _source_state(user: EndUser) -> str | None:
    """``blocked``, ``deleted`` or both, as the source had the contact; None when active."""
    states = [name for name, flag in (("blocked", user.blocked), ("deleted", user.deleted))
              if flag]
    return " and ".join(states) or None
