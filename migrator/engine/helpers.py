"""Records a target created for its own needs (a placeholder agent, helper fields), kept in the
id map under the run that caused them so ``migrator rollback`` removes them with the rest; and
existing records a run changed (:class:`connectors.base.Change`), kept with the values they had
(meta ``restore:<run>``) so ``migrator rollback`` puts them back.

A helper's id-map row has the source id ``helper:<key>``: no source record has such an id, so
references never resolve to it. A helper already in the id map (an earlier run made it) keeps
its first run.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from migrator.models import Outcome
from migrator.state import RecordOutcome, StateStore

__all__ = ["HELPER_PREFIX", "record_helpers", "record_changes", "keep_changes", "watch_changes",
           "changes_of", "forget_changes"]

HELPER_PREFIX = "helper:"
RESTORE_PREFIX = "restore:"
_CHANGES_LOCK = threading.Lock()  # batches of one step record from several threads


def changes_of(state: StateStore, run_id: int) -> dict[str, dict[str, dict[str, Any]]]:
    """entity -> target id -> the values it had before ``run_id`` changed it."""
    text = state.get_meta(f"{RESTORE_PREFIX}{run_id}")
    return json.loads(text) if text else {}


def forget_changes(state: StateStore, run_id: int) -> None:
    """After a rollback restored them."""
    state.set_meta(f"{RESTORE_PREFIX}{run_id}", "")


def record_changes(state: StateStore, target: Any, run_id: int) -> int:
    """Ask the target which existing records it changed since the last call and keep their
    previous values with the run (targets without ``changes()`` change nothing). Returns how
    many were new."""
    report = getattr(target, "changes", None)
    return keep_changes(state, run_id, list(report() or ()) if report is not None else [])


def keep_changes(state: StateStore, run_id: int, changed: list[Any]) -> int:
    """Keep ``changed`` (:class:`connectors.base.Change`) with the run; the first value seen in
    a run wins (it is what the run found). Also the sink a target's ``watch_changes`` gets, so
    a change is kept before the write that makes it. Returns how many were new."""
    if not changed:
        return 0
    with _CHANGES_LOCK:
        kept = changes_of(state, run_id)
        new = 0
        for change in changed:
            rows = kept.setdefault(change.entity.value, {})
            if str(change.target_id) not in rows:
                rows[str(change.target_id)] = dict(change.before)
                new += 1
        if new:
            state.set_meta(f"{RESTORE_PREFIX}{run_id}", json.dumps(kept, sort_keys=True))
        return new


def watch_changes(state: StateStore, target: Any, run_id: int | None) -> None:
    """Have the target hand over each change before its write (``run_id`` ``None``: stop).

    Targets without ``watch_changes`` are asked after each batch (:func:`record_changes`)."""
    watch = getattr(target, "watch_changes", None)
    if callable(watch):
        watch(None if run_id is None else (lambda changed: keep_changes(state, run_id, changed)))


def record_helpers(state: StateStore, target: Any, run_id: int) -> int:
    """Ask the target which helpers it created since the last call; record new ones. Returns
    how many were recorded (targets without ``helpers()`` have none)."""
    report = getattr(target, "helpers", None)
    if report is None:
        return 0
    recorded = 0
    by_entity: dict[Any, list[RecordOutcome]] = {}
    for helper in report() or ():
        by_entity.setdefault(helper.entity, []).append(RecordOutcome(
            HELPER_PREFIX + helper.key, Outcome.CREATED, target_id=str(helper.target_id),
            reason=f"created by the target connector for its own use ({helper.key})"))
    for entity, outcomes in by_entity.items():
        known = state.record_rows(entity, [o.source_id for o in outcomes])
        new = [o for o in outcomes if o.source_id not in known]
        if new:
            state.record_outcomes(entity, new, run_id)
            recorded += len(new)
    return recorded
