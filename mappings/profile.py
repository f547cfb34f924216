"""One streaming pass over the staged tickets: routing counts, values seen, agent activity."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from migrator.models import Entity, Ticket, status_category

from mappings.directory import OPTION_TYPES, Directory
from mappings.placement import Activity
from mappings.router import DEFAULT_RULE, FieldResolver, Router
from mappings.schema import Mapping
from mappings.staged import StagedData
from mappings.values import UNMAPPED, Coverage, apply

__all__ = ["TicketProfile", "profile_tickets", "CLOSED_STATUSES"]

CLOSED_STATUSES = frozenset({"solved", "closed"})


@dataclass
class TicketProfile:
    """What one pass over the tickets found (counts only: tickets are never held)."""

    total: int = 0
    routed: Counter = field(default_factory=Counter)  # (team, tier) -> tickets
    routed_open: Counter = field(default_factory=Counter)
    rule_hits: Counter = field(default_factory=Counter)  # rule index (-1 default) -> tickets
    groups_seen: Counter = field(default_factory=Counter)  # source group name -> tickets
    groups_by_default: Counter = field(default_factory=Counter)
    coverage: Coverage = field(default_factory=Coverage)
    unlisted_fields: Counter = field(default_factory=Counter)  # source field key -> tickets
    activity: Activity = field(default_factory=Activity)
    open_by_assignee: Counter = field(default_factory=Counter)  # (agent id, team) -> tickets
    examples: dict[str, str] = field(default_factory=dict)  # "map:value" -> first ticket id
    # (team, tier, assignee id, open, deleted or spam) -> tickets: where tickets land after the
    # open-ticket policy is computed from this once agents are placed (no second pass)
    landing: Counter = field(default_factory=Counter)


def profile_tickets(m: Mapping, d: Directory, staged: StagedData,
                    target_type: str) -> TicketProfile:
    """Stream the tickets once and count everything the checks and the plan need.

    Kept in the state store for the same mapping and staging (:mod:`mappings.profile_cache`):
    a restarted run does not read every ticket again.
    """
    from mappings.profile_cache import cached
    return cached(m, staged, target_type, TicketProfile,
                  lambda: _profile(m, d, staged, target_type))


def _profile(m: Mapping, d: Directory, staged: StagedData, target_type: str) -> TicketProfile:
    router, fields = Router(m, d), FieldResolver(m, d, target_type)
    p = TicketProfile()
    hows: dict[tuple, str] = {}  # (map, type, value) -> how: status values repeat
    notes: Counter = Counter()  # (map, value, how) -> tickets, into p.coverage at the end
    for t in staged.iter(Entity.TICKETS):
        _count(p, t, router, fields, m, d, hows, notes)
    for (name, value, how), n in notes.items():
        p.coverage.add(name, value, how, n)
    return p


def _count(p: TicketProfile, t: Ticket, router: Router, fields: FieldResolver, m: Mapping,
           d: Directory, hows: dict, notes: Counter) -> None:
    p.total += 1
    index = router.rule_index(t)
    team, tier = router.destination(index)
    p.routed[(team, tier)] += 1
    p.rule_hits[index] += 1
    is_open = status_category(t) not in CLOSED_STATUSES
    if is_open:
        p.routed_open[(team, tier)] += 1
    group = d.group_name(t.group_id) or "(no group)"
    p.groups_seen[group] += 1
    if index == DEFAULT_RULE:
        p.groups_by_default[group] += 1
    p.activity.touch(t.assignee_id, t.updated_at or t.created_at)
    if t.assignee_id and is_open:
        p.open_by_assignee[(t.assignee_id, team)] += 1
    p.landing[(team, tier, t.assignee_id or None, is_open, bool(t.deleted or t.spam))] += 1
    for name in ("status", "priority", "type"):
        value = getattr(t, name)
        if value is not None:
            how = hows.get((name, type(value), value))
            if how is None:
                how = hows[(name, type(value), value)] = apply(getattr(m.values, name), value)[1]
            _note(p, notes, name, value, how, t.id)
    for key, value in sorted(t.custom_fields.items()):
        if value is None or value == "" or value == []:
            continue
        fm = fields.field_map(key)
        if fm is None:
            p.unlisted_fields[key] += 1
        elif not fm.drop:
            tf = d.fields.get(key)
            _, how = fields.map_value(key, value)
            # free text is counted as one bucket: per-value counts would grow with the tickets
            shown = value if tf is not None and tf.type in OPTION_TYPES else "(any value)"
            _note(p, notes, f"field:{d.field_title(key)}", shown, how, t.id)


def _note(p: TicketProfile, notes: Counter, name: str, value: object, how: str,
          ticket_id: str) -> None:
    # keyed by the label shown: 1 and True are one dict key but not one value
    notes[(name, Coverage.label(value), how)] += 1
    if how == UNMAPPED:
        p.examples.setdefault(f"{name}:{Coverage.label(value)}", ticket_id)
