"""``migrate --dry-run``: read the target (what exists) and show what a run would do; write nothing."""

from __future__ import annotations

from typing import Any

from migrator.engine.classify import classify
from migrator.engine.migrate import MigrateOptions, _chunks, load_existing, selected
from migrator.engine.records import count_step_records, iter_step_records, record_digest
from migrator.engine.report import RunReport, StepReport
from migrator.engine.steps import STEPS, Step, check_plan_references, check_steps
from migrator.models import Outcome
from migrator.state import StateStore

__all__ = ["dry_run"]

MAX_NOTES = 15


def _label(rec: Any) -> str:
    if getattr(rec, "email", None) and getattr(rec, "name", None):
        return f"{rec.name} <{rec.email}>"
    return str(getattr(rec, "name", None) or getattr(rec, "title", None)
               or getattr(rec, "email", None) or rec.id)


def _step(state: StateStore, plan: Any, options: Any, opts: MigrateOptions, step: Step,
          existing: dict, sr: StepReport) -> None:
    only = selected(opts.selection, step.entity)
    sr.planned = count_step_records(step, state, plan, only)
    for chunk in _chunks(iter_step_records(step, state, plan, only=only), 500):
        rows = state.record_rows(step.entity, [str(r.id) for r in chunk])
        for rec in chunk:
            sid = str(rec.id)
            dec = classify(step.entity, sid, rec, record_digest(rec), rows.get(sid),
                           existing=existing.get(step.entity, {}), options=options,
                           retry_failed=opts.retry_failed)
            if dec.action == "send" and dec.outcome is None:
                sr.counts["would_update" if dec.recovering else "would_create"] += 1
            elif dec.outcome is not None:  # recorded, or reused and still sent (agents)
                outcome = dec.outcome.outcome
                sr.counts[outcome.value] += 1
                if outcome is Outcome.REUSED and len(sr.notes) < MAX_NOTES:
                    sr.notes.append(f"reuse {_label(rec)!r} (target id {dec.outcome.target_id})")
            elif dec.counted_as:
                sr.counts[dec.counted_as] += 1


def dry_run(state: StateStore, target: Any, plan: Any, options: Any,
            opts: MigrateOptions | None = None) -> RunReport:
    """What ``migrate`` would create, reuse, update or leave; nothing is written anywhere."""
    opts = opts or MigrateOptions()
    check_steps(STEPS)
    check_plan_references(plan)
    existing = load_existing(target)
    report = RunReport(run_id=None, dry_run=True, status="dry-run")
    for batch in state.open_batches():
        report.recovered[batch["entity"]] = (report.recovered.get(batch["entity"], 0)
                                             + len(batch["source_ids"]))
    for step in STEPS:
        _step(state, plan, options, opts, step, existing, report.step(step.entity.value))
    report.outstanding_failed = state.count_failed()
    return report
