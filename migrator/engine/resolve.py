"""Reference resolution: source ids -> *target* ids through the id map, before each submit.

Per docs/ARCHITECTURE.md "Engine -> loader contract": requester (end user, else agent), submitter,
assignee, group key, organisation, comment authors; names and e-mails go into ``extra`` so a
loader can fall back on them. Records are copied, never mutated, so a digest taken before
resolution stays valid.

Memory stays flat: the id maps of the plan's records (fields, agents, groups, memberships: a
team's worth) are read whole; those of staged records (organisations, end users, tickets: as
many as the account has) are read for the ids a page of records names (:meth:`Resolver.prefetch`)
and kept in a bounded cache.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

from migrator.models import Entity, replace_record
from migrator.state import StateStore

__all__ = ["Resolver", "Person"]

USERS_KEPT = 20_000  # staged end users kept for the names and e-mails of their tickets
# Staged entities: their id maps grow with the account, so they are never read whole.
LARGE = frozenset({Entity.ORGANIZATIONS, Entity.END_USERS, Entity.TICKETS})


class _ReadThrough:
    """Values by source id (``None``: there is none), read on demand many at once by ``read``
    (ids -> found values) and kept in a bounded cache; or given whole (``known``, never read
    again). Safe to share between threads (verify's): a full cache is replaced, never cleared
    under a reader."""

    def __init__(self, read: Callable[[list[str]], dict[str, Any]], *, limit: int,
                 known: dict[str, Any] | None = None):
        self.read, self.limit = read, limit
        self.whole = known is not None
        self._known: dict[str, Any] = dict(known) if known is not None else {}

    def get(self, sid: str) -> Any:
        known = self._known.get(sid, _MISSING)
        if known is not _MISSING or self.whole:
            return None if known is _MISSING else known
        return self._read([sid]).get(sid)

    def prefetch(self, sids: Iterable[Any]) -> None:
        """Read the values of ``sids`` not known yet, at once."""
        if not self.whole:
            known = self._known
            self._read([s for s in {str(s) for s in sids if s not in (None, "")}
                        if s not in known])

    def _read(self, missing: list[str]) -> dict[str, Any]:
        if not missing:
            return {}
        found = self.read(missing)
        known = self._known
        if len(known) + len(missing) > self.limit:  # bounded: what is dropped is read again
            known = self._known = {}
        for sid in missing:
            known[sid] = found.get(sid)
        return found


def _id_map(state: StateStore, entity: Entity, *, limit: int = 50_000) -> _ReadThrough:
    """Source id -> target id of one entity: whole for the plan's few records, read for the
    ids asked (one query per 500) for the staged ones."""
    if entity not in LARGE:
        return _ReadThrough(lambda ids: {}, limit=limit, known=state.target_ids(entity))
    return _ReadThrough(lambda ids: state.target_ids(entity, ids), limit=limit)


_MISSING = object()


@dataclasses.dataclass(frozen=True)
class Person:
    """Who a source user id is, and their id in the target if they have one."""

    kind: str  # agent | end_user | unknown
    target_id: str | None
    name: str | None = None
    email: str | None = None


_UNKNOWN = Person("unknown", None)


class Resolver:
    """Translates references of canonical records to target ids."""

    def __init__(self, state: StateStore, plan: Any):
        self.state = state
        self._maps: dict[Entity, _ReadThrough] = {}
        self._agents = {str(a.id): a for a in state.iter_staged(Entity.AGENTS)}
        self._agents.update({str(a.id): a for a in getattr(plan, "agents", [])})
        # staged end users by id (None: not one), for the names and e-mails loaders fall back on
        self._users = _ReadThrough(lambda ids: state.get_staged_many(Entity.END_USERS, ids),
                                   limit=USERS_KEPT)
        self.field_keys: dict[str, str] = {}  # plan field key -> the target's own field key
        # (source id, prefer) -> Person: a requester is met on each of their tickets and
        # comments; dropped when an id map is reloaded (a target id may have appeared)
        self._people: dict[tuple[str, str], Person] = {}

    def learn_fields(self, plan: Any, existing: Iterable[Any]) -> None:
        """Map the plan's field keys to the keys the target gave its fields.

        A target may name a field differently from what was asked (Freshdesk appends a numeric
        suffix, reference §5.4; Zendesk keys fields by id), and a later process must still
        address the fields an earlier one created: so the id map decides, not connector memory.
        """
        ids = self.state.target_ids(Entity.TICKET_FIELDS)
        by_target = {str(f.id): str(f.key) for f in existing}
        for f in getattr(plan, "ticket_fields", []):
            key = by_target.get(ids.get(str(f.id), ""))
            if key:
                self.field_keys[str(f.key)] = key

    def refresh(self, entities: Iterable[Entity]) -> None:
        """Reload the id map of ``entities`` (after an earlier step created records)."""
        for e in entities:
            self._maps[e] = _id_map(self.state, e)
        self._people.clear()

    def _map(self, entity: Entity) -> _ReadThrough:
        if entity not in self._maps:
            self.refresh([entity])
        return self._maps[entity]

    def tid(self, entity: Entity, source_id: Any) -> str | None:
        """The target id of a source record, if it exists in the target."""
        if source_id in (None, ""):
            return None
        return self._map(entity).get(str(source_id))

    def prefetch(self, entity: Entity, records: Iterable[Any]) -> None:
        """Read at once the ids a page of ``entity`` records refers to (one query per 500,
        not one per record)."""
        orgs: set[Any] = set()
        people: set[Any] = set()
        tickets: set[Any] = set()
        for r in records:
            if entity is Entity.TICKETS:
                orgs.add(r.organization_id)
                people.update((r.requester_id, r.submitter_id))
                people.update(c.author_id for c in r.comments)
            elif entity is Entity.END_USERS:
                orgs.add(r.organization_id)
            elif entity is Entity.TIME_ENTRIES:
                tickets.add(r.ticket_id)
        for e, ids in ((Entity.ORGANIZATIONS, orgs), (Entity.END_USERS, people),
                       (Entity.TICKETS, tickets)):
            if ids:
                self._map(e).prefetch(ids)
        if people:  # and who they are, for the names and e-mails the loaders fall back on
            self._users.prefetch(p for p in people if str(p) not in self._agents)

    def person(self, source_id: Any, prefer: str = "end_user") -> Person:
        """A user id that may name an end user or an agent (``prefer`` decides collisions)."""
        if source_id in (None, ""):
            return _UNKNOWN
        sid = str(source_id)
        hit = self._people.get((sid, prefer))
        if hit is not None:
            return hit
        found = _UNKNOWN
        order = ("end_user", "agent") if prefer == "end_user" else ("agent", "end_user")
        for kind in order:
            rec = self._agents.get(sid) if kind == "agent" else self._users.get(sid)
            if rec is not None:
                entity = Entity.AGENTS if kind == "agent" else Entity.END_USERS
                found = Person(kind, self.tid(entity, sid), rec.name, rec.email)
                break
        if len(self._people) > 20_000:  # bounded: an account's end users are many
            self._people.clear()
        self._people[(sid, prefer)] = found
        return found

    # -- per entity ------------------------------------------------------------------------
    def resolve(self, entity: Entity, record: Any) -> tuple[Any, str | None]:
        """A copy of ``record`` with target ids, or (record, reason) when it cannot be sent."""
        fn = getattr(self, f"_resolve_{entity.value}", None)
        return fn(record) if fn else (record, None)

    def _resolve_end_users(self, u: Any) -> tuple[Any, str | None]:
        return replace_record(u, organization_id=self.tid(Entity.ORGANIZATIONS,
                                                               u.organization_id)), None

    def _resolve_agents(self, a: Any) -> tuple[Any, str | None]:
        groups = [g for g in (self.tid(Entity.GROUPS, k) for k in a.group_ids) if g]
        return replace_record(a, group_ids=groups, extra=dict(a.extra)), None

    def _resolve_groups(self, g: Any) -> tuple[Any, str | None]:
        return replace_record(g, escalate_to=self.tid(Entity.AGENTS, g.escalate_to)), None

    def _resolve_memberships(self, m: Any) -> tuple[Any, str | None]:
        agent, group = self.tid(Entity.AGENTS, m.agent_id), self.tid(Entity.GROUPS, m.group_id)
        if agent is None:
            return m, f"agent {m.agent_id} has no target id (it was skipped or failed)"
        if group is None:
            return m, f"group {m.group_id!r} has no target id (it was skipped or failed)"
        return replace_record(m, agent_id=agent, group_id=group), None

    def _resolve_tickets(self, t: Any) -> tuple[Any, str | None]:
        req = self.person(t.requester_id)
        extra = {**t.extra, "requester_email": req.email, "requester_name": req.name,
                 "requester_kind": req.kind}
        comments = [self._comment(c) for c in t.comments]
        fields = {self.field_keys.get(k, k): v for k, v in t.custom_fields.items()}
        return replace_record(
            t, requester_id=req.target_id, extra=extra, comments=comments, custom_fields=fields,
            submitter_id=self.person(t.submitter_id).target_id,
            assignee_id=self.tid(Entity.AGENTS, t.assignee_id),
            group_id=self.tid(Entity.GROUPS, t.group_id),
            organization_id=self.tid(Entity.ORGANIZATIONS, t.organization_id)), None

    def _resolve_time_entries(self, e: Any) -> tuple[Any, str | None]:
        ticket = self.tid(Entity.TICKETS, e.ticket_id)
        if ticket is None:
            return e, f"ticket {e.ticket_id} has no target id (it was not migrated, or failed)"
        agent = self.tid(Entity.AGENTS, e.agent_id)
        note = e.note
        if e.agent_id and agent is None:  # said on the entry, not silently re-attributed
            note = "\n".join(filter(None, (note, f"Logged in the source by agent #{e.agent_id}, "
                                                  "who was not migrated")))
        return replace_record(e, ticket_id=ticket, agent_id=agent, note=note), None

    def _comment(self, c: Any) -> Any:
        # Freshdesk agents and contacts have separate id spaces: trust the exporter's hint.
        hint = str(c.extra.get("author_kind") or c.extra.get("author_type") or "").lower()
        who = self.person(c.author_id, prefer="agent" if hint == "agent" else "end_user")
        extra = {**c.extra, "author_name": who.name, "author_email": who.email,
                 "author_kind": who.kind, "source_author_id": c.author_id}
        return replace_record(c, author_id=who.target_id, extra=extra)
