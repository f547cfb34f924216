"""The migrate run: recovery, then each step in order, in batches, with outcomes per record.

    recover open batches -> read what the target has (reuse) -> for each step: records ->
    classify -> resolve references -> batches (open -> submit -> sent -> collect -> finish)

A step stops cleanly on a transient error past retries (its open batches are reconciled by the
next run) and on Ctrl-C/SIGTERM (batches in flight are recorded first).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from connectors.base import LoadItem
from migrator.engine.batches import BatchRunner
from migrator.diskmap import DiskMap
from migrator.engine.classify import REUSE_ENTITIES, classify, existing_index
from migrator.engine.helpers import record_helpers, watch_changes
from migrator.engine.records import (TicketWork, count_step_records, iter_step_records,
                                     iter_ticket_work, record_digest)
from migrator.engine.recovery import recover_open_batches
from migrator.engine.report import RunReport, StepReport
from migrator.engine.resolve import Resolver
from migrator.engine.signals import StopFlag
from migrator.engine.steps import STEPS, Step, check_plan_references, check_steps
from migrator.errors import InterruptedRun, TransientError
from migrator.models import Entity, Outcome
from migrator.progress import NullProgress, Progress
from migrator.state import RecordOutcome, StateStore

__all__ = ["MigrateOptions", "migrate", "load_existing"]


@dataclass
class MigrateOptions:
    """How to run: a selection (sample), retry-failed only, concurrency."""

    # per entity: the source ids to load, or None for all of them; an entity left out: none
    selection: dict[Entity, set[str] | None] | None = None
    retry_failed: bool = False
    in_flight: int | None = None
    workdir: Path | None = None
    label: dict[str, Any] = field(default_factory=dict)  # recorded with the run (sample, seed...)


def load_existing(target: Any) -> dict[Entity, DiskMap]:
    """What the target already has, indexed by the names records are matched by."""
    return {entity: existing_index(target, entity) for entity in REUSE_ENTITIES}


def selected(selection: dict[Entity, set[str] | None] | None, entity: Entity
             ) -> set[str] | None:
    """The ids of ``entity`` a selection loads (``None``: all of them)."""
    if selection is None:
        return None
    ids = selection.get(entity, set())
    return None if ids is None else set(ids)


def _chunks(records: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _take(digests: dict[str, Any], items: list[LoadItem]) -> dict[str, Any]:
    """The digests (or stamps) of one batch, removed from the step's map so memory stays flat."""
    return {i.source_id: digests.pop(i.source_id, None) for i in items}


class _Run:
    def __init__(self, state, target, plan, options, opts: MigrateOptions, progress, stop):
        self.state, self.target, self.plan, self.options = state, target, plan, options
        self.opts, self.progress, self.stop = opts, progress, stop
        caps = target.capabilities
        self.size = max(1, min(caps.batch_size, options.batch_size))
        self.in_flight = opts.in_flight or options.max_in_flight
        self.resolver = Resolver(state, plan)
        self.existing: dict[Entity, Any] = {}  # entity -> DiskMap of what the target has
        self.run_id = 0
        self._by_outcome: dict[str, Any] = {}
        self._existed: set[str] = set()  # decided "send" but held by the target before the run

    def only(self, step: Step) -> set[str] | None:
        return selected(self.opts.selection, step.entity)

    def step(self, step: Step, report: StepReport) -> None:
        name, only = f"load {step.entity.value}", self.only(step)
        report.planned = count_step_records(step, self.state, self.plan, only)
        if not self.can_load(step.entity):
            self._not_kept(step, report, only)
            return
        self.progress.start(name, report.planned)
        self.resolver.refresh(step.needs)
        if step.entity is Entity.TICKETS:
            self.resolver.learn_fields(self.plan, self.target.existing(Entity.TICKET_FIELDS) or ())
        runner = BatchRunner(self.state, self.target, self.run_id, step.entity,
                             in_flight=self.in_flight,
                             on_done=lambda outs: self.progress.advance(name, len(outs)))
        try:
            self._feed(step, report, runner, only)
        finally:
            try:
                runner.drain()
            finally:
                report.counts.update(runner.counts)
                report.failures.extend(runner.failures)
                record_helpers(self.state, self.target, self.run_id)
        self.progress.finish(name)

    def can_load(self, entity: Entity) -> bool:
        """Whether the target keeps this entity at all (time entries are optional)."""
        return entity is not Entity.TIME_ENTRIES or bool(
            getattr(self.target.capabilities, "time_entries", False))

    def _not_kept(self, step: Step, report: StepReport, only: set[str] | None) -> None:
        """Record each staged record of an entity the target cannot keep as skipped, with why."""
        reason = (f"{self.target.name} keeps no {step.entity.value.replace('_', ' ')} through "
                  "its API; the time stays in the restructuring report's baselines")
        records = iter_step_records(step, self.state, self.plan, only=only)
        for chunk in _chunks(records, 500):  # streamed: memory does not grow with the account
            self.state.record_outcomes(step.entity, [
                RecordOutcome(str(r.id), Outcome.SKIPPED, reason=reason) for r in chunk],
                self.run_id)
            report.counts["skipped"] += len(chunk)

    def _feed(self, step: Step, report: StepReport, runner: BatchRunner,
              only: set[str] | None) -> None:
        if step.entity is Entity.TICKETS:
            return self._feed_tickets(report, runner, only)
        pending: list[LoadItem] = []
        digests: dict[str, str | None] = {}  # of records decided but not yet sent
        for chunk in _chunks(iter_step_records(step, self.state, self.plan, only=only), self.size):
            if self.stop.is_set or runner.error is not None:
                return
            rows = self.state.record_rows(step.entity, [str(r.id) for r in chunk])
            work = [TicketWork(str(r.id), rows.get(str(r.id)), None, r) for r in chunk]
            for item in self._decide(step, report, work, digests, {}):
                pending.append(item)
                if len(pending) >= self.size:
                    runner.send(pending, _take(digests, pending),
                                existed=self._take_existed(pending))
                    pending = []
        if pending and not self.stop.is_set and runner.error is None:
            runner.send(pending, _take(digests, pending), existed=self._take_existed(pending))

    def _take_existed(self, items: list[LoadItem]) -> set[str]:
        found = {i.source_id for i in items if i.source_id in self._existed}
        self._existed -= found
        return found

    def _settled(self, row: dict) -> bool:
        """A row with an unchanged stamp that needs nothing (so it is not even decoded)."""
        return self._settled_decision(row).action == "none"

    def _settled_decision(self, row: dict) -> Any:
        # With the same digest, what classify decides depends on the outcome alone.
        dec = self._by_outcome.get(row["outcome"])
        if dec is None:
            dec = self._by_outcome[row["outcome"]] = classify(
                Entity.TICKETS, "", None, row["digest"], row, existing={},
                options=self.options, retry_failed=self.opts.retry_failed)
        return dec

    def _feed_tickets(self, report: StepReport, runner: BatchRunner,
                      only: set[str] | None) -> None:
        step = next(s for s in STEPS if s.entity is Entity.TICKETS)
        pending: list[LoadItem] = []
        digests: dict[str, str | None] = {}
        stamps: dict[str, str | None] = {}
        for page in iter_ticket_work(self.state, self.plan, only=only, settled=self._settled):
            if self.stop.is_set or runner.error is not None:
                return
            for item in self._decide(step, report, page, digests, stamps):
                pending.append(item)
                if len(pending) >= self.size:
                    runner.send(pending, _take(digests, pending), _take(stamps, pending))
                    pending = []
        if pending and not self.stop.is_set and runner.error is None:
            runner.send(pending, _take(digests, pending), _take(stamps, pending))

    def _decide(self, step: Step, report: StepReport, work: list[TicketWork],
                digests: dict[str, str | None], stamps: dict[str, str | None]) -> list[LoadItem]:
        entity = step.entity
        items, outcomes, restamp = [], [], {}
        unchanged = 0
        existing = self.existing.get(entity, {})
        self.resolver.prefetch(entity, [w.record for w in work if w.record is not None])
        for w in work:
            sid, rec, row, stamp = w.sid, w.record, w.row, w.stamp
            if rec is None:  # settled by its stamp, never decoded: nothing to do
                dec = self._settled_decision(row)
                if dec.counted_as:
                    report.counts[dec.counted_as] += 1
                    unchanged += 1
                continue
            d = record_digest(rec)
            dec = classify(entity, sid, rec, d, row, existing=existing,
                           options=self.options, retry_failed=self.opts.retry_failed)
            if dec.action == "record":
                o = dec.outcome
                outcomes.append(o if stamp is None else dataclasses.replace(o, stamp=stamp))
            elif dec.action == "send":
                item = self._item(entity, sid, rec, dec.recovering, outcomes)
                if item is not None:
                    items.append(item)
                    digests[sid] = d
                    if dec.outcome is not None and dec.outcome.outcome is Outcome.REUSED:
                        self._existed.add(sid)  # a reused agent: recovery must not claim it
                    if stamp is not None:
                        stamps[sid] = stamp
            elif dec.counted_as:
                report.counts[dec.counted_as] += 1
                unchanged += 1
                if stamp is not None and row is not None and row.get("stamp") != stamp \
                        and row.get("digest") == d:
                    restamp[sid] = stamp  # same mapped digest: skip it unread next time
        if unchanged:
            self.progress.advance(f"load {entity.value}", unchanged)
        if restamp:
            self.state.set_stamps(entity, restamp)
        if outcomes:
            self.state.record_outcomes(entity, outcomes, self.run_id)
            report.counts.update(o.outcome.value for o in outcomes)
            self.progress.advance(f"load {entity.value}", len(outcomes))
        return items

    def _item(self, entity: Entity, sid: str, rec: Any, recovering: bool,
              outcomes: list[RecordOutcome]) -> LoadItem | None:
        resolved, problem = self.resolver.resolve(entity, rec)
        if problem:  # no digest: looked at again next run, when the reference may exist
            outcomes.append(RecordOutcome(sid, Outcome.SKIPPED, reason=problem))
            return None
        return LoadItem(source_id=sid, record=resolved, recovering=recovering,
                        attachments_dir=self.opts.workdir)


def migrate(state: StateStore, target: Any, plan: Any, options: Any, *,
            opts: MigrateOptions | None = None, progress: Progress | None = None,
            stop: StopFlag | None = None) -> RunReport:
    """Run (or resume) the migration; returns what happened per step."""
    opts = opts or MigrateOptions()
    check_steps(STEPS)
    check_plan_references(plan)
    run = _Run(state, target, plan, options, opts, progress or NullProgress(), stop or StopFlag())
    for old in state.list_runs():  # a run still "running" died without a word (SIGKILL, power)
        if old["status"] == "running" and old["command"] in ("migrate", "rollback"):
            state.finish_run(old["id"], "crashed")
    run.run_id = state.start_run("migrate", {"retry_failed": opts.retry_failed, **opts.label})
    report = RunReport(run_id=run.run_id)
    watch_changes(state, target, run.run_id)  # changed existing records kept before each write
    try:
        report.recovered = recover_open_batches(state, target, plan)
        run.existing = load_existing(target)
        for step in STEPS:
            run.stop.check()
            run.step(step, report.step(step.entity.value))
        run.stop.check()
        report.status = "done"
    except (InterruptedRun, KeyboardInterrupt):
        report.status = "interrupted"
        raise
    except TransientError:
        report.status = "failed"
        raise
    finally:
        watch_changes(state, target, None)
        if report.status == "running":
            report.status = "failed"
        state.finish_run(run.run_id, report.status)
    report.outstanding_failed = state.count_failed()
    return report
