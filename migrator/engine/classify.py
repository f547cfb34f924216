"""What to do with one record of a step: send it, record an outcome without sending, or nothing.

Rules (normal run):
- never seen: skip deleted/spam tickets; reuse what the target already has (groups by name, agents
  by e-mail, fields by title, organisations by name) -> ``reused``, never deleted by rollback;
  a reused agent is still sent, so its tier's role and ticket scope are set; else send it.
- failed before: left alone (``migrate --retry-failed`` resends only those).
- done (created/updated/unchanged) with the same digest: nothing to do.
- done with no digest (found by recovery where what it holds may be partial): tickets are resent
  with ``recovering=True`` so missing notes are completed; other records are adopted (the digest
  is recorded). Recovery records the digest a batch sent where it knows the record is whole.
- done with another digest (delta): resent with ``recovering=True``; the target completes or
  updates it (e.g. appends the new comments).
- reused: never touched (we did not create it).
- skipped: looked at again only when the record changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migrator.diskmap import DiskMap
from migrator.engine.records import skip_reason
from migrator.models import Entity, Outcome
from migrator.state import RecordOutcome

__all__ = ["Decision", "classify", "reuse_key", "existing_index", "REUSE_ENTITIES"]

DONE = {Outcome.CREATED.value, Outcome.UPDATED.value, Outcome.UNCHANGED.value}


@dataclass(frozen=True)
class Decision:
    """``send`` (with ``recovering``), ``record`` (an outcome, nothing sent) or ``none``."""

    action: str
    recovering: bool = False
    outcome: RecordOutcome | None = None
    counted_as: str | None = None  # for the report when nothing is written


def _lower(v: Any) -> str | None:
    return str(v).strip().lower() if v else None


REUSE_ENTITIES = (Entity.TICKET_FIELDS, Entity.AGENTS, Entity.GROUPS, Entity.ORGANIZATIONS)


def reuse_key(entity: Entity, record: Any) -> list[str]:
    """The names a record is matched by against what the target already has."""
    if entity in (Entity.AGENTS, Entity.END_USERS):
        return [k for k in (_lower(record.email),) if k]
    if entity is Entity.TICKET_FIELDS:
        return [k for k in (_lower(record.title), _lower(record.key)) if k]
    if entity in (Entity.GROUPS, Entity.ORGANIZATIONS):
        return [k for k in (_lower(record.name),) if k]
    return []


def existing_index(target: Any, entity: Entity) -> DiskMap:
    """What the target has of ``entity``, by the names records are matched by (the first record
    of a name wins), in a temporary file: an account's organisations can be many."""
    return DiskMap((key, str(rec.id)) for rec in target.existing(entity) or ()
                   for key in reuse_key(entity, rec))


def _new(entity: Entity, sid: str, record: Any, d: str, existing: dict, options: Any) -> Decision:
    if entity is Entity.TICKETS:
        reason = skip_reason(record, options)
        if reason:
            return Decision("record", outcome=RecordOutcome(sid, Outcome.SKIPPED, reason=reason,
                                                            digest=d))
    for key in reuse_key(entity, record):
        if key in existing:
            found = RecordOutcome(sid, Outcome.REUSED, target_id=str(existing[key]), digest=d,
                                  reason="already in the target (matched by name or e-mail)")
            if entity is Entity.AGENTS:  # still sent: the connector matches it by e-mail and
                # sets the role, ticket scope (Zendesk: custom role) of its tier in the plan
                return Decision("send", counted_as="reused", outcome=found)
            return Decision("record", outcome=found)
    return Decision("send")


def classify(entity: Entity, sid: str, record: Any, d: str, row: dict | None, *,
             existing: dict, options: Any, retry_failed: bool = False) -> Decision:
    """Decide for one record; ``row`` is its id-map row, if any."""
    outcome = row["outcome"] if row else None
    if retry_failed:
        if outcome != Outcome.FAILED.value:
            return Decision("none")
        return Decision("send", recovering=bool(row.get("target_id")))
    if row is None:
        return _new(entity, sid, record, d, existing, options)
    if outcome == Outcome.FAILED.value:
        return Decision("none", counted_as="failed_earlier")
    if outcome == Outcome.REUSED.value:
        return Decision("none", counted_as="reused")
    if row.get("digest") == d:
        return Decision("none", counted_as="unchanged")
    if outcome == Outcome.SKIPPED.value:
        return _new(entity, sid, record, d, existing, options)
    if row.get("digest") is None and entity is not Entity.TICKETS:
        return Decision("record", outcome=RecordOutcome(
            sid, Outcome(outcome), target_id=row.get("target_id"), digest=d,
            reason=row.get("reason")))
    return Decision("send", recovering=True)
