"""Hand-built help-desk histories for the report tests: a tiny desk with known answers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from migrator.models import (Agent, Comment, SatisfactionRating, Ticket, TicketEvent, TimeEntry,
                             iso)
from migrator.reporting import Attribution, ReportOptions, build_report, histories_from_records

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday, 00:00 UTC

# source group -> (team, tier) of the new structure
GROUPS = {"g1": ("alpha", "l1"), "g2": ("alpha", "l2"), "g3": ("beta", "l1"),
          "g4": ("beta", "engineer")}
# agent -> (tier, team); "a9" is in the source but placed nowhere; "a4" has left
PLACES = {"a1": ("l1", "alpha"), "a2": ("l2", "alpha"), "a3": ("l1", "beta"),
          "a5": ("engineer", "beta")}
AGENTS = [Agent(id="a1", name="Ann", email="a1@x.test"),
          Agent(id="a2", name="Bob", email="a2@x.test"),
          Agent(id="a3", name="Cy", email="a3@x.test"),
          Agent(id="a4", name="Dee", email="a4@x.test", active=False),
          Agent(id="a5", name="Eve", email="a5@x.test")]


def at(hours: float) -> str:
    """The timestamp ``hours`` after T0."""
    return iso(T0 + timedelta(hours=hours))


def route(ticket: Ticket) -> tuple[str, str]:
    """Routing by source group, the way a mapping's group rules do."""
    return GROUPS.get(ticket.group_id, ("alpha", "l1"))


def placement(agent_id: str):
    """Placement of the plan."""
    return PLACES.get(agent_id)


def attribution(agents=AGENTS) -> Attribution:
    """The test desk's attribution."""
    return Attribution.build(route, placement, agents)


class Desk:
    """Collects records for a hand-built history."""

    def __init__(self) -> None:
        self.tickets: list[Ticket] = []
        self.comments: list[Comment] = []
        self.events: list[TicketEvent] = []
        self.ratings: list[SatisfactionRating] = []
        self.entries: list[TimeEntry] = []
        self._n = 0

    def _id(self) -> str:
        self._n += 1
        return f"x{self._n:05d}"

    def ticket(self, tid: str, *, created: float = 0, status: str = "open", group: str = "g1",
               assignee: str | None = "a1", requester: str = "c1", solved: float | None = None,
               reply: float | None = None, **kw) -> Ticket:
        """A ticket with its description; ``reply`` adds one public agent reply after N hours."""
        t = Ticket(id=tid, subject=f"ticket {tid}", status=status, group_id=group,
                   assignee_id=assignee, requester_id=requester, created_at=at(created),
                   solved_at=at(solved) if solved is not None else None, **kw)
        self.tickets.append(t)
        self.comment(tid, requester, created)
        if reply is not None:
            self.comment(tid, assignee or "a1", created + reply)
        return t

    def comment(self, tid: str, author: str, hours: float, public: bool = True) -> None:
        """A comment at an absolute hour."""
        self.comments.append(Comment(id=self._id(), ticket_id=tid, author_id=author, body="...",
                                     public=public, created_at=at(hours)))

    def event(self, tid: str, field: str, previous, value, hours: float) -> None:
        """A field change at an absolute hour."""
        self.events.append(TicketEvent(id=self._id(), ticket_id=tid, field=field,
                                       previous=previous, value=value, created_at=at(hours)))

    def rating(self, tid: str, score: str, hours: float) -> None:
        """A satisfaction rating."""
        self.ratings.append(SatisfactionRating(id=self._id(), ticket_id=tid, score=score,
                                               created_at=at(hours)))

    def logged(self, tid: str, agent: str, seconds: int) -> None:
        """A time entry."""
        self.entries.append(TimeEntry(id=self._id(), ticket_id=tid, agent_id=agent,
                                      seconds=seconds))

    def histories(self):
        """The histories, as a generator."""
        return histories_from_records(self.tickets, self.comments, self.events, self.ratings,
                                      self.entries)

    def report(self, **options) -> dict:
        """Build the report over this desk (min_n=1 unless given, so values are not thin)."""
        options.setdefault("min_n", 1)
        return build_report(self.histories(), attribution(), ReportOptions(**options))


def value(fig: dict) -> float | None:
    """A figure's value, checking it carries its n."""
    assert "n" in fig and isinstance(fig["n"], int)
    return fig["value"]


_SEED_TIERS = {"Staff": "l1", "Advisor": "l2", "Technical Specialist": "engineer",
               "Team Lead": "lead"}


def seeded_attribution(company) -> Attribution:
    """The seeded company in a new structure, as the demo mapping would place it (a stand-in for
    ``mappings.build_plan`` in these tests): teams per product line, tiers by the source group
    for tickets and by custom role for agents."""
    names = {g.id: g.name for g in company.groups}

    def team_of(group_id) -> str | None:
        name = names.get(group_id, "").lower()
        return next((line for line in ("hub", "app", "billing") if line in name), None)

    def route_seed(ticket: Ticket) -> tuple[str, str]:
        name = names.get(ticket.group_id, "")
        tier = {"Tier 2": "l2", "Tech Escalations": "engineer"}.get(name, "l1")
        return ticket.extra.get("line") or team_of(ticket.group_id) or "hub", tier

    agents = {a.id: a for a in company.agents}

    def place_seed(agent_id: str):
        agent = agents.get(agent_id)
        if agent is None or agent.custom_role == "Light Agent":
            return None
        if agent.role == "admin":
            return "manager", "all"
        team = next((t for t in map(team_of, agent.group_ids) if t), "shared")
        return _SEED_TIERS.get(agent.custom_role or "", "l1"), team

    return Attribution.build(route_seed, place_seed, company.agents)
