"""What each target help desk can hold: role names, what exists already, what cannot be kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mappings.schema import Tier

if TYPE_CHECKING:
    from mappings.plan import RestructurePlan

__all__ = ["Existing", "target_role", "role_rows", "cannot_represent", "FRESHDESK_BUILTIN_ROLES"]

# Built into every Freshdesk account; roles are read-only in the API (freshdesk-api.md §4.4).
FRESHDESK_BUILTIN_ROLES = ("Account Administrator", "Administrator", "Supervisor", "Agent")
FRESHDESK_STATUSES = ("open", "pending", "solved", "closed")


@dataclass(frozen=True)
class Existing:
    """Names already present in the target, so the plan can say "reuse" instead of "create"."""

    groups: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)
    ticket_fields: frozenset[str] = field(default_factory=frozenset)  # keys or titles
    agent_emails: frozenset[str] = field(default_factory=frozenset)
    known: bool = False  # False: the target was not read; actions say "create or reuse"
    taken_at: str | None = None  # when the snapshot was taken (``migrator check``)
    statuses: frozenset[str] = field(default_factory=frozenset)  # custom statuses it has
    types: frozenset[str] = field(default_factory=frozenset)  # ticket types; empty: not read
    # lower-cased field key or title -> the option values the target field accepts
    field_options: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, **names: Any) -> "Existing":
        """From plain lists: ``Existing.of(groups=[...], roles=[...])``."""
        options = {str(k).lower(): frozenset(map(str, v))
                   for k, v in names.pop("field_options", {}).items()}
        taken_at = names.pop("taken_at", None)
        return cls(**{k: frozenset(str(v).lower() for v in vals) for k, vals in names.items()},
                   known=True, field_options=options, taken_at=taken_at)

    def action(self, kind: str, *names: str) -> str:
        """``reuse`` when one of ``names`` exists in the target, else ``create``."""
        have = getattr(self, kind)
        if any(n and n.lower() in have for n in names):
            return "reuse"
        return "create" if self.known else "create or reuse"


def target_role(tier: Tier, target_type: str) -> tuple[str, str | None, str | None]:
    """(role name, Zendesk custom role, ticket scope) of a tier in the target."""
    if target_type == "zendesk":
        z = tier.zendesk
        return (z.role if z else "agent"), (z.custom_role if z else None), None
    f = tier.freshdesk
    return (f.role if f else "Agent"), None, (f.ticket_scope if f else "group")


def role_rows(plan: "RestructurePlan") -> list[dict[str, Any]]:
    """One row per target role: which tiers use it, how many agents, and the action."""
    rows: dict[str, dict[str, Any]] = {}
    for agent in plan.agents:
        name = agent.custom_role or agent.role
        row = rows.setdefault(name, {"role": name, "tiers": set(), "agents": 0,
                                     "custom": agent.custom_role is not None})
        row["tiers"].add(agent.extra["tier"])
        row["agents"] += 1
    out = []
    for name in sorted(rows):
        row = rows[name]
        out.append({"role": name, "tiers": sorted(row["tiers"]), "agents": row["agents"],
                    "action": _role_action(plan, name, row["custom"])})
    return out


def _role_action(plan: "RestructurePlan", name: str, custom: bool) -> str:
    ex = plan.existing
    if plan.target_type == "zendesk":
        if not custom:
            return "built in"
        if ex.known:
            return "exists" if name.lower() in ex.roles else (
                "create in the UI (Admin Center > Team > Roles; custom roles need Zendesk "
                "Enterprise), else agents get the built-in role")
        return "create or reuse (custom roles need Zendesk Enterprise)"
    if ex.known:
        return "exists" if name.lower() in ex.roles else (
            "create in the UI (Admin > Agents > Roles, before migrating; roles are "
            "read-only in the API)")
    if name in FRESHDESK_BUILTIN_ROLES:
        return "built in"
    return "create it in the Freshdesk admin UI before migrating (roles are read-only in the API)"


def cannot_represent(plan: "RestructurePlan") -> list[str]:
    """Plain sentences: what the target will not keep, with counts from the staged data."""
    if plan.target_type == "freshdesk":
        return _freshdesk_losses(plan)
    return _zendesk_losses(plan)


def _freshdesk_losses(plan: "RestructurePlan") -> list[str]:
    out = ["Freshdesk cannot set created_at/updated_at of tickets and notes: the original dates "
           "go into custom date fields and the first note's header.",
           "Freshdesk roles are read-only in the API: every role in the table above must exist "
           "in the target before the run (mapped by name).",
           "Freshdesk agents are paid seats: existing agents are matched by e-mail; missing ones "
           "are skipped unless the target sets create_agents."]
    # statuses Freshdesk lacks (new, hold) are errors of the value maps (target_values)
    return out


def _zendesk_losses(plan: "RestructurePlan") -> list[str]:
    out = []
    if any(a.custom_role for a in plan.agents):
        out.append("Zendesk custom roles need the Enterprise plan; on other plans agents get "
                   "the built-in role (agent or admin) only.")
    if any(g.unassigned_for for g in plan.groups) or plan.groups:
        out.append("Zendesk groups have no escalation settings (escalate_to, unassigned_for): "
                   "the escalation path is listed in this plan and needs triggers or SLAs.")
    out.append("Zendesk ticket scope is set by the role, not per agent: the tiers' Freshdesk "
               "ticket_scope is not used.")
    return out
