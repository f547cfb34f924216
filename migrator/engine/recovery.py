"""Recovery on start: batches whose outcome is unknown are reconciled before anything is sent.

A batch left ``pending`` or ``sent`` may have reached the target (a crash between send and
record). Where a job id was recorded, the job is waited for first (a queued Zendesk job could
still create records after we looked); then ``Target.reconcile`` finds what exists by the
source-id markers the loader writes; records the target cannot find by marker (a Freshdesk
company or contact has none) are looked up by their natural key (name, e-mail, field title)
among what the target holds. Found records are recorded as created (attributed to the run
that sent them, so its rollback removes them) with the digest the batch sent them with: the
step then leaves them alone if the record is still the same, or sends the change. A ticket has
no digest (so the step resends it with ``recovering=True`` and missing notes are added) where
it may be partial: sent to be completed, or to a target that adds notes one request at a time
(``TargetCapabilities.atomic_tickets`` false: Freshdesk). Records the target held before the
run are never recorded as created, or a rollback would delete them: the step sends them
again. Those are a reused agent (still sent, to set its role: marked on its batch item) and any
end user or agent the target matched by e-mail instead of creating it (Zendesk's
``create_or_update_many`` writes our marker on it; Freshdesk's 409 reuses the contact): one is
claimed only if the target created it after the batch was written. Records not found are simply
sent again by their step.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import LoadItem, Submission
from migrator.engine.classify import existing_index, reuse_key
from migrator.engine.steps import PLAN_ENTITIES
from migrator.models import Entity, Outcome, iso
from migrator.state import RecordOutcome, StateStore

__all__ = ["recover_open_batches"]

log = logging.getLogger("migrator.engine")

NATURAL_KEY_ENTITIES = (Entity.TICKET_FIELDS, Entity.ORGANIZATIONS, Entity.END_USERS,
                        Entity.AGENTS, Entity.GROUPS)
# Sent even where the account has the e-mail: the target matches them instead of creating.
MATCHED_BY_EMAIL = (Entity.END_USERS, Entity.AGENTS)
# Creation times have a 1 s resolution, and our clock is moved to the target's by the offset
# its ``Date`` headers show (to within a second or so). A record of ours that still looks older
# than its batch is left to its step (matched again, never deleted by a rollback).
CLOCK_SLACK = 2.0


def _made_since(target: Any, entity: Entity, target_id: str, since: float) -> bool | None:
    """Did the target create this record after ``since`` (epoch seconds, our clock, moved to
    the target's by the offset its answers showed)? ``None``: it cannot tell."""
    record = target.fetch(entity, target_id)
    created = iso(getattr(record, "created_at", None)) if record is not None else None
    if created is None:
        return None
    offset = getattr(target, "clock_offset", lambda: None)() or 0.0
    return created >= iso(since + offset - CLOCK_SLACK)  # canonical ISO strings are ordered


def _wait_for_job(target: Any, entity: Entity, ids: list[str], job_id: str) -> None:
    items = [LoadItem(source_id=sid, record=None) for sid in ids]
    try:
        target.collect(Submission(entity=entity, items=items, job_id=job_id))
    except Exception as exc:  # noqa: BLE001 - the marker reconcile below is the source of truth
        log.info("job %s of an interrupted batch could not be read back: %s", job_id, exc)


# Found by asking the target for the keys of the batch (``Target.find_existing``) where it can:
# an account may hold hundreds of thousands of contacts, too many to list into memory.
LOOKED_UP = (Entity.END_USERS,)


class _NaturalKeys:
    """Finds records of an interrupted batch by name/e-mail/title when markers cannot."""

    def __init__(self, state: StateStore, target: Any, plan: Any):
        self.state, self.target, self.plan = state, target, plan
        self._index: dict[Entity, Any] = {}  # entity -> DiskMap

    def _record(self, entity: Entity, sid: str) -> Any:
        if entity in PLAN_ENTITIES:
            return next((r for r in getattr(self.plan, PLAN_ENTITIES[entity], [])
                         if str(r.id) == sid), None)
        return self.state.get_staged(entity, sid)

    def find(self, entity: Entity, ids: list[str]) -> dict[str, str]:
        if entity not in NATURAL_KEY_ENTITIES or not ids:
            return {}
        lookup = getattr(self.target, "find_existing", None)
        if lookup is not None and entity in LOOKED_UP:  # many: ask for these, never list all
            keys = {sid: key for sid in ids if (rec := self._record(entity, sid)) is not None
                    for key in reuse_key(entity, rec)[:1]}  # an end user's one key: e-mail
            hits = lookup(entity, sorted(set(keys.values())))
            return {sid: hits[key] for sid, key in keys.items() if key in hits}
        if entity not in self._index:
            self._index[entity] = existing_index(self.target, entity)
        out = {}
        for sid in ids:
            rec = self._record(entity, sid)
            hit = next((self._index[entity][k] for k in (reuse_key(entity, rec) if rec else [])
                        if k in self._index[entity]), None)
            if hit:
                out[sid] = hit
        return out


def _recover_one(state: StateStore, target: Any, batch: dict, natural: _NaturalKeys) -> int:
    entity = Entity(batch["entity"])
    ids = sorted(str(s) for s in batch["source_ids"])
    if batch.get("job_id"):
        _wait_for_job(target, entity, ids, batch["job_id"])
    found = target.reconcile(entity, ids) if ids else {}
    found.update(natural.find(entity, [s for s in ids if s not in found]))
    prior = state.record_rows(entity, ids)
    whole = entity is not Entity.TICKETS or bool(
        getattr(getattr(target, "capabilities", None), "atomic_tickets", False))
    sent = batch.get("digests") or {}
    held_before = set(batch.get("existed") or ())
    if entity in MATCHED_BY_EMAIL:
        for sid in [s for s in found if s not in held_before
                    and not (prior.get(s) or {}).get("target_id")]:
            made = _made_since(target, entity, found[sid], batch["created_at"])
            if not made:
                log.warning("%s %s (target %s): found after an interrupted batch, but %s; left "
                            "to its step, which matches it: a rollback will not delete it",
                            entity.value, sid, found[sid], "created before the batch"
                            if made is False else "its creation time cannot be read")
                held_before.add(sid)
    outcomes = []
    for sid in ids:
        if sid not in found or sid in held_before:  # not ours to claim: the step sends it
            continue  # again and the target matches it (a reused agent's role is set again)
        existed = (prior.get(sid) or {}).get("target_id")
        outcome = Outcome.UPDATED if existed else Outcome.CREATED
        outcomes.append(RecordOutcome(sid, outcome, target_id=str(found[sid]),
                                      digest=sent.get(sid) if whole else None,
                                      reason="found in the target after an interrupted batch"))
    state.finish_batch(batch["id"], entity, outcomes, batch["run_id"])
    return len(outcomes)


def recover_open_batches(state: StateStore, target: Any, plan: Any = None) -> dict[str, int]:
    """Reconcile every open batch; return records found per entity."""
    found: dict[str, int] = {}
    natural = _NaturalKeys(state, target, plan)
    for batch in state.open_batches():
        n = _recover_one(state, target, batch, natural)
        found[batch["entity"]] = found.get(batch["entity"], 0) + n
    return found
