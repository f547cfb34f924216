"""The in-memory Freshdesk account: records as Freshdesk JSON, built from a seeded Company.

Agents and contacts are both *users* in Freshdesk and share one id space (an agent's id is its
user id); the API lists them apart. Agents who left the source company are rendered as contacts,
as Freshdesk turns a deleted agent back into a contact (reference §5.4). Attachment bytes are
kept (or produced lazily by the seed) per attachment id; URLs are signed per response.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

from migrator.models import Comment, EndUser, Ticket, iso

from . import freshdesk_render as R

__all__ = ["Blob", "FreshdeskStore", "build_store"]

BASES = {"users": 50_000_000_001, "companies": 60_000_000_001, "groups": 1_080_000_101,
         "roles": 1_080_000_001, "products": 1_080_000_701, "fields": 1_080_001_001,
         "tickets": 1, "conversations": 80_000_000_001, "attachments": 90_000_000_001,
         "ratings": 1_080_002_001, "time_entries": 1_080_003_001}


@dataclass
class Blob:
    """The bytes behind one attachment (``load`` defers seeded content until downloaded)."""

    name: str
    content_type: str
    size: int
    load: Callable[[], bytes]


@dataclass
class FreshdeskStore:
    """Every record of one emulated account, keyed by Freshdesk id."""

    roles: dict[int, dict] = field(default_factory=dict)
    agents: dict[int, dict] = field(default_factory=dict)
    contacts: dict[int, dict] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    companies: dict[int, dict] = field(default_factory=dict)
    groups: dict[int, dict] = field(default_factory=dict)
    products: dict[int, dict] = field(default_factory=dict)
    ticket_fields: dict[int, dict] = field(default_factory=dict)
    tickets: dict[int, dict] = field(default_factory=dict)
    conversations: dict[int, list[dict]] = field(default_factory=dict)
    ratings: dict[int, dict] = field(default_factory=dict)
    time_entries: dict[int, dict] = field(default_factory=dict)
    blobs: dict[int, Blob] = field(default_factory=dict)
    emails: list[dict] = field(default_factory=list)
    seat_limit: int | None = None
    _counters: dict[str, Any] = field(default_factory=dict)
    _ids: dict[tuple[str, str], int] = field(default_factory=dict)
    _indexes: dict[str, dict[str, int]] = field(default_factory=dict)

    def new_id(self, kind: str) -> int:
        """The next free id of ``kind`` (ids of a kind never repeat, as in Freshdesk)."""
        counter = self._counters.setdefault(kind, itertools.count(BASES[kind]))
        return next(counter)

    def map_id(self, kind: str, canonical: str) -> int:
        """The Freshdesk id for a canonical id (allocated on first sight)."""
        key = (kind, canonical)
        if key not in self._ids:
            self._ids[key] = self.new_id(kind)
        return self._ids[key]

    def ref(self, kind: str, canonical: str | None) -> int | None:
        """Resolve a canonical reference; ``agents``/``end_users`` only match that user kind."""
        if not canonical:
            return None
        if kind in ("agents", "end_users"):
            uid = self._ids.get(("users", canonical))
            table = self.agents if kind == "agents" else self.contacts
            return uid if uid in table else None
        return self._ids.get((kind, canonical))

    def user(self, uid: int | None) -> dict | None:
        """A contact, or an agent's contact part with its id."""
        if uid in self.contacts:
            return self.contacts[uid]
        if uid in self.agents:
            return {**self.agents[uid]["contact"], "id": uid}
        return None

    def contact_by_email(self, email: str) -> int | None:
        """The user (contact or agent) owning ``email`` (case-insensitive)."""
        return self.find_user("email", email)

    def find_user(self, key: str, value: str) -> int | None:
        """The user whose ``key`` (email, unique_external_id) is ``value``; indexed, because a
        bulk import checks duplicates on every create."""
        wanted = str(value).strip().lower()
        for attempt in (0, 1):
            index = self._indexes.get(key)
            if index is None or attempt:
                index = self._indexes[key] = self._build_index(key)
            uid = index.get(wanted)
            if uid is None:
                return None
            if self._value_of(uid, key) == wanted:
                return uid
        return None  # the index was stale and rebuilt: no owner

    def remember(self, uid: int) -> None:
        """Index a user just created or changed (call after every write to a user)."""
        for key, index in self._indexes.items():
            value = self._value_of(uid, key)
            if value:
                index[value] = uid

    def _value_of(self, uid: int, key: str) -> str | None:
        user = self.user(uid)
        value = user.get(key) if user else None
        return str(value).strip().lower() if value else None

    def _build_index(self, key: str) -> dict[str, int]:
        index: dict[str, int] = {}
        for uid in [*self.contacts, *self.agents]:
            value = self._value_of(uid, key)
            if value:
                index.setdefault(value, uid)
        return index

    def field_by_name(self) -> dict[str, dict]:
        """Ticket fields by internal name."""
        return {f["name"]: f for f in self.ticket_fields.values()}

    def attachment_bytes_of(self, ticket_id: int) -> int:
        """Bytes attached to a ticket and all its conversations (the 20 MB budget)."""
        total = sum(a["size"] for a in self.tickets[ticket_id]["attachments"])
        for conv in self.conversations.get(ticket_id, []):
            total += sum(a["size"] for a in conv["attachments"])
        return total

    def add_blob(self, name: str, content_type: str, data: bytes, at: str) -> dict:
        """Store uploaded bytes; returns the attachment metadata (URL filled per response)."""
        att_id = self.new_id("attachments")
        self.blobs[att_id] = Blob(name, content_type, len(data), lambda d=data: d)
        return {"id": att_id, "content_type": content_type, "size": len(data),
                "file_size": len(data), "name": name, "attachment_url": None,
                "created_at": at, "updated_at": at}

    def counts(self) -> dict[str, int]:
        """Records per entity (canonical names), for tests and demos."""
        live = [t for t in self.tickets.values() if not t.get("deleted") and not t["spam"]]
        convs = [c for cl in self.conversations.values() for c in cl]
        custom = [f for f in self.ticket_fields.values() if not f["default"]]
        return {
            "ticket_fields": len(custom), "roles": len(self.roles),
            "products": len(self.products), "organizations": len(self.companies),
            "agents": len(self.agents),
            "end_users": sum(1 for c in self.contacts.values() if not c.get("deleted")),
            "groups": len(self.groups),
            "memberships": sum(len(g["agent_ids"]) for g in self.groups.values()),
            "tickets": len(live),
            "deleted_tickets": sum(1 for t in self.tickets.values() if t.get("deleted")),
            "spam_tickets": sum(1 for t in self.tickets.values() if t["spam"]),
            "comments": len(convs) + len(self.tickets),
            "conversations": len(convs),
            "notes": sum(1 for c in convs if c["source"] == 2),
            "replies": sum(1 for c in convs if c["source"] == 0),
            "attachments": len(self.blobs),
            "satisfaction_ratings": len(self.ratings),
            "time_entries": len(self.time_entries), "emails_sent": len(self.emails),
        }


def build_store(company: Any | None, attachment_bytes: Callable[[Any], bytes] | None,
                seat_limit: int | None = None) -> FreshdeskStore:
    """Render a seeded Company (or nothing: a fresh account) into a store."""
    store = FreshdeskStore(seat_limit=seat_limit)
    _build_roles(store, company)
    for f in R.default_ticket_fields(lambda: store.new_id("fields")):
        store.ticket_fields[f["id"]] = f
    if company is None:
        return store
    _build_people(store, company)
    _build_groups(store, company)
    cf_names, cf_value = _build_fields(store, company)
    _build_tickets(store, company, cf_names, cf_value, attachment_bytes)
    for r in getattr(company, "satisfaction_ratings", []):
        body = R.render_rating(r, store.map_id("ratings", r.id), store.ref)
        if body and body["ticket_id"]:
            store.ratings[body["id"]] = body
    for e in getattr(company, "time_entries", []):
        tid = store.ref("tickets", e.ticket_id)
        company_id = store.tickets[tid]["company_id"] if tid in store.tickets else None
        body = R.render_time_entry(e, store.map_id("time_entries", e.id), store.ref, company_id)
        if body["ticket_id"]:
            store.time_entries[body["id"]] = body
    return store


def _build_roles(store: FreshdeskStore, company: Any | None) -> None:
    names = set()
    for name, desc, agent_type in R.BUILTIN_ROLES:
        rid = store.map_id("roles", name)
        store.roles[rid] = R.render_role(rid, name, desc, True, agent_type)
        names.add(name)
    for role in getattr(company, "roles", []) if company else []:
        name = R.ROLE_ALIASES.get(role.name.lower(), role.name)
        if name in names:
            store._ids[("roles", role.id)] = store.map_id("roles", name)
            continue
        rid = store.map_id("roles", role.id)
        store._ids[("roles", name)] = rid
        store.roles[rid] = R.render_role(rid, name, role.description, False)
        names.add(name)


def _build_people(store: FreshdeskStore, company: Any) -> None:
    for org in company.organizations:
        cid = store.map_id("companies", org.id)
        store.companies[cid] = R.render_company(org, cid)
    custom_names = {r.id: r.name for r in getattr(company, "roles", []) if not r.builtin}
    for agent in company.agents:
        uid = store.map_id("users", agent.id)
        if not agent.active or agent.suspended:  # left: a contact now (reference §5.4)
            store.contacts[uid] = _left_agent_contact(agent, uid)
            continue
        role_ids = [store.map_id("roles", n) for n in R.role_names_of(agent, custom_names)]
        store.agents[uid] = R.render_agent(agent, uid, [r for r in role_ids if r in store.roles],
                                           [])
    for user in company.end_users:
        uid = store.map_id("users", user.id)
        store.contacts[uid] = R.render_contact(user, uid, store.ref("companies",
                                                                    user.organization_id))
        if user.blocked:
            store.blocked.add(uid)


def _left_agent_contact(agent: Any, uid: int) -> dict:
    return R.render_contact(EndUser(id=agent.id, name=agent.name, email=agent.email,
                                    time_zone=agent.time_zone, created_at=agent.created_at,
                                    updated_at=agent.updated_at), uid, None)


def _build_groups(store: FreshdeskStore, company: Any) -> None:
    members: dict[str, list[int]] = {}
    for m in getattr(company, "memberships", []):
        aid = store.ref("agents", m.agent_id)
        if aid:
            members.setdefault(m.group_id, []).append(aid)
    for group in company.groups:
        if group.deleted:  # Freshdesk deletes groups outright
            continue
        gid = store.map_id("groups", group.id)
        store.groups[gid] = R.render_group(group, gid, members.get(group.id, []),
                                           store.ref("agents", group.escalate_to))
        for aid in store.groups[gid]["agent_ids"]:
            store.agents[aid]["group_ids"].append(gid)
    for product in getattr(company, "products", []):
        pid = store.map_id("products", product.id)
        store.products[pid] = R.render_product(product, pid)


def _build_fields(store: FreshdeskStore, company: Any):
    cf_names: dict[str, str] = {}
    labels: dict[str, dict[str, str]] = {}
    for pos, tf in enumerate(company.ticket_fields, start=12):
        name = R.field_name(tf.title, tf.key)
        while name in cf_names.values():
            name += "_1"
        cf_names[tf.key] = name
        labels[tf.key] = {o.value: o.label for o in tf.options}
        fid = store.map_id("fields", tf.id)
        store.ticket_fields[fid] = R.render_ticket_field(tf, fid, name, pos)
    types = {tf.key: tf.type for tf in company.ticket_fields}

    def cf_value(key: str, value: Any) -> Any:
        if value is None:
            return None
        if types.get(key) == "multiselect":
            values = value if isinstance(value, list) else [value]
            return ", ".join(labels[key].get(str(v), str(v)) for v in values)
        if labels.get(key):
            return labels[key].get(str(value), str(value))
        if types.get(key) == "date":
            return str(value)[:10]
        return value

    return cf_names, cf_value


def _build_tickets(store: FreshdeskStore, company: Any, cf_names: dict[str, str],
                   cf_value: Callable, attachment_bytes: Callable | None) -> None:
    by_ticket: dict[str, list[Comment]] = {}
    for c in company.comments:
        by_ticket.setdefault(c.ticket_id, []).append(c)
    for t in sorted(company.tickets, key=lambda t: (t.created_at or "", t.id)):
        tid = store.map_id("tickets", t.id)
        comments = sorted(by_ticket.get(t.id, []), key=lambda c: (c.created_at or "", c.id))
        first = comments[0] if comments else None
        store.tickets[tid] = R.render_ticket(t, tid, store.ref, cf_names, cf_value, first,
                                             (t.type or "").title() or None)
        if first:
            store.tickets[tid]["attachments"] = _attachments(store, first, attachment_bytes,
                                                             store.tickets[tid], "description")
        store.conversations[tid] = [_conversation(store, t, tid, c, attachment_bytes)
                                    for c in comments[1:]]


def _conversation(store: FreshdeskStore, t: Ticket, tid: int, c: Comment,
                  attachment_bytes: Callable | None) -> dict:
    uid = store.ref("agents", c.author_id) or store._ids.get(("users", c.author_id or ""))
    requester = store.user(store.tickets[tid]["requester_id"]) or {}
    conv = R.render_conversation(c, store.map_id("conversations", c.id), tid, uid,
                                 uid in store.agents, requester.get("email"))
    conv["attachments"] = _attachments(store, c, attachment_bytes, conv, "body")
    return conv


def _attachments(store: FreshdeskStore, c: Comment, attachment_bytes: Callable | None,
                 record: dict, body_key: str) -> list:
    """Register a comment's files; inline images live only in the HTML body (gotcha 5)."""
    out = []
    for att in c.attachments:
        aid = store.map_id("attachments", att.id)
        load = (lambda a=att: attachment_bytes(a)) if attachment_bytes else (lambda: b"")
        size = att.size if att.size is not None else len(load())
        store.blobs[aid] = Blob(att.file_name, att.content_type or "application/octet-stream",
                                size, load)
        if att.inline:
            record[body_key] = _inline(record[body_key], att.id, aid, att.file_name)
            continue
        out.append(R.render_attachment(att, aid, size, "", iso(c.created_at) or
                                       R.DEFAULT_EPOCH))
    return out


def _inline(body: str, source_id: str, aid: int, name: str) -> str:
    """Point an inline image at the sandbox's inline-attachment URL (host set per response)."""
    url = f"{R.INLINE_PREFIX}{aid}"
    if f"cid:{source_id}" in body:
        return body.replace(f"cid:{source_id}", url)
    return body + f'<img src="{url}" alt="{name}">'
