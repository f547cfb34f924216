"""The in-memory Zendesk account: Zendesk-shaped JSON records rendered from a seeded Company.

Records are kept as the API returns them, plus private keys starting with ``_`` (deleted flags,
comment lists) that :func:`public` strips on the way out. One re-entrant lock guards everything;
the emulator is not meant to be fast, only faithful.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, Iterable

from migrator.models import Attachment, iso

from . import zendesk_render as R
from .seed import Company, attachment_bytes

__all__ = ["ZendeskStore", "public"]


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the store's private ``_`` keys."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _value(field: str, value: str | None) -> Any:
    # Id fields are numbers in the API; statuses and priorities stay words.
    return int(value) if value and field.endswith("_id") and value.isdigit() else value


class ZendeskStore:
    """Everything one emulated Zendesk account holds."""

    def __init__(self, company: Company | None):
        self.lock = threading.RLock()
        self.company = company or Company()
        self.cdn_base: str | None = None  # set by the runner when attachments get their own host
        self.requests = 0
        # Custom ticket statuses: off (``GET /custom_statuses`` answers 404) unless the runner
        # turns the feature on with the account's own statuses (see enable_custom_statuses).
        self.custom_status_feature: Any = None
        self.reset()

    # -- building -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Throw away every change and render the company again."""
        with self.lock:
            c = self.company
            self.created_at = c.now or iso(time.time())
            self._next: dict[str, int] = {}
            self.users: dict[int, dict] = {}
            self.organizations = {int(o.id): R.render_org(o) for o in c.organizations}
            self.groups = {int(g.id): R.render_group(g) for g in c.groups}
            self.memberships = {int(m.id): R.render_membership(m, self.created_at)
                                for m in c.memberships}
            self.ticket_fields = self._render_fields()
            self.custom_roles = self._render_roles()
            self.custom_statuses = ({} if self.custom_status_feature is None else
                                    R.render_custom_statuses(self.created_at,
                                                             self.custom_status_feature))
            self.blobs: dict[str, tuple[Attachment | bytes, str, str]] = {}
            self.uploads: dict[str, dict] = {}
            self._render_users()
            self._render_tickets()

    def enable_custom_statuses(self, own: Any = R.CUSTOM_STATUSES) -> None:
        """Turn the custom ticket statuses feature on, with the account's own ``(label,
        category[, active])`` statuses besides the category defaults; renders the account again
        (so call it before any write): every ticket then has its category's default status."""
        with self.lock:
            self.custom_status_feature = tuple(own)
            self.reset()

    def default_status_id(self, status: str | None) -> int | None:
        """The default custom status of a ticket status (closed tickets: solved's), or None
        without the feature."""
        category = "solved" if status == "closed" else status
        return next((s["id"] for s in self.custom_statuses.values()
                     if s["default"] and s["status_category"] == category), None)

    def _render_fields(self) -> dict[int, dict]:
        fields = R.render_system_fields(self.created_at)
        fields += [R.render_field(f, i + 10, self.created_at)
                   for i, f in enumerate(self.company.ticket_fields)]
        return {f["id"]: f for f in fields}

    def _render_roles(self) -> dict[int, dict]:
        members = Counter(rid for a in self.company.agents for rid in a.role_ids)
        return {int(r.id): R.render_role(r, members[r.id], self.created_at)
                for r in self.company.roles if not r.builtin}

    def _render_users(self) -> None:
        defaults = {m.agent_id: m.group_id for m in self.company.memberships if m.default}
        for a in self.company.agents:
            self.users[int(a.id)] = R.render_agent(a, defaults.get(a.id))
        for u in self.company.end_users:
            self.users[int(u.id)] = R.render_user(u)

    def _render_tickets(self) -> None:
        c = self.company
        ratings = {r.ticket_id: R.render_rating(r) for r in c.satisfaction_ratings}
        self.ratings = {r["id"]: r for r in ratings.values()}
        by_ticket = c.comments_by_ticket()
        self.tickets: dict[int, dict] = {}
        self.comments: dict[int, list[dict]] = {}
        self.audits: list[dict] = []
        events_by_ticket: dict[str, list] = {}
        for e in c.ticket_events:
            events_by_ticket.setdefault(e.ticket_id, []).append(e)
        for t in c.tickets:
            comments = by_ticket.get(t.id, [])
            rating = ratings.get(t.id)
            short = ({"score": rating["score"], "id": rating["id"], "comment": rating["comment"]}
                     if rating else None)
            record = R.render_ticket(t, comments[0].body if comments else "", short,
                                     self.default_status_id(t.status))
            record["_deleted"] = t.deleted
            record["_deleted_at"] = t.updated_at if t.deleted else None
            self.tickets[int(t.id)] = record
            self._add_history(record, comments, events_by_ticket.get(t.id, []))
        self.audits.sort(key=lambda a: (a["timestamp"], a["id"]))

    def _add_history(self, ticket: dict, comments: list, events: list) -> None:
        """Group field changes and comments into audits (one per time and author)."""
        keyed: dict[tuple[str, str | None], dict] = {}
        for e in events:
            audit = self._audit(keyed, ticket, e.created_at, e.author_id)
            kind = "Create" if e.previous is None else "Change"
            child = {"id": int(e.id), "via": "Web form", "via_reference_id": None, "type": kind,
                     "event_type": kind, "field_name": e.field, e.field: _value(e.field, e.value)}
            if kind == "Change":
                child["previous_value"] = _value(e.field, e.previous)
            audit["child_events"].append(child)
        rendered = []
        for cm in comments:
            audit = self._audit(keyed, ticket, cm.created_at, cm.author_id)
            comment = R.render_comment(cm, audit["id"])
            rendered.append(comment)
            audit["_comments"].append(comment)
            for att in cm.attachments:
                self.blobs[R.attachment_token(att.id)] = (att, att.content_type or "",
                                                          att.file_name)
        self.comments[ticket["id"]] = rendered

    def _audit(self, keyed: dict, ticket: dict, at: str | None, author: str | None) -> dict:
        key = (at or "", author)
        if key not in keyed:
            audit = {"id": self.next_id("audit", 300_000_000), "ticket_id": ticket["id"],
                     "timestamp": R.epoch(at), "created_at": at,
                     "updater_id": int(author) if author else -1,
                     "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
                     "system": {}, "event_type": "Audit", "merged_ticket_ids": [],
                     "child_events": [], "_comments": []}
            keyed[key] = audit
            self.audits.append(audit)
        return keyed[key]

    # -- ids and lookups ----------------------------------------------------------------------
    def next_id(self, kind: str, start: int) -> int:
        """A fresh id for ``kind`` (counters start at ``start`` or above existing ids)."""
        with self.lock:
            self._next[kind] = max(self._next.get(kind, start), start) + 1
            return self._next[kind] - 1

    def new_id(self, kind: str, existing: Iterable[int], floor: int) -> int:
        """A fresh id above every ``existing`` one (used for records created through the API)."""
        if kind not in self._next:
            self._next[kind] = max([floor, *existing]) + 1
        return self.next_id(kind, floor)

    def blob(self, token: str) -> tuple[bytes, str, str] | None:
        """Bytes, content type and file name of an attachment token."""
        entry = self.blobs.get(token)
        if entry is None:
            return None
        content, ctype, name = entry
        if isinstance(content, Attachment):
            return attachment_bytes(content), ctype, name
        return content, ctype, name

    def find_user(self, email: str | None = None, external_id: str | None = None) -> dict | None:
        """A user by e-mail (case-insensitive) or external id (case-insensitive, as Zendesk)."""
        for user in self.users.values():
            if email and (user.get("email") or "").lower() == email.lower():
                return user
            if external_id and (user.get("external_id") or "").lower() == external_id.lower():
                return user
        return None

    def counts(self) -> dict[str, int]:
        """Records per entity, as the control endpoint reports them."""
        with self.lock:
            users = list(self.users.values())
            live = [t for t in self.tickets.values() if not t["_deleted"]]
            return {"users": len(users),
                    "agents": sum(u["role"] in ("agent", "admin") for u in users),
                    "end_users": sum(u["role"] == "end-user" for u in users),
                    "organizations": len(self.organizations),
                    # deleting a group is a soft delete: counted apart, like tickets
                    "groups": sum(not g["deleted"] for g in self.groups.values()),
                    "deleted_groups": sum(bool(g["deleted"]) for g in self.groups.values()),
                    "group_memberships": len(self.memberships),
                    "ticket_fields": len(self.ticket_fields),
                    "custom_roles": len(self.custom_roles), "tickets": len(live),
                    "deleted_tickets": len(self.tickets) - len(live),
                    "comments": sum(len(v) for v in self.comments.values()),
                    "satisfaction_ratings": len(self.ratings), "uploads": len(self.uploads)}
