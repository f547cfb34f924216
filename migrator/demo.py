"""``migrator demo``: Zendesk -> Freshdesk on built-in sandboxes, restructured into tiered teams.

Both sandboxes run in-process on loopback (the Zendesk one seeded with the demo company, the
Freshdesk one empty). Each run writes a fresh project folder, so running the demo twice works.
The sandbox credentials reach the connectors through environment variables the demo sets for
itself; the project file only holds ``${...}`` references, as a real project would.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.config import dump_config

__all__ = ["DemoResult", "run_demo", "demo_ok", "write_demo_project", "wait_until_interrupted"]

ENV_ZENDESK = "MIGRATOR_DEMO_ZENDESK_TOKEN"
ENV_FRESHDESK = "MIGRATOR_DEMO_FRESHDESK_KEY"
EXAMPLE = Path(__file__).resolve().parent.parent / "mappings" / "examples" / "product-lines.yaml"


@dataclass
class DemoResult:
    """What the demo did: its folder, the sandboxes (when kept) and the reports."""

    folder: Path
    exported: dict[str, int] = field(default_factory=dict)
    run: Any = None
    verify: Any = None
    sandboxes: list[Any] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def _fresh_folder(base: Path) -> Path:
    stamp = time.strftime("run-%Y%m%d-%H%M%S")
    for i in range(1000):
        folder = base / (stamp if i == 0 else f"{stamp}-{i}")
        if not folder.exists():
            folder.mkdir(parents=True)
            return folder
    raise RuntimeError(f"no free run folder under {base}")  # pragma: no cover


def write_demo_project(folder: Path, zendesk_url: str, freshdesk_url: str) -> Path:
    """Write migration.yaml + mapping.yaml for the two sandboxes; return the project file."""
    from connectors.sandbox.run import credentials
    shutil.copyfile(EXAMPLE, folder / "mapping.yaml")
    data = {
        "source": {"type": "zendesk", "base_url": zendesk_url,
                   "email": credentials("zendesk")["email"], "token": "${" + ENV_ZENDESK + "}"},
        "target": {"type": "freshdesk", "base_url": freshdesk_url,
                   "api_key": "${" + ENV_FRESHDESK + "}",
                   "create_agents": True},  # sandbox seats are free; real ones are paid
        "mapping": "mapping.yaml",
        "options": {"batch_size": 50, "max_in_flight": 8},
    }
    path = folder / "migration.yaml"
    path.write_text("# written by `migrator demo`\n" + dump_config(data), encoding="utf-8")
    return path


def _start_sandboxes(tickets: int, seed: int) -> list[Any]:
    from connectors.sandbox.run import credentials, start_sandbox
    os.environ[ENV_ZENDESK] = credentials("zendesk")["api_token"]
    os.environ[ENV_FRESHDESK] = credentials("freshdesk")["api_key"]
    source = start_sandbox("zendesk", seed=seed, tickets=tickets)
    try:
        target = start_sandbox("freshdesk", seed=seed, empty=True)
    except BaseException:
        source.stop()
        raise
    return [source, target]


def _run(project: Any, console: Any, result: DemoResult) -> None:
    from migrator.engine import commands
    from migrator.engine.exporter import staged_summary
    from migrator.progress import RichProgress
    with RichProgress(console) as progress:
        progress.note("[bold]1/5 export[/] from the Zendesk sandbox")
        commands.export_project(project, progress)
        result.exported = staged_summary(project.state)
        progress.note("[bold]2/5 plan[/] the new structure from mapping.yaml")
        plan = commands.plan_for(project)
        progress.note("[bold]3/5 migrate[/] into the Freshdesk sandbox")
        result.run = commands.migrate_project(project, progress=progress, plan=plan)
        progress.note("[bold]4/5 verify[/] record by record")
        result.verify = commands.verify_project(project, progress=progress, plan=plan)
        progress.note("[bold]5/5 report[/] KPI baselines per tier and team, coverage needs")
        result.reports = _write_report(project, plan, result.folder / "report")
    _show(console, plan, result)


def _write_report(project: Any, plan: Any, out: Path) -> list[Path]:
    """The restructuring report of the demo company, attributed through the demo's plan."""
    from migrator.models import Entity
    from migrator.reporting import Attribution, ReportOptions, build_report, histories_from_store
    from migrator.reporting.files import write_report_files
    store = project.state
    attribution = Attribution.build(plan.route, plan.placement, store.iter_staged(Entity.AGENTS))
    report = build_report(histories_from_store(store), attribution, ReportOptions())
    return write_report_files(report, out)


def _show(console: Any, plan: Any, result: DemoResult) -> None:
    from mappings.render import plan_dict
    from migrator.engine.render import failures_table, org_chart, summary_table, verify_table
    console.print(org_chart(plan_dict(plan)["org_chart"]))
    console.print(summary_table(result.exported, result.run))
    table = failures_table(result.run)
    if table is not None:
        console.print(table)
    console.print(verify_table(result.verify))
    if result.reports:
        console.print(f"restructuring report (KPI baselines, coverage): {result.reports[0]}")


def run_demo(*, tickets: int = 400, workdir: Path = Path("demo-output"), seed: int = 7,
             keep: bool = False, console: Any = None) -> DemoResult:
    """Start the sandboxes, run export -> plan -> migrate -> verify, print the outcome."""
    from rich.console import Console

    from migrator.project import Project
    console = console or Console()
    started = time.monotonic()
    result = DemoResult(folder=_fresh_folder(Path(workdir)))
    result.sandboxes = _start_sandboxes(tickets, seed)
    try:
        path = write_demo_project(result.folder, result.sandboxes[0].url, result.sandboxes[1].url)
        console.print(f"demo project: {path}")
        with Project.load(path) as project:
            _run(project, console, result)
    finally:
        if not keep:
            for sandbox in result.sandboxes:
                sandbox.stop()
    result.seconds = time.monotonic() - started
    console.print(f"done in {result.seconds:.1f} s; the project is in {result.folder} "
                  f"(try `migrator -c {result.folder / 'migration.yaml'} status`)")
    return result


def demo_ok(result: DemoResult) -> bool:
    """No failed record and verify found nothing different."""
    return bool(result.run and not result.run.failed and result.verify and result.verify.ok)


def wait_until_interrupted(result: DemoResult, console: Any) -> None:
    """``--keep``: print the sandbox URLs and serve until Ctrl-C."""
    for sandbox in result.sandboxes:
        console.print(f"{sandbox.kind} sandbox: {sandbox.url}")
    console.print("the sandboxes keep running; press Ctrl-C to stop them")
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for sandbox in result.sandboxes:
            sandbox.stop()
