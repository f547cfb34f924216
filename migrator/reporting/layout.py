"""What both renderers show and how a figure reads: labels, sections, formatting (no markup)."""

from __future__ import annotations

from typing import Any, Iterator

from migrator.reporting.build import ROLE_KPIS

__all__ = ["KPI_LABELS", "fmt", "role_sections", "AGENT_KPIS", "TEAM_KPIS", "DEPT_KPIS",
           "ROLE_TITLES", "coverage_columns", "THIN_MARK"]

THIN_MARK = "⚠"
KPI_LABELS = {
    "tickets": "Tickets", "first_response_avg_h": "First response, average",
    "first_response_median_h": "First response, median", "never_responded": "Never responded",
    "resolution_avg_h": "Resolution time, average",
    "resolution_median_h": "Resolution time, median",
    "resolution_rate": "Resolution rate", "fcr_rate": "First-contact resolution", "csat": "CSAT",
    "reopen_rate": "Reopen rate", "backlog": "Backlog",
    "handling_avg_min": "Handling time, average",
    "tech_repeat_rate": "Technical repeat rate", "escalated_out_rate": "Escalated out of tier",
    "escalated_in_rate": "Escalated into tier",
    "escalated_resolution_rate": "Resolution rate of escalated tickets",
    "customer_return_rate": "Customer return rate", "nps": "NPS",
}
ROLE_TITLES = {"l1": "Level 1", "l2": "Level 2", "engineer": "Technical support engineers",
               "lead": "Team leads", "manager": "Manager", "other": "Other tiers"}
DEPT_KPIS = ("tickets", "resolution_rate", "reopen_rate", "customer_return_rate", "nps",
             "first_response_median_h", "resolution_median_h", "fcr_rate", "csat", "backlog",
             "handling_avg_min", "tech_repeat_rate", "escalated_out_rate", "never_responded")
TEAM_KPIS = ("tickets", "resolution_median_h", "fcr_rate", "backlog", "reopen_rate", "csat",
             "first_response_median_h")
AGENT_KPIS = ("tickets", "first_response_median_h", "resolution_median_h", "fcr_rate", "csat",
              "handling_avg_min", "reopen_rate")


def fmt(fig: dict[str, Any] | None) -> str:
    """A figure as text: value with unit, its n, and a mark when thin or estimated."""
    if not fig:
        return "—"
    value, unit, n = fig.get("value"), fig.get("unit", ""), fig.get("n", 0)
    if value is None:
        return f"no data (n={n})"
    if unit == "ratio":
        text = f"{100 * value:.1f} %"
    elif unit == "nps":
        text = f"{value:+.0f}"
    elif unit == "tickets":
        text = f"{value:.0f}"
    else:
        text = f"{value:.1f} {unit}"
    if fig.get("estimate"):
        text += " (est.)"
    if unit != "tickets" or fig.get("n") != value:
        text += f" (n={n})"
    if fig.get("thin"):
        text += f" {THIN_MARK}"
    return text


def role_sections(report: dict[str, Any]) -> Iterator[tuple[str, list[str], tuple[str, ...]]]:
    """(title, tiers, KPIs) for each standard role present among the tiers."""
    by_kind: dict[str, list[str]] = {}
    for name, data in report["tiers"].items():
        by_kind.setdefault(data.get("kind", "other"), []).append(name)
    for kind in ("l1", "l2", "engineer", "lead", "manager", "other"):
        if kind not in by_kind:
            continue
        kpis = ROLE_KPIS.get(kind) or (ROLE_KPIS["l1"] + ROLE_KPIS["l2"] + ROLE_KPIS["engineer"])
        if kind == "manager":
            kpis = tuple(k for k in kpis if k not in ("customer_return_rate", "nps"))
        yield ROLE_TITLES[kind], by_kind[kind], kpis


def coverage_columns() -> list[tuple[str, str]]:
    """(key, header) of the coverage table."""
    return [("team", "Team"), ("tier", "Tier"), ("tickets", "Tickets"), ("aht_min", "AHT min"),
            ("peak_needed", "Peak agents needed"), ("headcount", "Headcount"),
            ("agent_hours_needed", "Agent-h needed/wk"),
            ("agent_hours_available", "Agent-h supplied/wk"), ("gap_agent_hours", "Gap agent-h"),
            ("idle_agent_hours", "Idle agent-h"), ("hours_understaffed", "Hours short")]
