"""A snapshot of what the target already holds (groups, roles, ticket fields, values), as data.

``migrator check`` reads the target and stores the snapshot in the state store (meta key
:data:`META_KEY`); ``migrator plan`` and ``mapping validate`` read it back, so the plan stays
offline and deterministic: the same snapshot and inputs give the same bytes. This module is the
pure part: the records in, plain JSON out, and the :class:`~mappings.targets.Existing` view.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from mappings.targets import Existing

__all__ = ["TargetSnapshot", "META_KEY", "snapshot_of"]

META_KEY = "target:snapshot"


@dataclass(frozen=True)
class TargetSnapshot:
    """Names and values the target had when it was read (sorted, for stable output)."""

    target_type: str
    taken_at: str  # ISO UTC
    groups: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # role names (Zendesk: built-in + custom)
    ticket_fields: list[dict[str, Any]] = field(default_factory=list)  # key, title, options
    statuses: list[str] = field(default_factory=list)  # custom statuses the target has
    types: list[str] = field(default_factory=list)  # ticket types; empty: not read
    agent_emails: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> "TargetSnapshot | None":
        """Back from :meth:`to_json`; ``None`` for nothing stored or an unreadable value."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError):
            return None

    def existing(self) -> Existing:
        """The view the plan and the checks use."""
        options: dict[str, frozenset[str]] = {}
        for f in self.ticket_fields:
            values = frozenset(str(o) for o in f.get("options") or [])
            if values:
                for name in (f.get("key"), f.get("title")):
                    if name:
                        options[str(name).lower()] = values
        return Existing(groups=_low(self.groups), roles=_low(self.roles),
                        ticket_fields=_low([n for f in self.ticket_fields
                                            for n in (f.get("key"), f.get("title")) if n]),
                        agent_emails=_low(self.agent_emails), known=True,
                        taken_at=self.taken_at, statuses=_low(self.statuses),
                        types=_low(self.types), field_options=options)


def _low(names: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(n).lower() for n in names if n)


def snapshot_of(target_type: str, taken_at: str, *, groups: Iterable[Any] = (),
                roles: Iterable[Any] = (), ticket_fields: Iterable[Any] = (),
                statuses: Iterable[str] = (), types: Iterable[str] = (),
                agents: Iterable[Any] = ()) -> TargetSnapshot:
    """From canonical records (``Target.existing``): groups, roles, fields, agents by name."""
    fields = [{"key": f.key, "title": f.title, "options": sorted(o.value for o in f.options)}
              for f in ticket_fields]
    return TargetSnapshot(
        target_type=target_type, taken_at=taken_at,
        groups=sorted({g.name for g in groups if not getattr(g, "deleted", False)}),
        roles=sorted({r.name for r in roles}),
        ticket_fields=sorted(fields, key=lambda f: (f["key"], f["title"])),
        statuses=sorted(set(statuses)), types=sorted(set(types)),
        agent_emails=sorted({a.email.lower() for a in agents if a.email}))
