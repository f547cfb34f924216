"""The run commands: init, check, export, migrate, status, verify, rollback, demo.

Each command parses options, calls one function of :mod:`migrator.engine.commands` (or
:mod:`migrator.demo`) and renders what it returns. Errors are raised, never printed here:
:class:`~migrator.cli.MigratorGroup` turns them into messages and exit codes.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from migrator.errors import EXIT_FAILED_RECORDS, ConfigError

__all__ = ["register"]


def _console() -> Console:
    return Console(soft_wrap=False, width=120)


def _project(ctx: click.Context):
    from migrator.project import Project
    return Project.load(ctx.obj["config_path"])


def _progress(enabled: bool = True):
    from migrator.progress import NullProgress, RichProgress
    return RichProgress() if enabled else nullcontext(NullProgress())


def _json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.command()
@click.option("--source", "source_type", type=click.Choice(["zendesk", "freshdesk"]),
              default="zendesk", show_default=True, help="The help desk to export from.")
@click.option("--target", "target_type", type=click.Choice(["zendesk", "freshdesk"]),
              default="freshdesk", show_default=True, help="The help desk to load into.")
@click.option("--force", is_flag=True, help="Overwrite an existing project file.")
@click.pass_context
def init(ctx: click.Context, source_type: str, target_type: str, force: bool) -> None:
    """Write migration.yaml (source, target, mapping, state) and a mapping stub."""
    from migrator.engine.init import write_project
    written = write_project(Path(ctx.obj["config_path"]), source_type, target_type, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo("next: set the environment variables it names, then run `migrator check`")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Check credentials, permissions, plan features and rate limits of both sides."""
    from migrator.engine.render import check_table
    with _project(ctx) as project:
        rows = [("source", i) for i in project.source().check()]
        rows += [("target", i) for i in project.target().check()]
        notes = []
        if all(i.ok for side, i in rows if side == "target"):  # the plan reads this snapshot
            from migrator.cli.mapping import snapshot_lines, snapshot_target
            notes = snapshot_lines(snapshot_target(project), project)
    if as_json:
        _json({"ok": all(i.ok for _, i in rows), "notes": notes,
               "checks": [{"side": side, "name": i.name, "ok": i.ok, "warning": i.warning,
                           "detail": i.detail, "hint": i.hint} for side, i in rows]})
    else:
        _console().print(check_table(rows))
        for line in notes:
            click.echo(line)
    failed = [f"{side}: {i.name}" for side, i in rows if not i.ok]
    if failed:
        raise ConfigError(f"{len(failed)} checks failed: {', '.join(failed)}",
                          hint="fix what the table says, then run `migrator check` again")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def export(ctx: click.Context, as_json: bool) -> None:
    """Export the source into local staging (resumable; run again later for only what changed)."""
    from migrator.engine.commands import export_project
    from migrator.engine.exporter import staged_summary
    from migrator.engine.render import export_table
    with _project(ctx) as project, _progress() as progress:
        report = export_project(project, progress)
        totals = staged_summary(project.state)
    if as_json:
        _json({**report.as_dict(), "totals": totals})
        return
    console = _console()
    console.print(export_table(report.staged, totals))
    console.print(f"attachments downloaded: {report.attachments} ({report.attachment_bytes} bytes)")
    for line in report.attachment_failures[:20]:
        console.print(f"[yellow]not downloaded:[/] {line}")
    if report.attachments_failed > 20:
        console.print(f"[yellow]... and {report.attachments_failed - 20} more not downloaded[/] "
                      "(`migrator export --json` lists the first 1,000)")


@click.command()
@click.option("--sample", type=click.IntRange(min=1), help="Move only N tickets (seeded random) "
              "and what they reference.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of --sample.")
@click.option("--pick", help="Move these ticket ids (comma-separated) and what they reference.")
@click.option("--edge-cases", is_flag=True, help="Move tickets with attachments, inline images, "
              "the most comments, custom fields, closed ones, non-ASCII text.")
@click.option("--dry-run", is_flag=True, help="Read the target and show what would be created or "
              "reused; write nothing.")
@click.option("--retry-failed", is_flag=True, help="Send again only the records that failed.")
@click.option("--follow", is_flag=True, help="Export and load at once: people and groups load "
              "once exported, tickets once their comments are staged, while the export goes on.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def migrate(ctx: click.Context, sample: int | None, seed: int, pick: str | None,
            edge_cases: bool, dry_run: bool, retry_failed: bool, follow: bool,
            as_json: bool) -> None:
    """Load the staged data into the target (the same command resumes after any interruption)."""
    from migrator.engine.commands import SampleSpec, follow_project, migrate_project
    from migrator.engine.render import failures_table, run_table
    spec = SampleSpec(sample, seed, pick, edge_cases)
    if follow and (spec.wanted or dry_run or retry_failed):
        raise click.UsageError("--follow runs the whole export and migration; it does not "
                               "combine with --sample, --pick, --edge-cases, --dry-run or "
                               "--retry-failed")
    with _project(ctx) as project, _progress(not dry_run) as progress:
        if retry_failed and not dry_run and not project.state.count_failed():
            if as_json:
                _json({"status": "nothing to retry", "outstanding_failed": 0})
            else:
                click.echo("nothing to retry: no record has failed (`migrator status` shows "
                           "the counts)")
            return
        if follow:
            report = follow_project(project, progress).final
        else:
            report = migrate_project(project, spec=spec, dry=dry_run, retry_failed=retry_failed,
                                     progress=progress)
    if as_json:
        _json(report.as_dict())
    else:
        console = _console()
        console.print(run_table(report))
        for step in report.steps.values():
            for note in step.notes:
                console.print(f"  {step.entity}: {note}")
        table = failures_table(report)
        if table is not None:
            console.print(table)
            console.print("Fix what the reasons say, then run `migrator migrate --retry-failed`.")
    if not dry_run and (report.failed or report.outstanding_failed):
        ctx.exit(EXIT_FAILED_RECORDS)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show where each entity stands: staged, planned, outcomes, open batches, throughput, ETA."""
    from migrator.engine.commands import status_project
    from migrator.engine.render import runs_table, status_table
    with _project(ctx) as project:
        data = status_project(project)
    if as_json:
        _json(data)
        return
    console = _console()
    console.print(status_table(data))
    if data["open_batches"]:
        console.print(f"open batches (reconciled on the next migrate): {data['open_batches']}")
    speed = data["throughput"]
    if speed.get("run_id"):
        console.print(f"last migrate run {speed['run_id']}: {speed['records_per_s']} records/s, "
                      f"{speed['tickets_per_s']} tickets/s; ETA "
                      + ("-" if data["eta_s"] is None else f"{data['eta_s']} s"))
    if data["runs"]:
        console.print(runs_table(data["runs"]))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JSON report (default: verify.json beside migration.yaml).")
@click.pass_context
def verify(ctx: click.Context, as_json: bool, out: Path | None) -> None:
    """Reconcile staging and target record by record; writes verify.json for sign-off."""
    from migrator.engine.commands import verify_project
    from migrator.engine.render import verify_table
    with _project(ctx) as project, _progress() as progress:
        report = verify_project(project, out=out, progress=progress)
    if as_json:
        _json(report.as_dict())
    else:
        _console().print(verify_table(report))
        for note in report.notes:
            click.echo(f"note: {note}")
    if not report.ok:
        ctx.exit(EXIT_FAILED_RECORDS)


def _confirmed(question: str) -> bool:
    """The user's yes; no answer at all (no terminal, end of input) is a no."""
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        return False


@click.command()
@click.option("--run", "run_id", type=int, help="The run to undo (default: the latest run that "
              "created records).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rollback(ctx: click.Context, run_id: int | None, yes: bool) -> None:
    """Delete in the target exactly what one run created (never what existed before) and put
    back existing agents and groups it changed."""
    from migrator.engine.commands import rollback_plan, rollback_project
    with _project(ctx) as project:
        preview = rollback_plan(project, run_id)
        changed = preview["changed"]
        if preview["run_id"] is None or not (preview["counts"] or changed):
            click.echo("nothing to roll back: no run has records it created in the target")
            return
        what = ", ".join(f"{n} {e}" for e, n in preview["counts"].items()) or "nothing"
        click.echo(f"run {preview['run_id']} created: {what}")
        if changed:
            click.echo("and changed existing records, to be put back as they were: "
                       + ", ".join(f"{n} {e}" for e, n in changed.items()))
        if not yes and not _confirmed("Delete these records in the target?"):
            click.echo("nothing deleted: the rollback was not confirmed (--yes skips the "
                       "question)", err=True)
            ctx.exit(1)
        with _progress() as progress:
            report = rollback_project(project, preview["run_id"], progress)
    click.echo(f"deleted: {', '.join(f'{n} {e}' for e, n in report.deleted.items()) or 'nothing'}")
    if report.restored:
        click.echo("restored as they were: "
                   + ", ".join(f"{n} {e}" for e, n in report.restored.items()))
    if report.not_deleted:
        click.echo(f"not deleted (run `migrator rollback --run {report.run_id}` again): "
                   f"{report.not_deleted}")
    for line in report.not_restored:
        click.echo(f"not restored: {line}")


@click.command()
@click.option("--keep", is_flag=True, help="Leave the sandboxes running and print their URLs "
              "until Ctrl-C.")
@click.option("--tickets", type=click.IntRange(min=5, max=5000), default=400, show_default=True,
              help="Tickets in the seeded source company.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True,
              help="Where each demo run gets its own fresh folder.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo company.")
def demo(keep: bool, tickets: int, workdir: Path, seed: int) -> None:
    """Run everything on built-in sandboxes: Zendesk -> Freshdesk, restructured into tiers."""
    from migrator.demo import demo_ok, run_demo, wait_until_interrupted
    console = _console()
    result = run_demo(tickets=tickets, workdir=workdir, seed=seed, keep=keep, console=console)
    if keep:
        wait_until_interrupted(result, console)
    if not demo_ok(result):
        click.get_current_context().exit(EXIT_FAILED_RECORDS)


COMMANDS = (init, check, export, migrate, status, verify, rollback, demo)


def register(cli: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    for command in COMMANDS:
        cli.add_command(command)
