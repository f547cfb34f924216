"""Lookups over the small staged entities (agents, groups, fields, products), and the names
of organisations, which an account may have by the hundred thousand: looked up on demand
through the staged data (a bounded cache), with a digest of them all for plan fingerprints.

Built once per command; tickets are never held, only streamed past these tables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from migrator.models import Agent, Entity, Group, TicketField

from mappings.staged import StagedData

__all__ = ["Directory", "Names", "OPTION_TYPES", "field_value_keys"]

OPTION_TYPES = frozenset({"dropdown", "multiselect", "tagger", "checkbox"})


_UNREAD = object()


class Names:
    """Source id -> name of one staged entity, read on demand (``staged.get``) into a bounded
    cache, or held whole where the staged data cannot look one record up (tests, demos).
    ``digest`` covers every (id, name): what a plan fingerprint needs, without holding them."""

    def __init__(self, staged: StagedData | None = None, entity: Entity = Entity.ORGANIZATIONS,
                 *, limit: int = 20_000):
        self._lookup = getattr(staged, "get", None)
        self._entity, self._limit = entity, limit
        self._names: dict[str, str | None] = {}
        h, self._n = hashlib.sha1(), 0
        for rec in (staged.iter(entity) if staged is not None else ()):
            h.update(f"{rec.id}\0{rec.name}\n".encode())
            self._n += 1
            if self._lookup is None:
                self._names[str(rec.id)] = rec.name
        self.digest = h.hexdigest()

    def get(self, key: str, default: Any = None) -> Any:
        """The name of ``key``, else ``default`` (threads may share it: one read of the cache,
        which is replaced when full, never cleared under a reader)."""
        name = self._names.get(key, _UNREAD)
        if name is _UNREAD:
            name = None
            if self._lookup is not None:
                rec = self._lookup(self._entity, key)
                name = rec.name if rec is not None else None
                names = self._names if len(self._names) < self._limit else {}
                names[key] = name
                self._names = names
        return default if name is None else name

    def __len__(self) -> int:
        return self._n


@dataclass
class Directory:
    """Names and records by source id."""

    agents: list[Agent] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)
    fields: dict[str, TicketField] = field(default_factory=dict)  # by key
    products: dict[str, str] = field(default_factory=dict)
    organizations: Names = field(default_factory=Names)

    @classmethod
    def load(cls, staged: StagedData) -> "Directory":
        """Read the small entities once."""
        d = cls()
        d.agents = sorted(staged.iter(Entity.AGENTS), key=lambda a: (a.email.lower(), a.id))
        d.groups = {g.id: g for g in staged.iter(Entity.GROUPS)}
        d.fields = {f.key: f for f in staged.iter(Entity.TICKET_FIELDS)}
        d.products = {p.id: p.name for p in staged.iter(Entity.PRODUCTS)}
        d.organizations = Names(staged, Entity.ORGANIZATIONS)
        return d

    def agent_by_email(self) -> dict[str, Agent]:
        """Lower-cased e-mail -> agent."""
        return {a.email.lower(): a for a in self.agents}

    def group_name(self, group_id: str | None) -> str | None:
        """The source group's name (or its id when unknown)."""
        if group_id is None:
            return None
        group = self.groups.get(str(group_id))
        return group.name if group else str(group_id)

    def group_names(self) -> set[str]:
        """Names of the source groups, deleted ones included."""
        return {g.name for g in self.groups.values()}

    def field_title(self, key: str) -> str:
        """The title of a source field (its key when unknown)."""
        f = self.fields.get(key)
        return f.title if f else key

    def field_type(self, key: str) -> str:
        """The type of a source field (``text`` when unknown)."""
        f = self.fields.get(key)
        return f.type if f else "text"


def field_value_keys(value: Any, tf: TicketField | None) -> list[str]:
    """The words a map may use for a field value: the value itself and its option label."""
    if isinstance(value, bool):
        return [str(value).lower()]
    words = [str(value)]
    if tf is not None:
        words += [o.label for o in tf.options if o.value == str(value) and o.label != str(value)]
    return words
