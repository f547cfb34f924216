"""The run commands as library calls on a :class:`~migrator.project.Project` (the CLI renders).

Each function opens what it needs (state, source, target, plan), calls the engine and returns
its report. Nothing here prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migrator.engine.dryrun import dry_run
from migrator.engine.exporter import ExportReport, run_export
from migrator.engine.migrate import MigrateOptions, migrate
from migrator.engine.report import RunReport
from migrator.engine.rollback import RollbackReport, rollback, rollback_preview
from migrator.engine.sample import select_sample
from migrator.engine.signals import StopFlag, handle_signals
from migrator.engine.status import status
from migrator.engine.verify import VerifyReport, verify
from migrator.errors import ConfigError, MigratorError
from migrator.models import Entity
from migrator.progress import NullProgress, Progress
from migrator.project import Project

__all__ = ["export_project", "follow_project", "plan_for", "migrate_project", "status_project",
           "verify_project", "rollback_project", "rollback_plan", "SampleSpec"]


def export_project(project: Project, progress: Progress | None = None) -> ExportReport:
    """``migrator export``: source -> staging (resumes; again later = only what changed)."""
    with handle_signals(StopFlag()) as stop:
        return run_export(project.source(), project.state, project.workdir,
                          options=project.config.options, progress=progress, stop=stop)


def _bounded(project: Project) -> Any:
    """The project's target with its attachment uploads held to the byte budget."""
    from migrator.engine.attachments import ByteBoundTarget, budget_for
    return ByteBoundTarget(project.target(), budget_for(project.config.options))


def follow_project(project: Project, progress: Progress | None = None) -> Any:
    """``migrator migrate --follow``: export and load at once (:mod:`migrator.engine.follow`)."""
    from migrator.engine.follow import follow
    with handle_signals(StopFlag()) as stop:
        return follow(project.source(), project.state, _bounded(project), project.workdir,
                      project.config.options, plan_for=lambda: plan_for(project), stop=stop,
                      progress=progress)


def stored_existing(project: Project) -> Any:
    """What the target holds, from the snapshot ``migrator check`` / ``plan --read-target``
    stored (:class:`~mappings.targets.Existing`), or ``None`` when there is none for this
    target type."""
    from mappings.target_snapshot import META_KEY, TargetSnapshot
    snap = TargetSnapshot.from_json(project.state.get_meta(META_KEY))
    if snap is None or snap.target_type != project.config.target.type:
        return None
    return snap.existing()


def plan_for(project: Project) -> Any:
    """The RestructurePlan from the project's mapping and the staged data, checked against the
    stored target snapshot where there is one (the same plan ``migrator plan`` showed)."""
    from mappings.plan import build_plan
    from mappings.staged import StoreStaged
    if not project.state.count_staged(Entity.TICKETS) and not project.state.count_staged(Entity.AGENTS):
        raise ConfigError("nothing is staged yet", hint="run `migrator export` first")
    return build_plan(project.mapping(), StoreStaged(project.state), project.config.target.type,
                      existing=stored_existing(project))


class SampleSpec:
    """``--sample N --seed S --pick IDS --edge-cases`` as one value."""

    def __init__(self, sample: int | None = None, seed: int = 7, pick: str | None = None,
                 edge_cases: bool = False):
        self.sample, self.seed, self.edge_cases = sample, seed, edge_cases
        self.pick = [p.strip() for p in (pick or "").split(",") if p.strip()]

    @property
    def wanted(self) -> bool:
        return bool(self.sample or self.pick or self.edge_cases)

    def label(self) -> dict[str, Any]:
        return {"sample": self.sample, "seed": self.seed, "pick": self.pick,
                "edge_cases": self.edge_cases} if self.wanted else {}


def migrate_project(project: Project, *, spec: SampleSpec | None = None, dry: bool = False,
                    retry_failed: bool = False, progress: Progress | None = None,
                    plan: Any = None) -> RunReport:
    """``migrator migrate``: the full run, a sample, a dry run or a retry of failed records."""
    spec = spec or SampleSpec()
    plan = plan if plan is not None else plan_for(project)
    selection = select_sample(project.state, plan, sample=spec.sample, seed=spec.seed,
                              pick=spec.pick, edge_cases=spec.edge_cases) if spec.wanted else None
    opts = MigrateOptions(selection=selection, retry_failed=retry_failed,
                          workdir=project.workdir, label=spec.label())
    if dry:
        return dry_run(project.state, project.target(), plan, project.config.options, opts)
    with handle_signals(StopFlag()) as stop:
        return migrate(project.state, _bounded(project), plan, project.config.options, opts=opts,
                       progress=progress or NullProgress(), stop=stop)


def status_project(project: Project) -> dict[str, Any]:
    """``migrator status`` (the plan's counts when the mapping can be read)."""
    plan = None
    try:
        plan = plan_for(project)
    except MigratorError:  # status must work even with a broken or missing mapping
        plan = None
    return status(project.state, plan)


def verify_project(project: Project, *, out: Path | None = None,
                   progress: Progress | None = None, plan: Any = None) -> VerifyReport:
    """``migrator verify``: reconcile staging and target; writes verify.json."""
    plan = plan if plan is not None else plan_for(project)
    if not project.state.outcome_counts() and not project.state.open_batches():
        # Comparing against a target nothing was loaded into would "match" trivially.
        raise ConfigError("nothing has been migrated yet (or it was all rolled back): there is "
                          "nothing in the target to verify",
                          hint="run `migrator migrate` first (or `migrator migrate --sample 20`)")
    out = out or project.config.resolve("verify.json")
    return verify(project.state, project.target(), plan, project.config.options, out=out,
                  in_flight=min(8, project.config.options.max_in_flight), progress=progress)


def rollback_plan(project: Project, run_id: int | None) -> dict[str, Any]:
    """What ``rollback`` would delete."""
    return rollback_preview(project.state, run_id)


def rollback_project(project: Project, run_id: int | None,
                     progress: Progress | None = None) -> RollbackReport:
    """``migrator rollback``: delete what the run created."""
    return rollback(project.state, project.target(), run_id=run_id, progress=progress)
