"""KPI accumulators: fed one ticket's facts at a time, per agent, tier, team and department.

Memory grows with the number of groups (agents, teams, tiers, periods) and customers, never with
the number of tickets. Definitions: docs/KPIS.md.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Iterable

from migrator.reporting.facts import TicketFacts
from migrator.reporting.stats import Distribution, Figure, Ratio

__all__ = ["KpiAccumulator", "KpiBook", "RepeatTracker", "ReturnTracker", "Period", "Key",
           "LEVELS"]

LEVELS = ("department", "team", "tier", "agent")
Key = tuple[str, str, str]  # (period, level, name)
HOUR = 3600.0


@dataclass(frozen=True)
class Period:
    """A named time window over ticket creation (``start`` inclusive, ``end`` exclusive)."""

    name: str
    start: float | None = None
    end: float | None = None

    def holds(self, created: float | None) -> bool:
        """True when a ticket created at ``created`` belongs to the period."""
        if self.start is None and self.end is None:
            return True
        if created is None:
            return False
        return (self.start is None or created >= self.start) and (
            self.end is None or created < self.end)


class KpiAccumulator:
    """Running totals for one (period, level, name)."""

    def __init__(self) -> None:
        self.tickets = 0
        self.excluded: dict[str, int] = {}
        self.resolved = Ratio()
        self.reopened = Ratio()
        self.fcr = Ratio()
        self.csat = Ratio()
        self.repeat = Ratio()
        self.frt = Distribution()
        self.resolution = Distribution()
        self.handling = Distribution()
        self.handling_est = Distribution()
        self.unanswered = 0
        self.backlog = 0
        self.visited = 0
        self.moved_in = 0
        self.moved_out = 0
        self.moved_in_solved = Ratio()

    def add(self, f: TicketFacts, backlog_end: float | None) -> None:
        """Count one ticket's facts; excluded tickets only count as excluded."""
        if f.excluded:
            self.excluded[f.excluded] = self.excluded.get(f.excluded, 0) + 1
            return
        self.tickets += 1
        self.resolved.add(f.solved)
        if f.ever_solved:
            self.reopened.add(f.reopened)
        if f.first_response_s is not None:
            self.frt.add(f.first_response_s / HOUR)
        elif f.comments_known:
            self.unanswered += 1
        if f.resolution_s is not None:
            self.resolution.add(f.resolution_s / HOUR)
        if f.fcr is not None:
            self.fcr.add(f.fcr)
        if f.csat_good is not None:
            self.csat.add(f.csat_good)
        if f.handling_s is not None:
            (self.handling_est if f.handling_estimated else self.handling).add(f.handling_s / 60)
        if f.tech_keys:
            self.repeat.add(False)  # hits are added later by the RepeatTracker
        if backlog_end is not None and f.backlog_at(backlog_end):
            self.backlog += 1

    def add_path(self, f: TicketFacts, tier: str) -> None:
        """Escalation counts of ``tier`` (or of the department when ``tier`` is empty)."""
        if f.excluded:
            return
        path = f.tier_path
        if tier:
            if tier not in path:
                return
            moved_out = path.index(tier) < len(path) - 1
            moved_in = tier in path[1:]
        else:
            moved_out = moved_in = len(path) > 1
        self.visited += 1
        self.moved_out += moved_out
        if moved_in:
            self.moved_in += 1
            self.moved_in_solved.add(f.solved)

    def handling_figure(self) -> Figure:
        """Mean handling minutes: logged time when any ticket has it, else the labelled estimate."""
        if self.handling.count:
            return self.handling.figure_mean("min")
        return self.handling_est.figure_mean("min", estimate=True)

    def figures(self) -> dict[str, Figure]:
        """Every KPI as a figure with its n."""
        base = self.tickets
        return {
            "tickets": Figure(float(base), base, "tickets"),
            "first_response_avg_h": self.frt.figure_mean("h"),
            "first_response_median_h": self.frt.figure_median("h"),
            "never_responded": Figure(float(self.unanswered), base, "tickets"),
            "resolution_avg_h": self.resolution.figure_mean("h"),
            "resolution_median_h": self.resolution.figure_median("h"),
            "resolution_rate": self.resolved.figure(),
            "fcr_rate": self.fcr.figure(),
            "csat": self.csat.figure(),
            "reopen_rate": self.reopened.figure(),
            "backlog": Figure(float(self.backlog), base, "tickets"),
            "handling_avg_min": self.handling_figure(),
            "tech_repeat_rate": self.repeat.figure(),
            "escalated_out_rate": Figure(self.moved_out / self.visited if self.visited else None,
                                         self.visited, "ratio"),
            "escalated_in_rate": Figure(self.moved_in / self.visited if self.visited else None,
                                        self.visited, "ratio"),
            "escalated_resolution_rate": self.moved_in_solved.figure(),
        }

    def to_json(self) -> dict[str, Any]:
        """Figures as JSON, plus the excluded-ticket counts."""
        out: dict[str, Any] = {k: v.to_json() for k, v in self.figures().items()}
        out["excluded"] = dict(sorted(self.excluded.items()))
        return out


class KpiBook:
    """All accumulators of a report, keyed by (period, level, name)."""

    def __init__(self, periods: Iterable[Period]):
        self.periods = list(periods)
        self.acc: dict[Key, KpiAccumulator] = {}

    def _get(self, key: Key) -> KpiAccumulator:
        acc = self.acc.get(key)
        if acc is None:
            acc = self.acc[key] = KpiAccumulator()
        return acc

    def keys_for(self, f: TicketFacts) -> list[Key]:
        """The accumulators a ticket's figures count in (its own tier/team, not its path)."""
        keys: list[Key] = []
        for p in self.periods:
            if not p.holds(f.created):
                continue
            keys += [(p.name, "department", "all"), (p.name, "team", f.team),
                     (p.name, "tier", f.tier), (p.name, "team_tier", f"{f.team} / {f.tier}")]
            if f.agent_id:
                keys.append((p.name, "agent", f.agent_id))
        return keys

    def add(self, f: TicketFacts, as_of: float | None) -> list[Key]:
        """Feed one ticket; returns the keys it counted in (for late repeat hits)."""
        keys = self.keys_for(f)
        for key in keys:
            period = next(p for p in self.periods if p.name == key[0])
            self._get(key).add(f, period.end if period.end is not None else as_of)
        for p in self.periods:
            if p.holds(f.created):
                self._get((p.name, "department", "all")).add_path(f, "")
                for tier in dict.fromkeys(f.tier_path):
                    self._get((p.name, "tier", tier)).add_path(f, tier)
        return keys

    def get(self, period: str, level: str, name: str) -> KpiAccumulator | None:
        """One accumulator, or ``None`` when nothing counted there."""
        return self.acc.get((period, level, name))

    def names(self, period: str, level: str) -> list[str]:
        """Names present at a level in a period, sorted."""
        return sorted(n for (p, lv, n) in self.acc if p == period and lv == level)


def _scratch(*tables: str) -> sqlite3.Connection:
    """A private temporary SQLite file (named "": deleted when closed) with these tables."""
    db = sqlite3.connect("", isolation_level=None)
    for ddl in tables:
        db.execute(ddl)
    return db


class RepeatTracker:
    """Repeat technical issues: same customer (requester or organisation), same technical tag or
    field value, within ``window`` seconds. The EARLIER ticket is the one that did not stick, so
    the hit counts in its accumulators (once per ticket, whatever the number of pairs).

    Exact and in any ticket order, with flat memory: each technical ticket is written, per
    customer and key, to a private temporary SQLite file; :meth:`finish` reads it back sorted by
    customer, key and time (a ticket is a repeat when the next one of its customer and key comes
    within the window) and credits each repeated ticket's accumulators. A ticket's accumulators
    are kept as the number of its key set (few distinct sets: periods x teams x tiers x agents).
    """

    def __init__(self, window: float, flush_every: int = 256):
        self.window = window
        self.flush_every = flush_every
        self.hits = 0
        self._db: sqlite3.Connection | None = None
        self._rows: list[tuple[str, str, float, int]] = []
        self._tickets: list[tuple[int, int]] = []
        self._sets: dict[tuple, int] = {}
        self._seq = 0

    def add(self, f: TicketFacts, keys: list[Key], book: KpiBook) -> None:
        """Note a technical ticket under each of its customers and technical keys."""
        if f.excluded or not f.tech_keys or f.created is None:
            return
        customers = [f"r:{f.requester_id}"] if f.requester_id else []
        if f.organization_id:
            customers.append(f"o:{f.organization_id}")
        if not customers:
            return
        self._seq += 1
        keyset = self._sets.setdefault(tuple(keys), len(self._sets))
        self._tickets.append((self._seq, keyset))
        self._rows += [(c, t, f.created, self._seq) for c in customers for t in f.tech_keys]
        if len(self._rows) >= self.flush_every:
            self._flush()

    def _flush(self) -> None:
        if self._db is None:
            self._db = _scratch("CREATE TABLE pair (customer TEXT, tech TEXT, created REAL, "
                                "seq INTEGER)",
                                "CREATE TABLE ticket (seq INTEGER PRIMARY KEY, keyset INTEGER, "
                                "hit INTEGER NOT NULL DEFAULT 0)")
        with self._db:
            self._db.executemany("INSERT INTO pair VALUES (?, ?, ?, ?)", self._rows)
            self._db.executemany("INSERT INTO ticket (seq, keyset) VALUES (?, ?)", self._tickets)
        self._rows, self._tickets = [], []

    def finish(self, book: KpiBook) -> None:
        """Find the repeats and credit them (call once, after the last ticket)."""
        if not self._seq:
            return
        self._flush()
        db = self._db
        assert db is not None
        hits: list[tuple[int]] = []
        prev: tuple | None = None
        rows = db.execute("SELECT customer, tech, created, seq FROM pair "
                          "ORDER BY customer, tech, created, seq")
        for row in rows:
            if prev is not None and prev[:2] == row[:2] and row[2] - prev[2] <= self.window:
                hits.append((prev[3],))  # the earlier of the pair did not stick
            prev = row
            if len(hits) >= self.flush_every:
                db.executemany("UPDATE ticket SET hit = 1 WHERE seq = ?", hits)
                hits = []
        db.executemany("UPDATE ticket SET hit = 1 WHERE seq = ?", hits)
        by_set = dict(db.execute("SELECT keyset, COUNT(*) FROM ticket WHERE hit = 1 "
                                 "GROUP BY keyset").fetchall())
        for keys, number in self._sets.items():
            n = by_set.get(number, 0)
            for key in keys:
                book._get(key).repeat.hits += n
            self.hits += n
        db.close()
        self._db = None


class ReturnTracker:
    """Customer return rate: customers who opened a ticket again more than ``after`` seconds
    after their first one (a retention proxy). Two numbers per customer: held in memory for
    up to ``held`` customers, then folded into a private temporary SQLite file, so memory does
    not grow with the account's customers."""

    def __init__(self, after: float, held: int = 50_000):
        self.after = after
        self.held = held
        self._span: dict[str, tuple[float, float]] = {}
        self._db: sqlite3.Connection | None = None

    def add(self, f: TicketFacts) -> None:
        """Track a ticket's requester and creation time."""
        if f.excluded or not f.requester_id or f.created is None:
            return
        lo, hi = self._span.get(f.requester_id, (f.created, f.created))
        self._span[f.requester_id] = (min(lo, f.created), max(hi, f.created))
        if len(self._span) >= self.held:
            self._spill()

    def _spill(self) -> None:
        if self._db is None:
            self._db = _scratch("CREATE TABLE span (customer TEXT PRIMARY KEY, lo REAL, hi REAL)")
        with self._db:
            self._db.executemany(
                "INSERT INTO span VALUES (?, ?, ?) ON CONFLICT (customer) DO UPDATE SET "
                "lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
                [(c, lo, hi) for c, (lo, hi) in self._span.items()])
        self._span = {}

    def figure(self) -> Figure:
        """Share of customers who came back."""
        if self._db is None:
            back = sum(1 for lo, hi in self._span.values() if hi - lo > self.after)
            n = len(self._span)
        else:
            self._spill()
            n, back = self._db.execute("SELECT COUNT(*), COALESCE(SUM(hi - lo > ?), 0) "
                                       "FROM span", (self.after,)).fetchone()
        return Figure(back / n if n else None, n, "ratio")
