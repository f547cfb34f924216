"""Batches: recorded before they are sent, marked sent with the job id, finished in one transaction.

Several batches of one step may be in flight (Zendesk jobs, Freshdesk per-ticket requests); a
record is in exactly one batch because batches are cut from disjoint slices of the step's
records. A rejected record becomes a ``failed`` outcome with the target's reason and the run goes
on; a transient error past retries leaves its batch open (the next run reconciles it) and stops
the step once the other batches in flight are recorded.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from connectors.base import LoadItem
from migrator.engine import killpoints
from migrator.engine.helpers import record_changes
from migrator.errors import RecordError
from migrator.models import Entity, Outcome
from migrator.state import RecordOutcome, StateStore

__all__ = ["BatchRunner", "complete_outcomes"]

MAX_FAILURES_KEPT = 200


def complete_outcomes(items: list[LoadItem], outcomes: list[RecordOutcome],
                      digests: dict[str, str | None],
                      stamps: dict[str, str | None] | None = None) -> list[RecordOutcome]:
    """One outcome per item, with the digest (and stamp) of what was sent; a missing one is a
    failure."""
    by_id = {str(o.source_id): o for o in outcomes}
    stamps = stamps or {}
    out = []
    for item in items:
        sid = item.source_id
        o = by_id.get(sid) or RecordOutcome(
            sid, Outcome.FAILED, reason="the target returned no outcome for it")
        out.append(RecordOutcome(sid, o.outcome, o.target_id, o.reason, digests.get(sid),
                                 stamps.get(sid)))
    return out


class BatchRunner:
    """Sends the batches of one step, up to ``in_flight`` at a time."""

    def __init__(self, state: StateStore, target: Any, run_id: int, entity: Entity, *,
                 in_flight: int = 1, on_done: Callable[[list[RecordOutcome]], None] | None = None):
        self.state, self.target, self.run_id, self.entity = state, target, run_id, entity
        self.counts: Counter[str] = Counter()
        self.failures: list[tuple[str, str]] = []
        self.error: BaseException | None = None
        self._on_done = on_done or (lambda outs: None)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, in_flight))
        self._pool = ThreadPoolExecutor(max_workers=max(1, in_flight),
                                        thread_name_prefix=f"batch-{entity.value}")
        self._futures: list[Future] = []

    def send(self, items: list[LoadItem], digests: dict[str, str | None],
             stamps: dict[str, str | None] | None = None,
             existed: set[str] | frozenset[str] = frozenset()) -> None:
        """Queue one batch (blocks while ``in_flight`` batches are out); ``existed``: source ids
        of records the target held before the run (reused agents, sent to set their role)."""
        items = sorted(items, key=lambda i: i.source_id)  # recovery reads items back in this order
        self._slots.acquire()
        fut = self._pool.submit(self._run, items, digests, stamps, existed)
        fut.add_done_callback(lambda _f: self._slots.release())
        # Finished batches that went well need no keeping (a million tickets = 10k futures).
        self._futures = [f for f in self._futures if not f.done() or f.exception() is not None]
        self._futures.append(fut)

    def drain(self) -> None:
        """Wait for every batch; raise the first error once all in flight are recorded."""
        first: BaseException | None = None
        for fut in self._futures:
            try:
                fut.result()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others
                first = first or exc
        self._futures.clear()
        self._pool.shutdown(wait=True)
        if first is not None:
            raise first

    def _run(self, items: list[LoadItem], digests: dict[str, str | None],
             stamps: dict[str, str | None] | None = None,
             existed: set[str] | frozenset[str] = frozenset()) -> None:
        try:
            self._one(items, digests, stamps, existed)
        except BaseException as exc:
            with self._lock:
                self.error = self.error or exc
            raise

    def _one(self, items: list[LoadItem], digests: dict[str, str | None],
             stamps: dict[str, str | None] | None = None,
             existed: set[str] | frozenset[str] = frozenset()) -> None:
        # what each record is sent with; None for one sent to be completed (it may be partial)
        sent = {i.source_id: None if i.recovering else digests.get(i.source_id) for i in items}
        bid = self.state.open_batch(self.run_id, self.entity, [i.source_id for i in items], sent,
                                    existed)
        killpoints.reached("batch.opened", self.entity.value)
        try:
            try:
                submission = self.target.submit(self.entity, items)
            finally:  # existing records it changed are kept before anything can stop us
                record_changes(self.state, self.target, self.run_id)
            killpoints.reached("batch.submitted", self.entity.value)
            self.state.mark_sent(bid, submission.job_id)
            killpoints.reached("batch.sent", self.entity.value)
            outcomes = self.target.collect(submission)
        except RecordError as exc:  # the whole batch was refused: each record keeps the reason
            outcomes = [RecordOutcome(i.source_id, Outcome.FAILED, reason=exc.message) for i in items]
        outcomes = complete_outcomes(items, outcomes, digests, stamps)
        self.state.finish_batch(bid, self.entity, outcomes, self.run_id)
        killpoints.reached("batch.finished", self.entity.value)
        self._count(outcomes)

    def _count(self, outcomes: list[RecordOutcome]) -> None:
        with self._lock:
            for o in outcomes:
                self.counts[o.outcome.value] += 1
                if o.outcome is Outcome.FAILED and len(self.failures) < MAX_FAILURES_KEPT:
                    self.failures.append((o.source_id, o.reason or ""))
        self._on_done(outcomes)
