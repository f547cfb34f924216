"""``migrator report``: KPI baselines per role/tier/team and the coverage each team needs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from migrator.errors import ConfigError
from migrator.models import Entity, iso
from migrator.reporting.files import write_report_files
from migrator.reporting import (Attribution, ReportOptions, build_report, histories_from_store,
                                load_nps, parse_duration, parse_period, source_attribution)
from migrator.reporting.facts import FactOptions, epoch

__all__ = ["register", "report_attribution"]


def report_attribution(project, store) -> Attribution:
    """The plan's routing and placement when a mapping and ``mappings.build_plan`` exist, else
    the source groups (the report then says so in its warnings)."""
    agents = list(store.iter_staged(Entity.AGENTS))
    try:
        from mappings.plan import build_plan  # the mapping layer (issue 5)
    except ImportError:
        build_plan = None
    if build_plan is not None and project.config.mapping_path.exists():
        from mappings.staged import StoreStaged
        plan = build_plan(project.mapping(), StoreStaged(store), project.config.target.type)
        return Attribution.build(plan.route, plan.placement, agents)
    return source_attribution(agents, store.iter_staged(Entity.GROUPS),
                              store.iter_staged(Entity.MEMBERSHIPS))


def _options(before, after, nps, service_level, within, hours, min_n, tech_tags, as_of
             ) -> ReportOptions:
    if (before is None) != (after is None):
        raise ConfigError("--before and --after go together",
                          hint="give both periods, e.g. --before 2024-01-01:2024-03-31 "
                               "--after 2024-04-01:2024-06-30")
    if not 0 < service_level < 1:
        raise ConfigError(f"--service-level {service_level}: must be between 0 and 1 (e.g. 0.8)")
    facts = FactOptions()
    if tech_tags:
        tags = frozenset(t.strip() for t in tech_tags.split(",") if t.strip())
        facts = FactOptions(tech_tags=tags)
    try:
        stamp = epoch(iso(as_of)) if as_of else None
    except ValueError:
        raise ConfigError(f"--as-of {as_of!r}: not a date", hint="use YYYY-MM-DD") from None
    return ReportOptions(
        before=parse_period(before, "before") if before else None,
        after=parse_period(after, "after") if after else None,
        nps=load_nps(nps) if nps else None, service_level=service_level,
        within_s=parse_duration(within), hours_per_agent=hours, min_n=min_n, facts=facts,
        as_of=stamp)


def register(cli: click.Group) -> None:
    """Add the ``report`` command to the top-level group."""

    @cli.command("report")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False), default="report",
                  show_default=True, help="Folder for report.html, report.md and report.json.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON to stdout.")
    @click.option("--before", metavar="START:END", help="First period to compare (by creation).")
    @click.option("--after", metavar="START:END", help="Second period to compare.")
    @click.option("--nps", type=click.Path(dir_okay=False), metavar="FILE.csv",
                  help="Survey scores (columns: score[,team]); without it NPS is omitted.")
    @click.option("--service-level", type=float, default=0.8, show_default=True,
                  help="Target share of first responses within --within.")
    @click.option("--within", default="1h", show_default=True, help="Service-level time, e.g. 1h.")
    @click.option("--hours-per-agent", type=float, default=40.0, show_default=True,
                  help="Contracted hours per agent per week (coverage supply).")
    @click.option("--min-n", type=click.IntRange(1), default=20, show_default=True,
                  help="Below this many tickets a figure is flagged as thin data.")
    @click.option("--tech-tags", metavar="TAG,TAG", help="Tags that mark technical issues.")
    @click.option("--as-of", metavar="DATE", help="Backlog date (default: end of the data).")
    @click.pass_context
    def report(ctx, out_dir, as_json, before, after, nps, service_level, within, hours_per_agent,
               min_n, tech_tags, as_of):
        """KPI baselines per agent, tier, team and department, and Erlang C coverage, from the
        staged history, attributed to the NEW structure of the mapping.

        Writes a self-contained HTML report, Markdown and JSON to --out; --json prints JSON.
        """
        from migrator.project import Project

        opts = _options(before, after, nps, service_level, within, hours_per_agent, min_n,
                        tech_tags, as_of)
        with Project.load(ctx.obj["config_path"]) as project:
            store = project.state
            if not store.count_staged(Entity.TICKETS):
                raise ConfigError("no staged tickets to report on",
                                  hint="run `migrator export` first")
            attribution = report_attribution(project, store)
            data = build_report(histories_from_store(store), attribution, opts)
        if as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        for path in write_report_files(data, Path(out_dir)):
            click.echo(f"wrote {path}")
        for warning in data["warnings"]:
            click.secho(f"note: {warning}", fg="yellow", err=True)
