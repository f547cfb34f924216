"""Build the report: one streaming pass over ticket histories, then plain JSON-ready data.

:func:`build_report` is the library entry point; the CLI and the renderers only see its result.
"""

from __future__ import annotations

from typing import Any, Iterable

from migrator.models import iso
from migrator.reporting.attribution import Attribution, tier_kind
from migrator.reporting.coverage import ArrivalBook, coverage_rows
from migrator.reporting.facts import ticket_facts
from migrator.reporting.history import TicketHistory
from migrator.reporting.kpis import KpiBook, RepeatTracker, ReturnTracker
from migrator.reporting.options import NpsResponse, ReportOptions
from migrator.reporting.stats import Figure

__all__ = ["build_report", "ROLE_KPIS", "ASSUMPTIONS", "nps_figure"]

# Which KPIs each role is measured by (issue 7); the JSON holds all of them for every group.
ROLE_KPIS: dict[str, tuple[str, ...]] = {
    "l1": ("first_response_avg_h", "first_response_median_h", "resolution_avg_h",
           "resolution_median_h", "fcr_rate", "csat"),
    "l2": ("escalated_in_rate", "escalated_out_rate", "escalated_resolution_rate"),
    "engineer": ("handling_avg_min", "tech_repeat_rate"),
    "lead": ("resolution_median_h", "fcr_rate", "backlog", "reopen_rate"),
    "manager": ("tickets", "resolution_rate", "reopen_rate", "customer_return_rate", "nps"),
}
COMPARE_KPIS = ("tickets", "first_response_median_h", "resolution_median_h", "fcr_rate", "csat",
                "reopen_rate", "backlog")

ASSUMPTIONS = (
    "Erlang C (M/M/N): arrivals are Poisson at the average rate seen in each hour of the week "
    "over the whole history, in UTC.",
    "Handling times are exponential around the tier's average handling time; where no time was "
    "logged the average is an estimate (agent replies x minutes per reply) and marked as such.",
    "One ticket at a time per agent, no abandonment, first come first served; the target is the "
    "share of first responses within the given time.",
    "Headcount is the agents the plan places in each team and tier; available agent-hours = "
    "headcount x contracted hours per week (no shrinkage for leave, meetings or training).",
    "Needed agent-hours sum the per-hour need over the 168 hours of a week; a gap means more "
    "agent-hours are needed than the headcount can supply, idle capacity the opposite.",
)


def nps_figure(responses: list[NpsResponse], min_n: int) -> Figure:
    """Net promoter score: % promoters (9-10) minus % detractors (0-6), from survey answers."""
    n = len(responses)
    if not n:
        return Figure(None, 0, "nps", min_n=min_n)
    promoters = sum(1 for r in responses if r.score >= 9)
    detractors = sum(1 for r in responses if r.score <= 6)
    return Figure(100.0 * (promoters - detractors) / n, n, "nps", min_n=min_n)


def _group_json(book: KpiBook, period: str, level: str, name: str, min_n: int) -> dict[str, Any]:
    acc = book.get(period, level, name)
    data = acc.to_json() if acc else {}
    for fig in data.values():
        if isinstance(fig, dict) and "n" in fig:
            _rethreshold(fig, min_n)
    return data


def _rethreshold(fig: dict[str, Any], min_n: int) -> None:
    """Apply the report's thin-data threshold to a JSON figure."""
    fig["thin"] = fig["n"] < min_n
    fig.pop("warning", None)
    if fig.get("value") is None:
        fig["warning"] = f"no data (n={fig['n']})"
    elif fig["thin"]:
        fig["warning"] = f"thin data: n={fig['n']} < {min_n}, indicative only"


def _level(book: KpiBook, period: str, level: str, min_n: int) -> dict[str, Any]:
    return {name: _group_json(book, period, level, name, min_n)
            for name in book.names(period, level)}


def _agents(book: KpiBook, a: Attribution, meta: dict[str, tuple[str, str, bool]],
            min_n: int) -> dict[str, Any]:
    out = {}
    for agent_id in book.names("all", "agent"):
        tier, team, left = meta.get(agent_id, ("", "", False))
        agent = a.agents.get(agent_id)
        out[agent_id] = {"name": agent.name if agent else f"agent {agent_id}", "tier": tier,
                         "team": team, "left": left,
                         **_group_json(book, "all", "agent", agent_id, min_n)}
    return out


def _comparison(book: KpiBook, opts: ReportOptions) -> dict[str, Any] | None:
    if opts.before is None or opts.after is None:
        return None
    out: dict[str, Any] = {"periods": {p.name: {"start": iso(p.start), "end": iso(p.end)}
                                       for p in (opts.before, opts.after)}}
    for level in ("department", "team", "agent"):
        names = sorted(set(book.names("before", level)) | set(book.names("after", level)))
        out[level] = {name: _compare_one(book, level, name, opts.min_n) for name in names}
    return out


def _compare_one(book: KpiBook, level: str, name: str, min_n: int) -> dict[str, Any]:
    before = _group_json(book, "before", level, name, min_n)
    after = _group_json(book, "after", level, name, min_n)
    rows = {}
    for kpi in COMPARE_KPIS:
        b, a = before.get(kpi), after.get(kpi)
        delta = None
        if b and a and b["value"] is not None and a["value"] is not None:
            delta = round(a["value"] - b["value"], 4)
        rows[kpi] = {"before": b, "after": a, "delta": delta,
                     "thin": bool((b or {}).get("thin", True) or (a or {}).get("thin", True))}
    return rows


def build_report(histories: Iterable[TicketHistory], attribution: Attribution,
                 options: ReportOptions | None = None) -> dict[str, Any]:
    """Compute every KPI and the coverage from a stream of histories (one pass)."""
    opts = options or ReportOptions()
    book = KpiBook(opts.periods())
    repeats = RepeatTracker(opts.repeat_window_s)
    returns = ReturnTracker(opts.return_after_s)
    arrivals = ArrivalBook()
    agent_meta: dict[str, tuple[str, str, bool]] = {}
    latest = None
    for history in histories:
        f = ticket_facts(history, attribution, opts.facts)
        keys = book.add(f, opts.as_of)  # backlog for "all" is settled below when as_of is unset
        repeats.add(f, keys, book)
        returns.add(f)
        if not f.excluded:
            arrivals.add(f.team, f.tier, f.channel, f.created)
        if f.agent_id:
            agent_meta[f.agent_id] = (f.agent_tier, f.agent_team, f.agent_left)
        stamp = max(x for x in (f.created, f.solved_at, 0.0) if x is not None)
        latest = stamp if latest is None else max(latest, stamp)
        if opts.as_of is None:
            _count_open(book, f, keys)
    repeats.finish(book)
    return _assemble(book, attribution, opts, arrivals, returns, repeats, agent_meta, latest)


def _count_open(book: KpiBook, f, keys) -> None:
    # Without an explicit date the backlog is "open now": not solved at the end of the export.
    if f.excluded or f.solved:
        return
    for key in keys:
        if key[0] == "all":
            book.acc[key].backlog += 1


def _assemble(book, attribution, opts, arrivals, returns, repeats, agent_meta, latest):
    min_n = opts.min_n
    department = _group_json(book, "all", "department", "all", min_n)
    department["customer_return_rate"] = _fig(returns.figure(), min_n)
    if opts.nps is not None:
        department["nps"] = _fig(nps_figure(opts.nps, min_n), min_n)
    tiers = _level(book, "all", "tier", min_n)
    for name, data in tiers.items():
        data["kind"] = tier_kind(name)
    aht = {name: _aht(data) for name, data in tiers.items()}
    headcount: dict[tuple[str, str], int] = {}
    for agent_id in attribution.agents:
        if attribution.has_left(agent_id):
            continue
        placed = attribution.agent(agent_id)
        if placed:
            headcount[(placed[1], placed[0])] = headcount.get((placed[1], placed[0]), 0) + 1
    rows = coverage_rows(arrivals, aht, headcount, target_sl=opts.service_level,
                         within_s=opts.within_s, hours_per_agent=opts.hours_per_agent)
    report: dict[str, Any] = {
        "about": {"attribution": attribution.source, "as_of": iso(opts.as_of or latest),
                  "min_n": min_n, "first_ticket": iso(arrivals.first),
                  "last_ticket": iso(arrivals.last), "nps_supplied": opts.nps is not None,
                  "technical_tags": sorted(opts.facts.tech_tags),
                  "repeat_window_days": opts.repeat_window_s / 86400,
                  "return_after_days": opts.return_after_s / 86400,
                  "minutes_per_reply_estimate": opts.facts.minutes_per_reply},
        "department": department,
        "teams": _level(book, "all", "team", min_n),
        "tiers": tiers,
        "team_tiers": _level(book, "all", "team_tier", min_n),
        "agents": _agents(book, attribution, agent_meta, min_n),
        "coverage": {"assumptions": list(ASSUMPTIONS),
                     "target": {"service_level": opts.service_level, "within_s": opts.within_s},
                     "hours_per_agent": opts.hours_per_agent, "weeks": round(arrivals.weeks, 2),
                     "heatmap": arrivals.heatmap(),
                     "by_channel": {f"{t} / {c}": sum(v)
                                    for (t, c), v in sorted(arrivals.by_channel.items())},
                     "rows": [r.to_json() for r in rows]},
    }
    comparison = _comparison(book, opts)
    if comparison is not None:
        report["comparison"] = comparison
    report["warnings"] = _warnings(report)
    return report


def _fig(fig: Figure, min_n: int) -> dict[str, Any]:
    return Figure(fig.value, fig.n, fig.unit, fig.estimate, min_n).to_json()


def _aht(data: dict[str, Any]) -> tuple[float | None, bool]:
    fig = data.get("handling_avg_min") or {}
    return fig.get("value"), bool(fig.get("estimate"))


def _warnings(report: dict[str, Any]) -> list[str]:
    out = []
    if report["about"]["attribution"] != "mapping":
        out.append("No mapping was used: tickets and agents are shown in the SOURCE groups, not "
                   "the new structure. Run `migrator mapping validate` and report again.")
    dept = report["department"]
    if dept.get("tickets", {}).get("n", 0) < report["about"]["min_n"]:
        out.append(f"Only {dept.get('tickets', {}).get('n', 0)} tickets: every figure is "
                   "indicative only.")
    if dept.get("handling_avg_min", {}).get("estimate"):
        out.append("No time entries in the source: handling times are estimates "
                   f"({report['about']['minutes_per_reply_estimate']:g} min per agent reply).")
    if not report["about"]["nps_supplied"]:
        out.append("NPS omitted: no survey scores were supplied (--nps FILE.csv).")
    excluded = dept.get("excluded") or {}
    if excluded:
        parts = ", ".join(f"{n} {why}" for why, n in excluded.items())
        out.append(f"Left out of every figure: {parts} tickets.")
    return out
