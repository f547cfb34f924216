"""The report as Markdown (for pull requests, wikis and e-mail)."""

from __future__ import annotations

from typing import Any, Iterable

from migrator.reporting.layout import (AGENT_KPIS, DEPT_KPIS, KPI_LABELS, TEAM_KPIS, THIN_MARK,
                                       coverage_columns, fmt, role_sections)

__all__ = ["render_markdown"]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: Iterable[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in headers) + " |",
           "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def _group_table(groups: dict[str, dict[str, Any]], names: list[str], kpis: Iterable[str],
                 first: str) -> list[str]:
    kpis = list(kpis)
    return _table([first] + [KPI_LABELS[k] for k in kpis],
                  ([n] + [fmt(groups[n].get(k)) for k in kpis] for n in names))


def _about(report: dict[str, Any]) -> list[str]:
    a = report["about"]
    return [
        "# Restructuring report: KPI baselines and coverage", "",
        f"Attribution: **{a['attribution']}** · tickets created {a['first_ticket']} to "
        f"{a['last_ticket']} · backlog as of {a['as_of']}", "",
        f"Every figure shows the number of tickets it rests on (n). {THIN_MARK} marks thin data "
        f"(n < {a['min_n']}): indicative only. Definitions: docs/KPIS.md.", "",
    ]


def _comparison(report: dict[str, Any]) -> list[str]:
    comp = report.get("comparison")
    if not comp:
        return []
    periods = comp["periods"]
    out = ["## Before / after", "",
           f"Before: {periods['before']['start']} – {periods['before']['end']}; after: "
           f"{periods['after']['start']} – {periods['after']['end']} (by ticket creation).", ""]
    for level, title in (("team", "Team"), ("agent", "Agent")):
        rows = []
        for name, kpis in comp[level].items():
            for kpi, row in kpis.items():
                delta = "—" if row["delta"] is None else f"{row['delta']:+.3g}"
                rows.append([name, KPI_LABELS[kpi], fmt(row["before"]), fmt(row["after"]),
                             delta + (f" {THIN_MARK}" if row["thin"] else "")])
        out += [f"### Per {level}", ""] + _table([title, "KPI", "Before", "After", "Change"], rows)
    return out


def _coverage(report: dict[str, Any]) -> list[str]:
    cov = report["coverage"]
    target = cov["target"]
    out = ["## Coverage", "",
           f"Target: {100 * target['service_level']:.0f} % of first responses within "
           f"{target['within_s'] / 60:g} min. Arrival rates averaged over {cov['weeks']} weeks; "
           f"{cov['hours_per_agent']:g} h per agent per week.", "", "Assumptions (Erlang C):", ""]
    out += [f"- {line}" for line in cov["assumptions"]] + [""]
    cols = coverage_columns()
    out += _table([h for _, h in cols],
                  ([("—" if r[k] is None else r[k]) for k, _ in cols] for r in cov["rows"]))
    if cov["by_channel"]:
        out += ["Arrivals per team and channel:", ""]
        out += _table(["Team / channel", "Tickets"], ([k, v] for k, v in cov["by_channel"].items()))
    return out


def render_markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown text."""
    out = _about(report)
    if report["warnings"]:
        out += ["## Warnings", ""] + [f"- {w}" for w in report["warnings"]] + [""]
    dept = report["department"]
    out += ["## Department (manager)", ""]
    out += _table(["KPI", "Value"], ([KPI_LABELS[k], fmt(dept[k])] for k in DEPT_KPIS if k in dept))
    out += ["## Teams (team leads)", ""]
    out += _group_table(report["teams"], list(report["teams"]), TEAM_KPIS, "Team")
    for title, tiers, kpis in role_sections(report):
        out += [f"## {title}", ""] + _group_table(report["tiers"], tiers, kpis, "Tier")
    agents = report["agents"]
    names = {aid: f"{a['name']}{' (left)' if a['left'] else ''} — {a['tier']} / {a['team']}"
             for aid, a in agents.items()}
    out += ["## Agents", ""]
    out += _table(["Agent"] + [KPI_LABELS[k] for k in AGENT_KPIS],
                  ([names[aid]] + [fmt(agents[aid].get(k)) for k in AGENT_KPIS] for aid in agents))
    out += _comparison(report) + _coverage(report)
    return "\n".join(out).rstrip() + "\n"
