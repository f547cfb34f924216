"""rich renderables for the run commands: tables and the org chart. Pure: returns, never prints."""

from __future__ import annotations

import time
from typing import Any, Iterable

from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from migrator.engine.report import RunReport
from migrator.engine.status import OUTCOME_COLUMNS
from migrator.engine.verify import VerifyReport

__all__ = ["run_table", "export_table", "status_table", "verify_table", "check_table",
           "org_chart", "summary_table", "failures_table", "runs_table"]

DRY_COLUMNS = ("would_create", "would_update", "reused", "skipped", "unchanged", "failed_earlier")


def _n(value: Any) -> str:
    return "-" if value is None else str(value)


def run_table(report: RunReport) -> Table:
    """Per step: planned and what happened (or would happen, for a dry run)."""
    cols = DRY_COLUMNS if report.dry_run else OUTCOME_COLUMNS
    title = "Dry run: nothing was written" if report.dry_run else f"Run {report.run_id}: {report.status}"
    table = Table(title=title)
    table.add_column("entity")
    table.add_column("planned", justify="right")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    for step in report.steps.values():
        table.add_row(step.entity, str(step.planned), *(str(step.counts.get(c, 0)) for c in cols))
    return table


def failures_table(report: RunReport, limit: int = 20) -> Table | None:
    """The first failed records with the target's reasons."""
    rows = [(s.entity, sid, reason) for s in report.steps.values() for sid, reason in s.failures]
    if not rows:
        return None
    table = Table(title=f"Failed records (first {min(limit, len(rows))} of {len(rows)})")
    for c in ("entity", "source id", "reason"):
        table.add_column(c)
    for row in rows[:limit]:
        table.add_row(*row)
    return table


def export_table(staged: dict[str, int], totals: dict[str, int]) -> Table:
    """Records staged by this export and in total."""
    table = Table(title="Export")
    for c, j in (("entity", "left"), ("this run", "right"), ("staged in total", "right")):
        table.add_column(c, justify=j)
    for entity in sorted(set(staged) | set(totals)):
        table.add_row(entity, str(staged.get(entity, 0)), str(totals.get(entity, 0)))
    return table


def status_table(data: dict[str, Any]) -> Table:
    """Per entity: staged, planned and outcomes."""
    table = Table(title="Status")
    cols = ("staged", "planned", *OUTCOME_COLUMNS)
    table.add_column("entity")
    for c in cols:
        table.add_column(c, justify="right")
    for entity, row in data["entities"].items():
        table.add_row(entity, *(_n(row.get(c)) for c in cols))
    return table


def runs_table(runs: Iterable[dict[str, Any]]) -> Table:
    """The latest runs."""
    table = Table(title="Runs")
    for c in ("id", "command", "status", "started", "seconds"):
        table.add_column(c)
    for r in runs:
        secs = (r["finished_at"] - r["started_at"]) if r["finished_at"] else None
        table.add_row(str(r["id"]), r["command"], r["status"],
                      time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started_at"])),
                      "-" if secs is None else f"{secs:.1f}")
    return table


def verify_table(report: VerifyReport, limit: int = 25) -> Table:
    """Counts per entity and the tickets that differ."""
    checked = (f"{report.checked} tickets and {report.team_checked} groups and memberships "
               "compared one by one: ")
    table = Table(title="Verify: " + checked + ("everything matches" if report.ok else
                                                f"{report.differing + len(report.team)} differ"))
    cols = ("staged", "planned", "present", "skipped", "failed")
    table.add_column("entity")
    for c in cols:
        table.add_column(c, justify="right")
    for entity, row in report.entities.items():
        table.add_row(entity, *(str(row.get(c, "-")) for c in cols))
    for t in report.team[:limit]:
        table.add_row(f"{t['entity']} {t['source_id']} -> {t['target_id']}", "", "", "", "",
                      escape("; ".join(t["problems"])))
    for t in report.mismatches[:limit]:
        table.add_row(f"ticket {t['source_id']} -> {t['target_id']}", "", "", "", "",
                      escape("; ".join(t["problems"])))
    return table


def check_table(rows: list[tuple[str, Any]]) -> Table:
    """``migrator check``: one line per check, per side."""
    table = Table(title="Check")
    for c in ("side", "check", "result", "detail"):
        table.add_column(c)
    for side, item in rows:
        mark = "[red]FAIL[/]" if not item.ok else ("[yellow]warn[/]" if item.warning else "[green]ok[/]")
        detail = item.detail + (f" (hint: {item.hint})" if item.hint else "")
        table.add_row(side, escape(item.name), mark, escape(detail))
    return table


def org_chart(chart: dict[str, Any]) -> Tree:
    """The new organisation: manager -> teams -> lead -> tiers -> agents."""
    manager = chart.get("manager")
    who = escape(f"{manager['name']} <{manager['email']}>") if manager else "none"
    root = Tree("[bold]Support[/] — manager: " + who)
    for team in chart.get("teams", []):
        lead = team.get("lead")
        shared = " (shared)" if team.get("shared") else ""
        node = root.add(f"[bold cyan]{escape(team['name'])}[/]" + shared
                        + f" — lead: {escape(lead['name']) if lead else 'none'}"
                        + (f" — escalation: {' -> '.join(team['escalation'])}"
                           if team.get("escalation") else ""))
        for tier in team.get("tiers", []):
            agents = tier["agents"]
            node.add(escape(f"{tier['name']} ({len(agents)}): " + ", ".join(agents)))
    return root


def summary_table(exported: dict[str, int], report: RunReport) -> Table:
    """The demo's summary: per entity exported, created, reused, skipped, failed."""
    table = Table(title="Summary (planned = after restructuring)")
    cols = ("exported", "planned", "created", "reused", "skipped", "failed")
    table.add_column("entity")
    for c in cols:
        table.add_column(c, justify="right")
    for entity, step in report.steps.items():
        counts = step.counts
        table.add_row(entity, _n(exported.get(entity)), str(step.planned),
                      str(counts.get("created", 0)),
                      str(counts.get("reused", 0)), str(counts.get("skipped", 0)),
                      str(counts.get("failed", 0)))
    if "comments" in exported:
        table.add_row("comments", str(exported["comments"]), "", "(with tickets)", "", "", "")
    return table
