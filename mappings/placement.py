"""Agents into tiers and teams: exclusions, the named roles (manager, leads, multi-role), rules."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from migrator.models import Agent

from mappings.directory import Directory
from mappings.schema import LEAD, MANAGER, AgentMatch, Mapping

__all__ = ["Activity", "Placements", "place_agents", "agent_matches"]

Place = tuple[str | None, str]  # (team, tier); team is None for the manager


@dataclass
class Activity:
    """What the staged tickets say about each agent (filled by one pass over tickets)."""

    assigned: Counter = field(default_factory=Counter)  # agent id -> tickets assigned
    last_active: dict[str, str] = field(default_factory=dict)  # agent id -> latest updated_at

    def touch(self, agent_id: str | None, when: str | None) -> None:
        """Record one ticket assigned to ``agent_id``."""
        if not agent_id:
            return
        self.assigned[agent_id] += 1
        if when and when > self.last_active.get(agent_id, ""):
            self.last_active[agent_id] = when


@dataclass
class Placements:
    """Where each kept agent goes (primary placement first), why, and who is left out."""

    places: dict[str, list[Place]] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)  # agent id -> reason

    def members(self, team: str | None, tier: str) -> list[str]:
        """Agent ids placed in ``tier`` of ``team``."""
        return sorted(a for a, ps in self.places.items() if (team, tier) in ps)


def _lower(items: list[str]) -> set[str]:
    return {i.lower() for i in items}


def agent_matches(when: AgentMatch, agent: Agent, d: Directory) -> bool:
    """Do all of ``when``'s conditions hold for ``agent``?"""
    groups = [d.group_name(g) or "" for g in agent.group_ids]
    location = [str(agent.extra.get("location") or ""), agent.time_zone or ""]
    checks = [(when.emails, [agent.email]), (when.source_roles, [agent.role]),
              (when.custom_roles, [agent.custom_role or ""]), (when.source_groups, groups),
              (when.tags, agent.tags), (when.locations, location)]
    return all(not wanted or _lower(wanted) & _lower(have) for wanted, have in checks)


def _exclusion(m: Mapping, agent: Agent, d: Directory, activity: Activity) -> str | None:
    ex = m.agents.exclude
    if agent.email.lower() in _lower(ex.emails):
        return "listed in agents.exclude.emails"
    broad = AgentMatch  # each list alone is a reason
    for name, values in (("source_roles", ex.source_roles), ("custom_roles", ex.custom_roles),
                         ("source_groups", ex.source_groups), ("tags", ex.tags)):
        if values and agent_matches(broad(**{name: values}), agent, d):
            return f"matches agents.exclude.{name}"
    if ex.inactive and (not agent.active or agent.suspended):
        return "inactive or suspended in the source"
    if ex.without_tickets and not activity.assigned.get(agent.id):
        return "no ticket assigned in the staged data"
    if ex.idle_since and activity.last_active.get(agent.id, "") < ex.idle_since:
        return f"no ticket activity since {ex.idle_since}"
    return None


def _named(m: Mapping) -> dict[str, list[tuple[Place, str]]]:
    """E-mail -> the roles the file names for that person (manager, lead, multi-role)."""
    named: dict[str, list[tuple[Place, str]]] = {}
    for email, places in m.agents.multi_role.items():
        named[email.lower()] = [((p.team, p.tier), "agents.multi_role") for p in places]
    if m.manager and m.manager.lower() not in named:
        named[m.manager.lower()] = [((None, MANAGER), "manager")]
    for key, team in m.teams.items():
        email = team.lead.lower()
        if email in {e.lower() for e in m.agents.multi_role}:
            continue
        named.setdefault(email, []).append(((key, LEAD), f"lead of {key}"))
    return named


def place_agents(m: Mapping, d: Directory, activity: Activity | None = None) -> Placements:
    """Place every source agent: named roles first, then rules (first match wins), then default."""
    activity = activity or Activity()
    named = _named(m)
    out = Placements()
    for agent in d.agents:
        roles = named.get(agent.email.lower())
        reason = _exclusion(m, agent, d, activity)
        if reason and (roles is None or reason.startswith("listed")):
            out.excluded[agent.id] = reason
            continue
        if roles:
            out.places[agent.id] = [p for p, _ in roles]
            out.why[agent.id] = "; ".join(sorted({w for _, w in roles}))
            continue
        _place_by_rules(m, agent, d, out)
    return out


def _place_by_rules(m: Mapping, agent: Agent, d: Directory, out: Placements) -> None:
    for i, rule in enumerate(m.agents.rules):
        if agent_matches(rule.when, agent, d):
            out.places[agent.id] = [(rule.team, rule.tier)]
            out.why[agent.id] = f"rule {i + 1}" + (f" ({rule.name})" if rule.name else "")
            return
    default = m.agents.default
    if default.exclude:
        out.excluded[agent.id] = "no rule matches and agents.default is exclude"
    else:
        out.places[agent.id] = [(default.team, default.tier or "")]
        out.why[agent.id] = "default"
