"""Per-ticket facts: everything the KPIs need from one history, computed once (pure).

Definitions are in docs/KPIS.md; the comments here say which record each fact comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from migrator.models import status_category
from migrator.reporting.attribution import LEFT, UNPLACED, Attribution
from migrator.reporting.history import TicketHistory

__all__ = ["TicketFacts", "ticket_facts", "epoch", "SOLVED", "FactOptions"]

SOLVED = frozenset({"solved", "closed"})
_RATED = {"good": True, "bad": False, "neutral": False}
# Zendesk closes the source ticket of a merge with this system tag; Freshdesk marks merged
# tickets in extra (the connectors keep ``merged``/``association_type`` there).
_MERGE_TAGS = frozenset({"closed_by_merge", "merged"})


@dataclass(frozen=True)
class FactOptions:
    """Knobs of the per-ticket facts."""

    # Tags that mark a technical issue; `--tech-tags` replaces them for a given company.
    tech_tags: frozenset[str] = frozenset({
        "technical", "bug", "api", "webhook", "integration", "outage", "server_error",
        "server-error", "5xx", "firmware", "crash", "app_crash", "connectivity", "sso"})
    tech_fields: frozenset[str] = frozenset()  # custom field keys whose value is a tech category
    minutes_per_reply: float = 8.0  # handling-time estimate per public agent reply


@dataclass
class TicketFacts:
    """What one ticket contributes to the KPIs."""

    ticket_id: str
    created: float | None
    team: str
    tier: str
    agent_id: str | None
    agent_tier: str
    agent_team: str
    agent_left: bool
    channel: str
    requester_id: str | None
    organization_id: str | None
    excluded: str | None = None  # deleted | spam | merged
    solved: bool = False
    solved_at: float | None = None
    ever_solved: bool = False
    reopened: bool = False
    first_response_s: float | None = None
    resolution_s: float | None = None
    comments_known: bool = False
    agent_replies: int = 0
    customer_followups: int = 0  # public customer comments after the first agent reply
    csat_good: bool | None = None
    handling_s: float | None = None
    handling_estimated: bool = False
    tier_path: list[str] = field(default_factory=list)
    tech_keys: frozenset[str] = frozenset()

    @property
    def fcr(self) -> bool | None:
        """First-contact resolution; ``None`` when the ticket is not in the FCR base."""
        if not self.solved or not self.comments_known or self.agent_replies == 0:
            return None
        return self.customer_followups == 0 and not self.reopened and len(self.tier_path) <= 1

    def backlog_at(self, when: float) -> bool:
        """True when the ticket was open (created, not yet solved) at ``when``."""
        if self.excluded or self.created is None or self.created > when:
            return False
        return not self.solved or (self.solved_at is not None and self.solved_at > when)


def epoch(ts: str | None) -> float | None:
    """ISO-8601 UTC text to epoch seconds (``None`` stays ``None``)."""
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def _excluded(h: TicketHistory) -> str | None:
    t = h.ticket
    if t.deleted:
        return "deleted"
    if t.spam:
        return "spam"
    if _MERGE_TAGS & set(t.tags) or t.extra.get("merged") or t.extra.get("merged_into"):
        return "merged"
    return None


def _sorted_events(h: TicketHistory) -> list:
    return sorted(h.events, key=lambda e: (e.created_at or "", str(e.id)))


def _status_facts(h: TicketHistory, f: TicketFacts) -> None:
    """Solved, reopened and resolution time: from status events, else the ticket's timestamps."""
    t = h.ticket
    f.solved = status_category(t) in SOLVED
    solved_ts: str | None = None
    for ev in _sorted_events(h):
        if ev.field != "status":
            continue
        if ev.value in SOLVED and ev.previous not in SOLVED:
            solved_ts = ev.created_at  # the last time it became solved counts (after reopens)
            f.ever_solved = True
        elif ev.previous in SOLVED and ev.value not in SOLVED:
            f.reopened = True
    if t.extra.get("reopened_at") or (t.extra.get("reopens") or 0) > 0:
        f.reopened = True  # Freshdesk stats.reopened_at / Zendesk ticket_metrics.reopens
    if f.solved:
        f.ever_solved = True
        solved_ts = solved_ts or t.solved_at or t.closed_at
        f.solved_at = epoch(solved_ts)
        if f.solved_at is not None and f.created is not None:
            f.resolution_s = max(0.0, f.solved_at - f.created)


def _comment_facts(h: TicketHistory, f: TicketFacts, a: Attribution) -> None:
    """First response and reply count: public agent comments after the description."""
    comments = sorted(h.comments, key=lambda c: (c.created_at or "", str(c.id)))
    f.comments_known = bool(comments)
    first_reply: float | None = None
    for c in comments[1:]:  # the first comment is the description, even when an agent wrote it
        if c.public and a.is_agent(c.author_id):
            f.agent_replies += 1
            at = epoch(c.created_at)
            if first_reply is None and at is not None:
                first_reply = at
        elif c.public and f.agent_replies:
            f.customer_followups += 1  # the customer had to write again: not a first-contact fix
    if first_reply is None and not comments:
        first_reply = epoch(h.ticket.first_responded_at)  # no comments staged: vendor metric
    if first_reply is not None and f.created is not None:
        f.first_response_s = max(0.0, first_reply - f.created)


def _handling_facts(h: TicketHistory, f: TicketFacts, opts: FactOptions) -> None:
    """Handling time: logged time entries; else replies x minutes_per_reply, flagged estimate."""
    if h.time_entries:
        f.handling_s = float(sum(max(0, e.seconds) for e in h.time_entries))
    elif f.comments_known and f.agent_replies:
        f.handling_s = f.agent_replies * opts.minutes_per_reply * 60.0
        f.handling_estimated = True


def _tier_path(h: TicketHistory, a: Attribution) -> list[str]:
    """Tiers the ticket passed through, from group and assignee change events, in time order."""
    events = [e for e in _sorted_events(h) if e.field in ("group_id", "assignee_id")]
    first = next((e for e in events if e.field == "group_id"), None)
    # A first group event with no previous value is the creation itself (Zendesk audits and the
    # sandbox both emit one), not a move; the ticket starts in that event's group.
    start = h.ticket.group_id if first is None else (first.previous or first.value)
    path = [a.tier_of_group(h.ticket, start)]
    for ev in events:
        if not ev.value:
            continue  # unassigned / group cleared: the ticket waits, it has not moved tier
        if ev.field == "group_id":
            tier = a.tier_of_group(h.ticket, ev.value)
        else:
            placed = a.agent(ev.value)
            tier = placed[0] if placed else None
        if tier and tier != path[-1]:
            path.append(tier)
    return path


def _tech_keys(h: TicketHistory, opts: FactOptions) -> frozenset[str]:
    keys = {f"tag:{tag}" for tag in h.ticket.tags if tag in opts.tech_tags}
    for key in opts.tech_fields:
        value = h.ticket.custom_fields.get(key)
        if value not in (None, "", False):
            keys.add(f"field:{key}={value}")
    return frozenset(keys)


def _csat(h: TicketHistory) -> bool | None:
    rated = [r for r in h.ratings if r.score in _RATED]
    if not rated:
        return None
    latest = max(rated, key=lambda r: (r.created_at or "", str(r.id)))  # customers may re-rate
    return _RATED[latest.score]


def ticket_facts(h: TicketHistory, a: Attribution, opts: FactOptions = FactOptions()
                 ) -> TicketFacts:
    """All KPI facts of one ticket history."""
    t = h.ticket
    team, tier = a.ticket(t)
    agent_id = str(t.assignee_id) if t.assignee_id else None
    placed = a.agent(agent_id)
    left = bool(agent_id) and a.has_left(agent_id)
    f = TicketFacts(
        ticket_id=str(t.id), created=epoch(t.created_at), team=team, tier=tier,
        agent_id=agent_id, agent_tier=placed[0] if placed else (LEFT if left else UNPLACED),
        agent_team=placed[1] if placed else (LEFT if left else UNPLACED), agent_left=left,
        channel=t.channel or "unknown", requester_id=t.requester_id,
        organization_id=t.organization_id, excluded=_excluded(h))
    _status_facts(h, f)
    _comment_facts(h, f, a)
    _handling_facts(h, f, opts)
    f.csat_good = _csat(h)
    f.tier_path = _tier_path(h, a)
    f.tech_keys = _tech_keys(h, opts)
    return f
