"""Ticket histories of the seeded demo company: comments, status/group/assignee events, CSAT, time.

Each ticket is written as a timeline of steps (reply, note, escalation, solve, reopen...) with raw
gaps in minutes; the gaps are scaled down when they would not fit between creation and ``now``, so
every timestamp is ordered and in the past.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from faker import Faker

from migrator.models import (Agent, Comment, EndUser, SatisfactionRating, Ticket, TicketEvent,
                             TimeEntry, iso)

from . import seed_text as T
from .seed_history import StoryMixin
from .seed_people import FIELD_IDS, GROUP_IDS, Staff

__all__ = ["TicketFactory", "TicketSpec", "plan_tickets"]

_STATUS_WEIGHTS = {"closed": 68, "solved": 10, "open": 7, "pending": 5, "hold": 3, "new": 7}
# status -> range of "days ago" for the creation time (closed tickets are old, new ones young)
_AGE_DAYS = {"closed": (8, 540), "solved": (1, 24), "open": (1, 45), "pending": (2, 45),
             "hold": (3, 60), "new": (0, 6)}
_CHANNELS = (["email"] * 10) + (["web"] * 6) + ["chat", "chat", "api", "voice"]


@dataclass
class TicketSpec:
    """What to generate for one ticket before its history is written."""

    status: str
    created: datetime
    requester: EndUser
    kind: str = "normal"  # normal | deleted | spam


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _arrival(rng: random.Random, now: datetime, status: str, tz: str) -> datetime:
    """A creation time: heavier on weekdays and in the location's business hours."""
    lo, hi = _AGE_DAYS[status]
    while True:
        day = (now - timedelta(days=rng.uniform(lo, hi))).astimezone(ZoneInfo(tz))
        if day.weekday() >= 5 and rng.random() < 0.7:
            continue
        hour = rng.randint(8, 17) if rng.random() < 0.85 else rng.randint(0, 23)
        local = day.replace(hour=hour, minute=rng.randint(0, 59), second=rng.randint(0, 59))
        created = local.astimezone(now.tzinfo)
        if created < now - timedelta(hours=2):
            return created.replace(microsecond=0)


def plan_tickets(rng: random.Random, now: datetime, users: list[EndUser],
                 count: int) -> list[TicketSpec]:
    """Statuses (every one present), creation times and requesters, sorted by creation time."""
    statuses = [_weighted(rng, _STATUS_WEIGHTS) for _ in range(count)]
    forced = rng.sample(range(count), k=min(count, 6))
    for idx, status in zip(forced, ("new", "open", "pending", "hold", "solved", "closed")):
        statuses[idx] = status
    customers = [u for u in users if not u.blocked and not u.deleted]
    blocked = [u for u in users if u.blocked] or customers
    free = [i for i in range(count) if i not in forced]
    spam = set(rng.sample(free, k=min(2, len(free)))) if count >= 20 else set()
    deleted = set(rng.sample([i for i in free if i not in spam], k=3)) if count >= 20 else set()
    specs = []
    for i, status in enumerate(statuses):
        requester = rng.choice(blocked if i in spam else customers)
        tz = T.LOCATIONS[requester.extra.get("location", "us")][1]
        kind = "spam" if i in spam else "deleted" if i in deleted else "normal"
        specs.append(TicketSpec(status, _arrival(rng, now, status, tz), requester, kind))
    return sorted(specs, key=lambda s: s.created)


class TicketFactory(StoryMixin):
    """Writes tickets with their comments, events, ratings and time entries."""

    def __init__(self, rng: random.Random, fake_en: Faker, fake_de: Faker, staff: Staff,
                 now: datetime, product_ids: dict[str, str]):
        self.rng, self.fake_en, self.fake_de, self.staff, self.now = (rng, fake_en, fake_de,
                                                                      staff, now)
        self.product_ids = product_ids
        self.tickets: list[Ticket] = []
        self.comments: list[Comment] = []
        self.events: list[TicketEvent] = []
        self.ratings: list[SatisfactionRating] = []
        self.time_entries: list[TimeEntry] = []
        self._ids = {"comment": 100_000_001, "attachment": 900_000_001, "event": 200_000_001,
                     "rating": 560_001, "time": 700_001}
        self._agents = {a.id: a for a in staff.agents}

    @staticmethod
    def _parse(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    def _next(self, kind: str) -> str:
        self._ids[kind] += 1
        return str(self._ids[kind] - 1)

    # -- choosing people ----------------------------------------------------------------------
    def _pool(self, group_id: str, at: datetime, kinds: tuple[str, ...]) -> list[Agent]:
        out = []
        for kind in kinds:
            for agent in self.staff.by_kind.get(kind, []):
                gone = agent in self.staff.left and iso(at) > (agent.last_login_at or "")
                if group_id in agent.group_ids and not gone:
                    out.append(agent)
        return out or self.staff.by_kind["lead"]

    # -- one ticket ---------------------------------------------------------------------------
    def add(self, ticket_id: str, spec: TicketSpec) -> Ticket:
        """Generate one ticket and its history from ``spec``."""
        rng, req = self.rng, spec.requester
        loc = req.extra.get("location", "us")
        line = rng.choices(list(T.PRODUCT_LINES), weights=[45, 35, 20])[0]
        issue = rng.choice([k for k, v in T.ISSUE_TYPES.items() if line in v[1]])
        german = req.locale == "de"
        group = GROUP_IDS[f"{line}/{loc}"]
        ticket = self._ticket_shell(ticket_id, spec, line, issue, group, german)
        steps = [] if spec.kind == "spam" else self._steps(spec, ticket, issue, group, german)
        self._write_history(ticket, spec, steps)
        self.tickets.append(ticket)
        return ticket

    def _ticket_shell(self, ticket_id: str, spec: TicketSpec, line: str, issue: str, group: str,
                      german: bool) -> Ticket:
        rng, req = self.rng, spec.requester
        technical = issue in T.TECHNICAL_ISSUES
        subject = rng.choice(T.SUBJECTS[issue])
        if spec.kind == "spam":
            subject = "Cheap followers & crypto gains!!! 💰💰"
        prio = rng.choices(["low", "normal", "high", "urgent"],
                           weights=[10, 45, 30, 15] if technical else [22, 58, 15, 5])[0]
        ttype = rng.choices(["question", "incident", "problem", "task"],
                            weights=[15, 55, 25, 5] if technical else [55, 30, 5, 10])[0]
        vip = "vip" in req.tags
        tags = [f"product_{line}", issue] + (T.TECHNICAL_ISSUES.get(issue, []))
        tags += ["vip"] * vip + ["german"] * german
        fields = {FIELD_IDS["product"]: T.PRODUCT_LINES[line][1], FIELD_IDS["issue"]: issue,
                  FIELD_IDS["vip"]: vip,
                  FIELD_IDS["order"]: f"BN-{rng.randint(100000, 999999)}"
                  if rng.random() < 0.6 else None,
                  FIELD_IDS["purchase"]: (spec.created - timedelta(days=rng.randint(3, 400)))
                  .strftime("%Y-%m-%d") if rng.random() < 0.5 else None,
                  FIELD_IDS["devices"]: rng.randint(1, 12) if line == "hub" else None}
        channel = rng.choice(_CHANNELS)
        created = iso(spec.created)
        return Ticket(id=ticket_id, subject=subject, status=spec.status, priority=prio, type=ttype,
                      requester_id=req.id, submitter_id=req.id, group_id=group,
                      organization_id=req.organization_id, product_id=self.product_ids[line],
                      channel=channel, tags=tags, custom_fields=fields, created_at=created,
                      updated_at=created, external_id=f"SHOP-{70000 + int(ticket_id)}"
                      if channel == "api" else None,
                      due_at=iso(spec.created + timedelta(days=7)) if ttype == "task" else None,
                      deleted=spec.kind != "normal", spam=spec.kind == "spam",
                      extra={"line": line, "location": req.extra.get("location")})
