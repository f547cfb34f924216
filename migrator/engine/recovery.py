"""Recovery on start: batches whose outcome is unknown are reconciled before anything is sent.

A batch left ``pending`` or ``sent`` may have reached the target (a crash between send and
record). Where a job id was recorded, the job is waited for first (a queued Zendesk job could
still create records after we looked); then ``Target.reconcile`` finds what exists by the
source-id markers the loader writes. Found records are recorded as created (attributed to the run
that sent them, so its rollback removes them) *without a digest*: the step then completes them
(tickets are resent with ``recovering=True`` so missing notes are added) or adopts them. Records
not found are simply sent again by their step.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import LoadItem, Submission
from migrator.models import Entity, Outcome
from migrator.state import RecordOutcome, StateStore

__all__ = ["recover_open_batches"]

log = logging.getLogger("migrator.engine")


def _wait_for_job(target: Any, entity: Entity, ids: list[str], job_id: str) -> None:
    items = [LoadItem(source_id=sid, record=None) for sid in ids]
    try:
        target.collect(Submission(entity=entity, items=items, job_id=job_id))
    except Exception as exc:  # noqa: BLE001 - the marker reconcile below is the source of truth
        log.info("job %s of an interrupted batch could not be read back: %s", job_id, exc)


def _recover_one(state: StateStore, target: Any, batch: dict) -> int:
    entity = Entity(batch["entity"])
    ids = sorted(str(s) for s in batch["source_ids"])
    if batch.get("job_id"):
        _wait_for_job(target, entity, ids, batch["job_id"])
    found = target.reconcile(entity, ids) if ids else {}
    prior = state.record_rows(entity, ids)
    outcomes = []
    for sid in ids:
        if sid not in found:
            continue
        existed = (prior.get(sid) or {}).get("target_id")
        outcome = Outcome.UPDATED if existed else Outcome.CREATED
        outcomes.append(RecordOutcome(sid, outcome, target_id=str(found[sid]), digest=None,
                                      reason="found in the target after an interrupted batch"))
    state.finish_batch(batch["id"], entity, outcomes, batch["run_id"])
    return len(outcomes)


def recover_open_batches(state: StateStore, target: Any) -> dict[str, int]:
    """Reconcile every open batch; return records found per entity."""
    found: dict[str, int] = {}
    for batch in state.open_batches():
        n = _recover_one(state, target, batch)
        found[batch["entity"]] = found.get(batch["entity"], 0) + n
    return found
