"""``migrator migrate --follow``: export and load at the same time.

The export runs in a thread (:func:`~migrator.engine.exporter.run_export`, with a listener); this
thread loads in rounds, each an ordinary :func:`~migrator.engine.migrate.migrate` run with a
selection:

1. as soon as the streams the load steps read are all staged (the ones the source exports before
   tickets: fields, people, organisations, groups), a first round loads them, plus the tickets
   whose comments are already staged;
2. then, whenever at least a batch of tickets got all their comments staged (a comments pass
   closed), a round loads those tickets, after the plan's records (groups, agents, memberships,
   ticket fields: the plan is rebuilt each round, so a field first needed now is created first);
3. once the export finished, a last round without a selection: the same run as ``migrate``
   after ``export``, so whatever the rounds did not reach (tickets whose comments were staged
   by an earlier, killed process, or beyond the ``READY_MOST`` kept waiting when the export
   outpaced the rounds; references that were skipped) is loaded now.

Both sides keep their own budgets full: the export's lanes read the source while the rounds
write the target. Each round is a run of its own (recovery of open batches first, delta by
digest), so a kill at any point followed by the same command finishes with every record
loaded once. The state store sees two writers (staging and the rounds): SQLite serialises them
with its lock (busy timeout 60 s, short transactions), PostgreSQL with row locks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from migrator.engine.exporter import ExportReport, run_export
from migrator.engine.migrate import MigrateOptions, migrate
from migrator.engine.report import RunReport
from migrator.engine.signals import StopFlag
from migrator.engine.steps import PLAN_ENTITIES, STEPS
from migrator.errors import InterruptedRun
from migrator.models import Entity
from migrator.progress import NullProgress, Progress

__all__ = ["FollowReport", "Readiness", "follow"]


READY_MOST = 10_000  # ticket ids kept for the next round; more are left to the last round


class Readiness:
    """What the export has staged so far, told by the exporter's staging thread.

    The ticket ids waiting for a round are at most ``most``: when the export outpaces the
    rounds, the ids beyond are dropped (``dropped`` counts them) and the last round, which
    loads whatever is staged, loads those tickets. So neither this nor a round's selection
    grows with the number of tickets.
    """

    def __init__(self, needed: set[Entity], most: int = READY_MOST):
        self.needed = set(needed)
        self.cond = threading.Condition()
        self.ready: dict[str, None] = {}  # ticket ids whose comments are staged, in order
        self.most = max(1, most)
        self.dropped = 0
        self.finished = False
        self.first_ready_at: float | None = None

    def stream_done(self, entity: Entity) -> None:
        with self.cond:
            self.needed.discard(entity)
            self.cond.notify_all()

    def comments_staged(self, ticket_ids: list[str]) -> None:
        with self.cond:
            room = self.most - len(self.ready)
            for tid in ticket_ids:
                if tid in self.ready:
                    continue
                if room <= 0:
                    self.dropped += 1
                    continue
                self.ready[tid] = None
                room -= 1
            self.cond.notify_all()

    def end(self) -> None:
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def wait(self, ok: Callable[[], bool], stop: StopFlag) -> None:
        """Until ``ok()`` or the export ended (or a stop was asked for)."""
        with self.cond:
            while not (ok() or self.finished or stop.is_set):
                self.cond.wait(timeout=0.2)

    def take(self) -> list[str]:
        with self.cond:
            out, self.ready = list(self.ready), {}
            return out


@dataclass
class FollowReport:
    """The export, the rounds loaded while it ran, and the last round."""

    export: ExportReport | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    final: RunReport | None = None


def _all_ids(plan: Any, staged: bool) -> dict[Entity, set[str] | None]:
    """Every record of the steps before tickets: those of the plan each round (the plan is
    rebuilt from more tickets each time: a ticket field first needed now is created now,
    before the tickets that use it), the staged ones (people, organisations) in the first
    (``None``: all of them, never listed into memory)."""
    out: dict[Entity, set[str] | None] = {}
    for step in STEPS:
        if step.entity is Entity.TICKETS:
            continue
        if step.origin == "plan":
            out[step.entity] = {str(r.id) for r in getattr(plan, PLAN_ENTITIES[step.entity])}
        elif staged:
            out[step.entity] = None
    return out


def follow(source: Any, state: Any, target: Any, workdir: Any, options: Any, *,
           plan_for: Callable[[], Any], stop: StopFlag, progress: Progress | None = None,
           min_round: int | None = None) -> FollowReport:
    """Export from ``source`` and load into ``target`` at once (see the module docstring).

    ``plan_for()`` builds the plan from what is staged (called once per round).
    """
    progress = progress or NullProgress()
    entities = list(source.entities())
    cut = entities.index(Entity.TICKETS) if Entity.TICKETS in entities else len(entities)
    size = min_round or options.batch_size
    readiness = Readiness({e for e in entities[:cut] if e is not Entity.COMMENTS},
                          most=max(READY_MOST, size))
    report = FollowReport()
    failure: list[BaseException] = []

    def export() -> None:
        try:
            report.export = run_export(source, state, workdir, options=options,
                                       progress=progress, stop=stop, listener=readiness)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            failure.append(exc)
            stop.set("the export failed")
        finally:
            readiness.end()

    thread = threading.Thread(target=export, name="follow-export", daemon=True)
    thread.start()
    try:
        readiness.wait(lambda: not readiness.needed, stop)
        first = True
        while not readiness.finished and not stop.is_set:
            if not first:
                readiness.wait(lambda: len(readiness.ready) >= size, stop)
                if readiness.finished or stop.is_set:
                    break
            _round(report, state, target, options, workdir, plan_for, readiness.take(),
                   first, progress, stop)
            first = False
    except InterruptedRun:
        if not failure:  # a stop asked for; else the export's own error is raised below
            raise
    finally:
        thread.join()
    if failure:
        raise failure[0]
    stop.check()
    plan = plan_for()
    report.final = migrate(state, target, plan, options,
                           opts=MigrateOptions(workdir=workdir, label={"follow": "final"}),
                           progress=progress, stop=stop)
    return report


def _round(report: FollowReport, state: Any, target: Any, options: Any, workdir: Any,
           plan_for: Callable[[], Any], tickets: list[str], first: bool, progress: Progress,
           stop: StopFlag) -> None:
    plan = plan_for()
    selection = _all_ids(plan, staged=first)
    selection[Entity.TICKETS] = set(tickets)
    started = time.time()
    run = migrate(state, target, plan, options,
                  opts=MigrateOptions(selection=selection, workdir=workdir,
                                      label={"follow": len(report.rounds) + 1}),
                  progress=progress, stop=stop)
    report.rounds.append({"run_id": run.run_id, "tickets": len(tickets), "started": started,
                          "status": run.status})
