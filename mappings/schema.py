"""The mapping file as frozen pydantic models: tiers, teams, agent rules, routing, value maps.

A mapping is reviewed in pull requests, so the shape favours reading over brevity: named
sections, lists of rules read top to bottom (first match wins), explicit defaults. The five
standard tiers are built in (keys ``l1``, ``l2``, ``engineer``, ``lead``, ``manager``); a file
only lists a tier to rename it, change its target roles, or add a company-specific one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

__all__ = ["Mapping", "Tier", "Team", "ZendeskRole", "FreshdeskRole", "AgentMatch", "AgentRule",
           "Placement", "AgentDefault", "Exclusions", "Agents", "TicketMatch", "RouteTarget",
           "Route", "OpenTickets", "Tickets", "ValueMap", "FieldMap", "Values", "Naming",
           "BUILTIN_TIERS", "LEAD", "MANAGER", "UNASSIGNED_FOR", "resolved_tiers"]

LEAD, MANAGER = "lead", "manager"
# Freshdesk accepts only these `unassigned_for` values (freshdesk-api.md §4.5).
UNASSIGNED_FOR = ("30m", "1h", "2h", "4h", "8h", "12h", "1d", "2d", "3d")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZendeskRole(_Model):
    """Zendesk: a built-in role, optionally narrowed by a custom role (Enterprise plans only)."""

    role: Literal["agent", "admin"] = "agent"
    custom_role: str | None = None


class FreshdeskRole(_Model):
    """Freshdesk: a role by name (roles are read-only in the API) and the agent's ticket scope."""

    role: str = "Agent"
    ticket_scope: Literal["global", "group", "restricted"] = "group"


class Tier(_Model):
    """A role in the new organisation and the target role it becomes in each help desk."""

    name: str | None = None
    description: str | None = None
    zendesk: ZendeskRole | None = None
    freshdesk: FreshdeskRole | None = None


BUILTIN_TIERS: dict[str, Tier] = {
    "l1": Tier(name="Level-1 agent",
               description="Orders, cancellations, returns, basic troubleshooting",
               zendesk=ZendeskRole(role="agent"),
               freshdesk=FreshdeskRole(role="Agent", ticket_scope="group")),
    "l2": Tier(name="Level-2 specialist",
               description="Complex or sensitive escalations, root causes, coaching Level 1",
               zendesk=ZendeskRole(role="agent"),
               freshdesk=FreshdeskRole(role="Agent", ticket_scope="group")),
    "engineer": Tier(name="Technical support engineer",
                     description="Technical and server-side problems escalated from L1/L2",
                     zendesk=ZendeskRole(role="agent"),
                     freshdesk=FreshdeskRole(role="Agent", ticket_scope="global")),
    LEAD: Tier(name="Team lead", description="Runs a team: KPIs, coverage, hiring, coaching",
               zendesk=ZendeskRole(role="agent"),
               freshdesk=FreshdeskRole(role="Supervisor", ticket_scope="global")),
    MANAGER: Tier(name="Support manager", description="All teams, standards, strategy",
                  zendesk=ZendeskRole(role="admin"),
                  freshdesk=FreshdeskRole(role="Administrator", ticket_scope="global")),
}


class Naming(_Model):
    """How target groups are named; placeholders: {team}, {tier}, {team_key}, {tier_key}."""

    group: str = "{team} · {tier}"


class Team(_Model):
    """A team: by product line, location or both; one lead; an escalation path between tiers."""

    name: str | None = None
    description: str | None = None
    product: str | None = None
    location: str | None = None
    shared: bool = False  # a team others escalate to (e.g. engineering)
    lead: str  # e-mail of the team lead
    escalation: list[str] = Field(default_factory=list)  # "tier" or "team/tier", in order
    unassigned_for: Literal["30m", "1h", "2h", "4h", "8h", "12h", "1d", "2d", "3d"] | None = None


class AgentMatch(_Model):
    """Conditions on a source agent; lists are alternatives, keys must all hold."""

    emails: list[str] = Field(default_factory=list)
    source_roles: list[str] = Field(default_factory=list)
    custom_roles: list[str] = Field(default_factory=list)
    source_groups: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)  # agent.extra["location"] or time zone


class Placement(_Model):
    """A tier in a team (``team`` may be left out only for the manager tier)."""

    tier: str
    team: str | None = None


class AgentRule(_Model):
    """Agents matching ``when`` are placed in ``tier`` of ``team``."""

    name: str | None = None
    when: AgentMatch
    tier: str
    team: str | None = None


class AgentDefault(_Model):
    """What happens to agents no rule matches: a placement, or ``exclude``."""

    tier: str | None = None
    team: str | None = None
    exclude: bool = False

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return {"exclude": True} if value == "exclude" else value

    @model_validator(mode="after")
    def _one(self) -> "AgentDefault":
        if self.exclude and self.tier:
            raise ValueError("give either `exclude` or a tier and team, not both")
        if not self.exclude and not self.tier:
            raise ValueError("give a tier and team for unmatched agents, or write `exclude`")
        return self


class Exclusions(_Model):
    """Source agents left out of the target (they are not migrated as agents)."""

    emails: list[str] = Field(default_factory=list)
    source_roles: list[str] = Field(default_factory=list)
    custom_roles: list[str] = Field(default_factory=list)
    source_groups: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    inactive: bool = False  # deactivated or suspended in the source
    without_tickets: bool = False  # no ticket assigned to them in the staged data
    idle_since: str | None = None  # YYYY-MM-DD: no ticket of theirs updated since

    @field_validator("idle_since", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        import datetime as _dt
        if isinstance(value, _dt.date):
            return value.isoformat()
        if value is not None and (not isinstance(value, str) or len(value) != 10
                                  or value[4] != "-" or value[7] != "-"):
            raise ValueError(f"expected a date like 2024-01-31, got {value!r}")
        return value


class Agents(_Model):
    """How source agents land in tiers and teams."""

    exclude: Exclusions = Field(default_factory=Exclusions)
    multi_role: dict[str, list[Placement]] = Field(default_factory=dict)  # e-mail -> placements
    rules: list[AgentRule] = Field(default_factory=list)
    default: AgentDefault


class TicketMatch(_Model):
    """Conditions on a source ticket; lists are alternatives, keys must all hold."""

    source_groups: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    priorities: list[str] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    fields: dict[str, list[str]] = Field(default_factory=dict)  # field title -> values/labels

    @field_validator("fields", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value


class RouteTarget(_Model):
    """Where a ticket goes: a tier of a team."""

    team: str
    tier: str


class Route(_Model):
    """Tickets matching ``when`` go to ``to``."""

    name: str | None = None
    when: TicketMatch
    to: RouteTarget


class OpenTickets(_Model):
    """Open tickets whose assignee now sits in another team, or is not migrated."""

    assignee_moved: Literal["keep", "unassign"] = "keep"
    assignee_left: Literal["unassign", "team_lead"] = "unassign"


class Tickets(_Model):
    """Ticket routing to (team, tier), the policy for open tickets, tags to add."""

    routing: list[Route] = Field(default_factory=list)
    default: RouteTarget
    open_tickets: OpenTickets = Field(default_factory=OpenTickets)
    add_tags: list[str] = Field(default_factory=list)


class ValueMap(_Model):
    """Source value -> target value, and what happens to any other value."""

    map: dict[str, Any] = Field(default_factory=dict)
    default: str | None = None  # every unmapped value becomes this
    keep_unmapped: bool = False  # unmapped values pass through unchanged
    strict: bool = False  # an unmapped value is an error

    @field_validator("map", mode="after")
    @classmethod
    def _texts(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {k: (v if v is None or isinstance(v, (list, bool)) else str(v))
                for k, v in value.items()}

    @model_validator(mode="after")
    def _at_most_one(self) -> "ValueMap":
        chosen = self.fallbacks()
        if len(chosen) > 1:
            raise ValueError(f"choose one of `default`, `keep_unmapped`, `strict`; "
                             f"this has {', '.join(chosen)}")
        return self

    def fallbacks(self) -> list[str]:
        """Which of the three fallback settings are set."""
        return [n for n, on in (("default", self.default is not None),
                                ("keep_unmapped", self.keep_unmapped),
                                ("strict", self.strict)) if on]


class FieldMap(ValueMap):
    """A source custom field (by title) -> a target field, with its option map."""

    target: str | None = None  # target field name; default: derived from the title
    title: str | None = None  # target field title; default: the source title
    drop: bool = False  # leave this field out of the target


class Values(_Model):
    """Value maps for status, priority, type and custom fields."""

    status: ValueMap
    priority: ValueMap
    type: ValueMap
    fields: dict[str, FieldMap] = Field(default_factory=dict)
    other_fields: Literal["strict", "drop"] = "strict"


class Mapping(_Model):
    """A whole mapping file."""

    version: Literal[1] = 1
    name: str | None = None
    description: str | None = None
    naming: Naming = Field(default_factory=Naming)
    tiers: dict[str, Tier] = Field(default_factory=dict)
    manager: str | None = None  # e-mail of the support manager
    teams: dict[str, Team] = Field(min_length=1)
    agents: Agents
    tickets: Tickets
    values: Values
    _source: Any = PrivateAttr(default=None)  # the Located file data, for error positions

    def tier_keys(self) -> list[str]:
        """Built-in tier keys then the company's own, in file order."""
        return list(resolved_tiers(self))

    def tier_name(self, key: str) -> str:
        """The display name of a tier."""
        return resolved_tiers(self)[key].name or key

    def team_name(self, key: str) -> str:
        """The display name of a team."""
        team = self.teams.get(key)
        return (team.name if team and team.name else key)


def resolved_tiers(mapping: Mapping) -> dict[str, Tier]:
    """Every tier with built-in defaults filled in (a file's entry overrides per section)."""
    out = dict(BUILTIN_TIERS)
    for key, tier in mapping.tiers.items():
        base = BUILTIN_TIERS.get(key, Tier(zendesk=ZendeskRole(), freshdesk=FreshdeskRole()))
        out[key] = Tier(name=tier.name or base.name or key,
                        description=tier.description or base.description,
                        zendesk=tier.zendesk or base.zendesk,
                        freshdesk=tier.freshdesk or base.freshdesk)
    return out
