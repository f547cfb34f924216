"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no scripts,
nothing loaded from the network when it is viewed."""

from __future__ import annotations

from html import escape
from typing import Any, Iterable

from migrator.reporting import charts
from migrator.reporting.layout import (AGENT_KPIS, DEPT_KPIS, KPI_LABELS, TEAM_KPIS, THIN_MARK,
                                       coverage_columns, fmt, role_sections)

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d2730}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #d5dde5;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:13px}
th,td{border:1px solid #d5dde5;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef3f7}td.thin{color:#8a6d00;background:#fff8e1}
.warn{background:#fff8e1;border-left:4px solid #e0a800;padding:.5rem 1rem}
.note{color:#52606d}.chart svg{max-width:100%;height:auto}
"""


def _td(fig: dict[str, Any] | None) -> str:
    thin = bool(fig and fig.get("thin"))
    title = f' title="{escape(fig["warning"])}"' if fig and fig.get("warning") else ""
    return f'<td{" class=thin" if thin else ""}{title}>{escape(fmt(fig))}</td>'


def _table(headers: Iterable[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _group_table(groups: dict[str, Any], names: list[str], kpis: Iterable[str],
                 first: str, label=None) -> str:
    kpis = list(kpis)
    rows = (f"<tr><th>{escape(label(n) if label else n)}</th>"
            + "".join(_td(groups[n].get(k)) for k in kpis) + "</tr>" for n in names)
    return _table([first] + [KPI_LABELS[k] for k in kpis], rows)


def _chart(svg: str) -> str:
    return f'<div class="chart">{svg}</div>'


def _header(report: dict[str, Any]) -> str:
    a = report["about"]
    warnings = "".join(f"<li>{escape(w)}</li>" for w in report["warnings"])
    return (
        "<h1>Restructuring report: KPI baselines and coverage</h1>"
        f"<p class=note>Attribution: <b>{escape(a['attribution'])}</b> · tickets created "
        f"{escape(str(a['first_ticket']))} to {escape(str(a['last_ticket']))} · backlog as of "
        f"{escape(str(a['as_of']))}</p>"
        f"<p class=note>Every figure shows the number of tickets it rests on (n). {THIN_MARK} and "
        f"a yellow cell mark thin data (n &lt; {a['min_n']}): indicative only. Definitions are in "
        "docs/KPIS.md.</p>" + (f'<div class="warn"><ul>{warnings}</ul></div>' if warnings else ""))


def _department(report: dict[str, Any]) -> str:
    dept = report["department"]
    rows = (f"<tr><th>{escape(KPI_LABELS[k])}</th>{_td(dept[k])}</tr>"
            for k in DEPT_KPIS if k in dept)
    return ("<h2>Department (manager)</h2>" + _table(["KPI", "Value"], rows)
            + _chart(charts.heatmap_svg(report["coverage"]["heatmap"])))


def _teams(report: dict[str, Any]) -> str:
    teams = report["teams"]
    return ("<h2>Teams (team leads)</h2>" + _group_table(teams, list(teams), TEAM_KPIS, "Team")
            + _chart(charts.team_kpi_svg(teams, "resolution_median_h",
                                         "Median resolution time (h)"))
            + _chart(charts.team_kpi_svg(teams, "fcr_rate", "First-contact resolution (%)",
                                         scale=100)))


def _roles(report: dict[str, Any]) -> str:
    return "".join(f"<h2>{escape(title)}</h2>" + _group_table(report["tiers"], tiers, kpis, "Tier")
                   for title, tiers, kpis in role_sections(report))


def _agents(report: dict[str, Any]) -> str:
    agents = report["agents"]

    def label(aid: str) -> str:
        a = agents[aid]
        return f"{a['name']}{' (left)' if a['left'] else ''} — {a['tier']} / {a['team']}"

    return "<h2>Agents</h2>" + _group_table(agents, list(agents), AGENT_KPIS, "Agent", label)


def _comparison(report: dict[str, Any]) -> str:
    comp = report.get("comparison")
    if not comp:
        return ""
    p = comp["periods"]
    out = [f"<h2>Before / after</h2><p class=note>Before: {p['before']['start']} – "
           f"{p['before']['end']}; after: {p['after']['start']} – {p['after']['end']} "
           "(by ticket creation).</p>"]
    for level in ("team", "agent"):
        rows = []
        for name, kpis in comp[level].items():
            for kpi, row in kpis.items():
                delta = "—" if row["delta"] is None else f"{row['delta']:+.3g}"
                cls = " class=thin" if row["thin"] else ""
                rows.append(f"<tr><th>{escape(name)}</th><td>{KPI_LABELS[kpi]}</td>"
                            f"{_td(row['before'])}{_td(row['after'])}<td{cls}>{delta}</td></tr>")
        out.append(f"<h3>Per {level}</h3>"
                   + _table([level.title(), "KPI", "Before", "After", "Change"], rows))
    return "".join(out)


def _coverage(report: dict[str, Any]) -> str:
    cov = report["coverage"]
    t = cov["target"]
    cols = coverage_columns()
    rows = ("<tr>" + "".join(f"<td>{escape('—' if r[k] is None else str(r[k]))}</td>"
                             for k, _ in cols) + "</tr>" for r in cov["rows"])
    assumptions = "".join(f"<li>{escape(x)}</li>" for x in cov["assumptions"])
    return (f"<h2>Coverage</h2><p>Target: {100 * t['service_level']:.0f} % of first responses "
            f"within {t['within_s'] / 60:g} min. Arrival rates averaged over {cov['weeks']} "
            f"weeks; {cov['hours_per_agent']:g} h per agent per week.</p>"
            f"<p class=note>Assumptions (Erlang C):</p><ul class=note>{assumptions}</ul>"
            + _table([h for _, h in cols], rows) + _chart(charts.coverage_svg(cov["rows"])))


def render_html(report: dict[str, Any]) -> str:
    """The whole report as a standalone HTML document."""
    body = (_header(report) + _department(report) + _teams(report) + _roles(report)
            + _agents(report) + _comparison(report) + _coverage(report))
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>Restructuring report</title><style>{_CSS}</style></head>"
            f"<body>{body}</body></html>\n")
