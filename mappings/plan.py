"""``build_plan``: the mapping applied to the staged data -> the :class:`RestructurePlan`.

The plan is the contract with the migration engine (groups, agents, memberships, ticket fields,
``map_ticket``, ``route``, ``placement``; see docs/ARCHITECTURE.md) and the content of
``plan.md`` / ``plan.json`` for the client. Pure and deterministic: same inputs, same plan.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from migrator.models import Agent, Group, Membership, Ticket, TicketField

from mappings.checks import data_issues
from mappings.directory import Directory
from mappings.issues import Issue
from mappings.mapper import TicketMapper, group_key
from mappings.placement import Placements, place_agents
from mappings.profile import TicketProfile, profile_tickets
from mappings.schema import MANAGER, Mapping, resolved_tiers
from mappings.staged import StagedData
from mappings.target_values import target_value_issues
from mappings.targets import Existing, cannot_represent, role_rows, target_role
from mappings.validate import parse_step, place, raise_if_errors

__all__ = ["RestructurePlan", "build_plan", "check_mapping", "Existing", "TARGET_TYPES"]

TARGET_TYPES = ("zendesk", "freshdesk")


@dataclass
class RestructurePlan:
    """What the target will hold, and how each ticket is mapped."""

    target_type: str
    mapping: Mapping
    groups: list[Group]
    agents: list[Agent]
    memberships: list[Membership]
    ticket_fields: list[TicketField]
    placements: Placements
    profile: TicketProfile
    directory: Directory
    issues: list[Issue] = field(default_factory=list)  # warnings (errors raise)
    existing: Existing = field(default_factory=Existing)
    _mapper: TicketMapper | None = None

    def map_ticket(self, ticket: Ticket) -> Ticket:
        """The ticket as the target receives it (group key, assignee, values, tags)."""
        assert self._mapper is not None
        return self._mapper.map_ticket(ticket)

    def route(self, ticket: Ticket) -> tuple[str, str]:
        """The (team, tier) the routing rules send ``ticket`` to."""
        assert self._mapper is not None
        return self._mapper.router.route(ticket)

    def placement(self, agent_id: str) -> tuple[str, str | None] | None:
        """(tier, team) of an agent's primary placement; ``None`` when not migrated."""
        places = self.placements.places.get(str(agent_id))
        return (places[0][1], places[0][0]) if places else None

    @property
    def warnings(self) -> list[str]:
        """The warnings as readable lines."""
        file = self.mapping._source.file if self.mapping._source else "mapping"
        return [i.render(file) for i in self.issues]

    def cannot_represent(self) -> list[str]:
        """What the target cannot hold of this plan, said before the run."""
        return cannot_represent(self)

    def ticket_counts(self) -> dict[str, dict[str, int]]:
        """Per group key: tickets it will hold (open ones apart), and deleted/spam ones not moved.

        A ticket lands where the routing rules send it, unless the open-ticket policy keeps it
        with an assignee placed elsewhere; deleted and spam tickets are moved only on request
        (``options.include_deleted`` / ``include_spam``), so they are counted apart.
        """
        assert self._mapper is not None
        out = {g.id: {"tickets": 0, "open": 0, "not_moved": 0} for g in self.groups}
        for (team, tier, assignee, is_open, skip), n in self.profile.landing.items():
            stub = Ticket(id="", subject=None, status="open" if is_open else "closed",
                          assignee_id=assignee)
            key = group_key(*self._mapper.destination(stub, team, tier))
            row = out.setdefault(key, {"tickets": 0, "open": 0, "not_moved": 0})
            if skip:
                row["not_moved"] += n
            else:
                row["tickets"] += n
                row["open"] += n if is_open else 0
        return out

    def as_dict(self) -> dict[str, Any]:
        """Plain sorted data: the content of ``plan.json``."""
        from mappings.render import plan_dict
        return plan_dict(self)


def check_mapping(m: Mapping, staged: StagedData, target_type: str = "zendesk", *,
                  existing: Existing | None = None) -> list[Issue]:
    """All issues (errors and warnings) of ``m`` against the staged data (and the target's
    values: built in, or read by ``migrator check``), positioned."""
    d = Directory.load(staged)
    profile = profile_tickets(m, d, staged, target_type)
    pl = place_agents(m, d, profile.activity)
    issues = data_issues(m, d, profile, pl) + target_value_issues(m, d, profile, target_type,
                                                                  existing)
    return place(issues, m._source)


def build_plan(mapping: Mapping, staged: StagedData, target_type: str, *,
               existing: Existing | None = None) -> RestructurePlan:
    """Apply ``mapping`` to the staged data for a ``target_type`` target (one ticket pass)."""
    if target_type not in TARGET_TYPES:
        raise ValueError(f"target_type must be one of {TARGET_TYPES}, got {target_type!r}")
    d = Directory.load(staged)
    profile = profile_tickets(mapping, d, staged, target_type)
    pl = place_agents(mapping, d, profile.activity)
    issues = place(data_issues(mapping, d, profile, pl) + target_value_issues(
        mapping, d, profile, target_type, existing), mapping._source)
    raise_if_errors(mapping, issues)
    keys = _group_pairs(mapping, pl, profile)
    plan = RestructurePlan(
        target_type=target_type, mapping=mapping, groups=_groups(mapping, d, keys, target_type),
        agents=_agents(mapping, d, pl, target_type), memberships=_memberships(pl),
        ticket_fields=_fields(mapping, d, target_type), placements=pl, profile=profile,
        directory=d, issues=[i for i in issues if i.warning], existing=existing or Existing())
    plan._mapper = TicketMapper(mapping, d, pl, target_type, {group_key(*k) for k in keys})
    return plan


def _group_pairs(m: Mapping, pl: Placements, p: TicketProfile) -> list[tuple[str, str]]:
    pairs = {pair for places in pl.places.values() for pair in places if pair[0] is not None}
    pairs |= {(r.to.team, r.to.tier) for r in m.tickets.routing}
    pairs.add((m.tickets.default.team, m.tickets.default.tier))
    for key, team in m.teams.items():
        pairs |= {parse_step(s, key) for s in team.escalation if parse_step(s, key)[1] != MANAGER}
    order = {t: i for i, t in enumerate(m.tier_keys())}
    teams = {t: i for i, t in enumerate(m.teams)}
    return sorted(pairs, key=lambda x: (teams.get(x[0], 99), order.get(x[1], 99), x))


def group_name(m: Mapping, team: str, tier: str) -> str:
    """The target group name from the naming pattern."""
    return m.naming.group.format(team=m.team_name(team), tier=m.tier_name(tier),
                                 team_key=team, tier_key=tier)


# Freshdesk sets `unassigned_for` to 30m when a group is created without it (freshdesk-api.md §4.5)
FRESHDESK_UNASSIGNED_FOR = "30m"


def _groups(m: Mapping, d: Directory, pairs: list[tuple[str, str]],
            target_type: str) -> list[Group]:
    emails = d.agent_by_email()
    out = []
    for team, tier in pairs:
        t = m.teams[team]
        path = [parse_step(s, team) for s in t.escalation]
        nxt = path[path.index((team, tier)) + 1] if (team, tier) in path[:-1] else None
        lead = emails.get(t.lead.lower())
        out.append(Group(id=group_key(team, tier), name=group_name(m, team, tier),
                         description=f"{m.tier_name(tier)} of {m.team_name(team)}",
                         escalate_to=lead.id if lead else None,
                         unassigned_for=t.unassigned_for or (
                             FRESHDESK_UNASSIGNED_FOR if target_type == "freshdesk" else None),
                         extra={"team": team, "tier": tier,
                                "escalates_to_group": group_key(*nxt) if nxt else None}))
    return out


def _agents(m: Mapping, d: Directory, pl: Placements, target_type: str) -> list[Agent]:
    tiers = resolved_tiers(m)
    out = []
    for agent in sorted(d.agents, key=lambda a: a.id):
        places = pl.places.get(agent.id)
        if not places:
            continue
        team, tier = places[0]
        role, custom, scope = target_role(tiers[tier], target_type)
        groups = [group_key(t, r) for t, r in places if t is not None]
        out.append(dataclasses.replace(
            agent, role=role, custom_role=custom, ticket_scope=scope, group_ids=groups,
            role_ids=[], extra={**agent.extra, "tier": tier, "team": team,
                                "placements": [f"{t or '-'}/{r}" for t, r in places],
                                "source_role": agent.role, "source_custom_role": agent.custom_role,
                                "placed_by": pl.why.get(agent.id)}))
    return out


def _memberships(pl: Placements) -> list[Membership]:
    out = []
    for agent_id in sorted(pl.places):
        keys = [group_key(t, r) for t, r in pl.places[agent_id] if t is not None]
        out += [Membership(id=f"{agent_id}@{k}", agent_id=agent_id, group_id=k, default=i == 0)
                for i, k in enumerate(keys)]
    return out


def _fields(m: Mapping, d: Directory, target_type: str) -> list[TicketField]:
    from mappings.router import FieldResolver
    resolver = FieldResolver(m, d, target_type)
    out: dict[str, TicketField] = {}
    for key in sorted(d.fields):
        tf = resolver.target_field(key)
        if tf is not None and d.fields[key].active:
            out.setdefault(tf.key, tf)
    return [out[k] for k in sorted(out)]


def role_table(plan: RestructurePlan) -> list[dict[str, Any]]:
    """The target roles the plan uses: tiers, agents, and whether to create or reuse."""
    return role_rows(plan)
