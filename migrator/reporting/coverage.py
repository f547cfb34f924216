"""Coverage: arrivals per hour of week, and agents needed per hour with Erlang C.

Erlang C (M/M/N queue) assumptions, repeated in the report and docs/KPIS.md: arrivals are
Poisson at a constant rate within each hour of the week (the observed average over the weeks in
the data), handling times are exponential with the tier's average, no ticket abandons, agents
work one ticket at a time, and the queue is first come, first served. Written tickets violate
some of these (agents interleave tickets), so the result is a staffing floor, not a roster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["erlang_b", "erlang_c", "service_level", "agents_needed", "ArrivalBook",
           "CoverageRow", "coverage_rows", "HOURS_PER_WEEK", "hour_of_week"]

HOURS_PER_WEEK = 168
_WEEK = 7 * 24 * 3600.0
_MAX_AGENTS = 10_000


def erlang_b(n: int, a: float) -> float:
    """Blocking probability with ``n`` servers and ``a`` Erlangs (stable recursive form)."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(n: int, a: float) -> float:
    """Probability that an arrival waits (Pw) with ``n`` agents and ``a`` Erlangs of traffic."""
    if a <= 0:
        return 0.0
    if n <= a:
        return 1.0  # the queue grows without bound
    b = erlang_b(n, a)
    return n * b / (n - a * (1 - b))


def service_level(n: int, a: float, aht_s: float, target_s: float) -> float:
    """Share of arrivals answered within ``target_s``: 1 - Pw * exp(-(N - A) * T / AHT)."""
    if a <= 0:
        return 1.0
    if n <= a:
        return 0.0
    return 1.0 - erlang_c(n, a) * math.exp(-(n - a) * target_s / aht_s)


def agents_needed(rate_per_hour: float, aht_s: float, target_sl: float, target_s: float) -> int:
    """Fewest agents whose service level reaches ``target_sl`` (0 when nothing arrives)."""
    if rate_per_hour <= 0 or aht_s <= 0:
        return 0
    a = rate_per_hour * aht_s / 3600.0
    n = max(1, math.floor(a) + 1)
    while service_level(n, a, aht_s, target_s) < target_sl and n < _MAX_AGENTS:
        n += 1
    return n


def hour_of_week(ts: float) -> int:
    """0 = Monday 00:00-01:00 UTC ... 167 = Sunday 23:00-24:00 UTC."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.weekday() * 24 + dt.hour


@dataclass
class ArrivalBook:
    """Ticket arrivals counted per hour of week, per (team, tier) and per (team, channel)."""

    by_queue: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    by_channel: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    first: float | None = None
    last: float | None = None

    def add(self, team: str, tier: str, channel: str, created: float | None) -> None:
        """Count one arrival."""
        if created is None:
            return
        how = hour_of_week(created)
        for book, key in ((self.by_queue, (team, tier)), (self.by_channel, (team, channel))):
            book.setdefault(key, [0] * HOURS_PER_WEEK)[how] += 1
        self.first = created if self.first is None else min(self.first, created)
        self.last = created if self.last is None else max(self.last, created)

    @property
    def weeks(self) -> float:
        """Calendar weeks the data touches (span rounded up, at least one): the divisor for
        average hourly rates. Two Mondays a week apart are two observations of Monday."""
        if self.first is None or self.last is None:
            return 1.0
        return float(max(1, math.ceil((self.last - self.first) / _WEEK)))

    def heatmap(self) -> list[list[int]]:
        """All arrivals as 7 rows (Mon..Sun) x 24 hours."""
        total = [0] * HOURS_PER_WEEK
        for counts in self.by_queue.values():
            total = [x + y for x, y in zip(total, counts)]
        return [total[d * 24:(d + 1) * 24] for d in range(7)]


@dataclass
class CoverageRow:
    """Need versus the plan's headcount for one (team, tier)."""

    team: str
    tier: str
    tickets: int
    aht_min: float | None
    aht_estimated: bool
    needed: list[int]
    headcount: int
    hours_per_agent: float

    @property
    def peak_needed(self) -> int:
        """Most agents needed at once in any hour of the week."""
        return max(self.needed) if self.needed else 0

    @property
    def agent_hours_needed(self) -> int:
        """Agent-hours per week the need adds up to."""
        return sum(self.needed)

    @property
    def agent_hours_available(self) -> float:
        """Headcount times contracted hours per agent per week."""
        return self.headcount * self.hours_per_agent

    @property
    def hours_understaffed(self) -> int:
        """Hours of the week where the need exceeds the whole headcount."""
        return sum(1 for n in self.needed if n > self.headcount)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready row, with gap (positive = short) and idle capacity in agent-hours."""
        gap = self.agent_hours_needed - self.agent_hours_available
        return {
            "team": self.team, "tier": self.tier, "tickets": self.tickets, "n": self.tickets,
            "aht_min": None if self.aht_min is None else round(self.aht_min, 2),
            "aht_estimated": self.aht_estimated, "peak_needed": self.peak_needed,
            "agent_hours_needed": self.agent_hours_needed, "headcount": self.headcount,
            "agent_hours_available": round(self.agent_hours_available, 1),
            "gap_agent_hours": round(max(0.0, gap), 1),
            "idle_agent_hours": round(max(0.0, -gap), 1),
            "hours_understaffed": self.hours_understaffed, "needed_by_hour": self.needed,
        }


def coverage_rows(arrivals: ArrivalBook, aht: dict[str, tuple[float | None, bool]],
                  headcount: dict[tuple[str, str], int], *, target_sl: float, within_s: float,
                  hours_per_agent: float = 40.0) -> list[CoverageRow]:
    """Agents needed per hour for every (team, tier) with arrivals or placed agents.

    ``aht`` maps tier -> (average handling minutes, estimated?); a tier without handling data has
    no need computed (``None``), which the report shows instead of guessing.
    """
    rows = []
    for team, tier in sorted(set(arrivals.by_queue) | set(headcount)):
        counts = arrivals.by_queue.get((team, tier), [0] * HOURS_PER_WEEK)
        aht_min, est = aht.get(tier, (None, False))
        est = est and aht_min is not None
        needed = [0] * HOURS_PER_WEEK
        if aht_min:
            needed = [agents_needed(c / arrivals.weeks, aht_min * 60, target_sl, within_s)
                      for c in counts]
        rows.append(CoverageRow(team, tier, sum(counts), aht_min, est, needed,
                                headcount.get((team, tier), 0), hours_per_agent))
    return rows
