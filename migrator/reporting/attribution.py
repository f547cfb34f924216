"""Attribution of tickets and agents to the NEW structure (team, tier).

The report takes two plain callables so it does not depend on the mapping's internals:
``route(ticket) -> (team, tier)`` and ``placement(agent_id) -> (tier, team) | None``; with a
mapping they come from ``mappings.build_plan(...)``. Without one, :func:`source_attribution`
falls back to the source's own groups (and says so in the report).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from migrator.models import Agent, Group, Ticket

__all__ = ["Attribution", "tier_kind", "source_attribution", "UNROUTED", "UNPLACED", "LEFT"]

Route = Callable[[Ticket], "tuple[str, str]"]
Placement = Callable[[str], "tuple[str, str] | None"]

UNROUTED = "(unrouted)"
UNPLACED = "(unplaced)"
LEFT = "(left)"
ALL_TEAMS = "(all teams)"

# The five standard tiers of the mapping layer (issue 5), recognised by name so the report can
# show each role the KPIs its job is measured by. Any other tier gets the generic set.
_KIND_PATTERNS = (
    ("l1", re.compile(r"(^|[^a-z0-9])(l-?1|level[ -_]?1|tier[ -_]?1|first[ -_]line)", re.I)),
    ("l2", re.compile(r"(^|[^a-z0-9])(l-?2|level[ -_]?2|tier[ -_]?2|second[ -_]line|specialist)",
                      re.I)),
    ("engineer", re.compile(r"engineer|tse|technical|l-?3|level[ -_]?3", re.I)),
    ("lead", re.compile(r"lead", re.I)),
    ("manager", re.compile(r"manager|head", re.I)),
)


def tier_kind(tier: str) -> str:
    """Which standard role a tier is (l1, l2, engineer, lead, manager) or ``other``."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(tier or ""):
            return kind
    return "other"


@dataclass
class Attribution:
    """Where tickets and agents sit in the new structure."""

    route: Route
    placement: Placement
    agents: dict[str, Agent] = field(default_factory=dict)
    source: str = "mapping"  # "mapping" or "source groups" (the fallback)

    @classmethod
    def build(cls, route: Route, placement: Placement, agents: Iterable[Agent],
              source: str = "mapping") -> "Attribution":
        """Index the agents (a small set) and keep the two callables."""
        return cls(route, placement, {str(a.id): a for a in agents}, source)

    def ticket(self, ticket: Ticket) -> tuple[str, str]:
        """(team, tier) of a ticket; a routing failure becomes the unrouted bucket."""
        try:
            team, tier = self.route(ticket)
        except Exception:  # noqa: BLE001 - a rule that cannot read a record must not stop a report
            return UNROUTED, UNROUTED
        return str(team or UNROUTED), str(tier or UNROUTED)

    def tier_of_group(self, ticket: Ticket, group_id: str | None) -> str:
        """The tier the ticket would be routed to if it sat in ``group_id`` (for change events)."""
        return self.ticket(dataclasses.replace(ticket, group_id=group_id))[1]

    def agent(self, agent_id: str | None) -> tuple[str, str] | None:
        """(tier, team) of an agent, ``None`` when the plan does not place them."""
        if not agent_id:
            return None
        try:
            placed = self.placement(str(agent_id))
        except Exception:  # noqa: BLE001 - see ticket()
            return None
        if not placed:
            return None
        # The manager sits above the teams: the plan places them with no team.
        return str(placed[0]), str(placed[1]) if placed[1] is not None else ALL_TEAMS

    def is_agent(self, user_id: str | None) -> bool:
        """True when ``user_id`` is a staff member of the source."""
        return user_id is not None and str(user_id) in self.agents

    def has_left(self, agent_id: str) -> bool:
        """True when the agent is gone from the source or deactivated."""
        agent = self.agents.get(str(agent_id))
        return agent is None or not agent.active or agent.suspended


def source_attribution(agents: Iterable[Agent], groups: Iterable[Group],
                       memberships: Iterable = ()) -> Attribution:
    """Fallback without a mapping: team = source group name, tier = the agent's source role."""
    agents = list(agents)
    names = {str(g.id): g.name for g in groups}
    home: dict[str, str] = {}
    for m in memberships:
        home.setdefault(str(m.agent_id), names.get(str(m.group_id), str(m.group_id)))
    for a in agents:
        if a.group_ids:
            home.setdefault(str(a.id), names.get(str(a.group_ids[0]), str(a.group_ids[0])))
    roles = {str(a.id): a.role for a in agents}

    def route(ticket: Ticket) -> tuple[str, str]:
        team = names.get(str(ticket.group_id), UNROUTED) if ticket.group_id else UNROUTED
        return team, "all tiers"

    def placement(agent_id: str) -> tuple[str, str] | None:
        if agent_id not in roles:
            return None
        return "all tiers", home.get(agent_id, UNPLACED)

    return Attribution.build(route, placement, agents, source="source groups")
