"""Rollback: delete in the target exactly what one run created, in reverse dependency order.

Only records whose ``created_run`` is that run are deleted: never what was reused (it existed
before) nor what another run created. Each chunk's deletions are forgotten in the id map as soon
as the target confirms them, so an interrupted rollback resumes where it stopped. Existing
records the run changed (a reused agent's role, a reused group's escalation settings) are then
put back as they were (:func:`migrator.engine.helpers.record_changes`); an interrupted restore is
simply done again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrator.engine.helpers import changes_of, forget_changes
from migrator.engine.steps import LOAD_ORDER
from migrator.errors import ConfigError, InterruptedRun
from migrator.progress import NullProgress, Progress
from migrator.state import StateStore

__all__ = ["RollbackReport", "rollback", "rollback_preview", "last_creating_run"]


@dataclass
class RollbackReport:
    """What a rollback removed, per entity."""

    run_id: int | None
    deleted: dict[str, int] = field(default_factory=dict)
    not_deleted: dict[str, int] = field(default_factory=dict)
    restored: dict[str, int] = field(default_factory=dict)
    not_restored: list[str] = field(default_factory=list)  # why, per record the target kept

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"run_id": self.run_id, "deleted": self.deleted, "not_deleted": self.not_deleted,
                "restored": self.restored, "not_restored": self.not_restored}


def last_creating_run(state: StateStore) -> int | None:
    """The latest run that still has records it created (or changed) in the target."""
    for run in reversed(state.list_runs()):
        if run["command"] == "migrate" and (
                any(state.count_id_map(e, created_run=int(run["id"])) for e in LOAD_ORDER)
                or changes_of(state, int(run["id"]))):
            return int(run["id"])
    return None


def _run_id(state: StateStore, run_id: int | None) -> int | None:
    if run_id is None:
        return last_creating_run(state)
    if not any(r["id"] == run_id for r in state.list_runs()):
        raise ConfigError(f"there is no run {run_id} in this project",
                          hint="`migrator status` lists the runs")
    return run_id


def rollback_preview(state: StateStore, run_id: int | None = None) -> dict[str, Any]:
    """Which run a rollback would undo and how many records per entity it would delete."""
    rid = _run_id(state, run_id)
    counts = {} if rid is None else {e.value: state.count_id_map(e, created_run=rid)
                                     for e in LOAD_ORDER}
    changed = {} if rid is None else {e: len(rows) for e, rows in changes_of(state, rid).items()}
    return {"run_id": rid, "counts": {k: v for k, v in counts.items() if v},
            "changed": {k: v for k, v in changed.items() if v}}


def rollback(state: StateStore, target: Any, *, run_id: int | None = None, chunk: int = 100,
             progress: Progress | None = None) -> RollbackReport:
    """Delete what ``run_id`` (default: the latest run with creations) created; resumable."""
    progress = progress or NullProgress()
    rid = _run_id(state, run_id)
    report = RollbackReport(run_id=rid)
    if rid is None:
        return report
    own = state.start_run("rollback", {"run": rid})
    status = "failed"
    try:
        for entity in reversed(LOAD_ORDER):
            _entity(state, target, entity, rid, chunk, report, progress)
        _restore(state, target, rid, report)
        status = "done"
    except (InterruptedRun, KeyboardInterrupt):
        status = "interrupted"
        raise
    finally:
        state.finish_run(own, status)
    return report


def _entity(state, target, entity, rid: int, chunk: int, report: RollbackReport,
            progress: Progress) -> None:
    total = state.count_id_map(entity, created_run=rid)
    if not total:
        return
    progress.start(f"delete {entity.value}", total)
    # A page at a time (memory stays flat); a deleted page is forgotten before the next is read.
    for page in state.id_map_pages(entity, created_run=rid, page=chunk):
        by_target = {tid: sid for sid, tid in page}
        part = sorted(by_target)
        gone = [str(t) for t in target.delete(entity, part)]
        state.forget_records(entity, [by_target[t] for t in gone if t in by_target])
        report.deleted[entity.value] = report.deleted.get(entity.value, 0) + len(gone)
        if len(gone) < len(part):
            report.not_deleted[entity.value] = (report.not_deleted.get(entity.value, 0)
                                                + len(part) - len(gone))
        progress.advance(f"delete {entity.value}", len(part))
    progress.finish(f"delete {entity.value}")


def _restore(state: StateStore, target: Any, rid: int, report: RollbackReport) -> None:
    """Put back the existing records the run changed, as the run found them."""
    changed = changes_of(state, rid)
    if not changed:
        return
    restore = getattr(target, "restore", None)
    by_name = {e.value: e for e in LOAD_ORDER}
    for name, rows in changed.items():
        for tid, before in rows.items():
            if restore is None or name not in by_name:
                report.not_restored.append(f"{name} {tid}: the target cannot restore it "
                                           f"(it had {before})")
                continue
            restore(by_name[name], tid, before)
            report.restored[name] = report.restored.get(name, 0) + 1
    if not report.not_restored:
        forget_changes(state, rid)
