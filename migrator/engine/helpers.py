"""Records a target created for its own needs (a placeholder agent, helper fields), kept in the
id map under the run that caused them so ``migrator rollback`` removes them with the rest.

A helper's id-map row has the source id ``helper:<key>``: no source record has such an id, so
references never resolve to it. A helper already in the id map (an earlier run made it) keeps
its first run.
"""

from __future__ import annotations

from typing import Any

from migrator.models import Outcome
from migrator.state import RecordOutcome, StateStore

__all__ = ["HELPER_PREFIX", "record_helpers"]

HELPER_PREFIX = "helper:"


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
