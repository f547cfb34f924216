"""``migrator status``: where each entity stands, open batches, runs, throughput and ETA."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from migrator.engine.steps import LOAD_ORDER, PLAN_ENTITIES
from migrator.models import Entity
from migrator.state import StateStore
from migrator.state import records as _records

__all__ = ["status", "OUTCOME_COLUMNS"]

OUTCOME_COLUMNS = ("created", "updated", "unchanged", "reused", "skipped", "failed")


def _throughput(state: StateStore, run: dict | None) -> dict[str, Any]:
    """Records per second of a migrate run (tickets and all records)."""
    if run is None:
        return {"run_id": None, "records_per_s": None, "tickets_per_s": None}
    with state.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(_records.c.entity, sa.func.count())
                                 .where(_records.c.run_id == run["id"])
                                 .group_by(_records.c.entity)).all())
    elapsed = max(1e-3, (run["finished_at"] or time.time()) - run["started_at"])
    total = sum(rows.values())
    return {"run_id": run["id"], "elapsed_s": round(elapsed, 1),
            "records_per_s": round(total / elapsed, 2),
            "tickets_per_s": round(rows.get("tickets", 0) / elapsed, 2)}


def _entities(state: StateStore, plan: Any | None) -> dict[str, dict[str, int]]:
    staged = state.count_staged()
    staged = staged if isinstance(staged, dict) else {}
    outcomes = state.outcome_counts()
    out: dict[str, dict[str, int]] = {}
    for e in LOAD_ORDER:
        if e in PLAN_ENTITIES:
            planned = len(getattr(plan, PLAN_ENTITIES[e])) if plan is not None else None
        else:
            planned = staged.get(e.value, 0)
        row = {"staged": staged.get(e.value, 0), "planned": planned}
        row.update({k: outcomes.get(e.value, {}).get(k, 0) for k in OUTCOME_COLUMNS})
        out[e.value] = row
    out["comments"] = {"staged": staged.get(Entity.COMMENTS.value, 0), "planned": None,
                       **{k: 0 for k in OUTCOME_COLUMNS}}
    return out


def _eta(entities: dict[str, dict[str, int]], speed: float | None) -> float | None:
    t = entities["tickets"]
    remaining = max(0, t["planned"] - sum(t[k] for k in OUTCOME_COLUMNS))
    if remaining == 0:
        return 0.0
    return round(remaining / speed, 1) if speed else None


def status(state: StateStore, plan: Any | None = None) -> dict[str, Any]:
    """Everything ``migrator status`` shows, JSON-ready."""
    runs = state.list_runs()
    last = next((r for r in reversed(runs) if r["command"] == "migrate"), None)
    entities = _entities(state, plan)
    speed = _throughput(state, last)
    open_batches = {e: {k: n for k, n in s.items() if k != "done"}
                    for e, s in state.batch_counts().items()}
    return {
        "entities": entities,
        "open_batches": {e: s for e, s in open_batches.items() if s},
        "failed": [{"entity": r["entity"], "source_id": r["source_id"], "reason": r["reason"]}
                   for r in state.failed(limit=50)],
        "runs": [{k: r[k] for k in ("id", "command", "status", "started_at", "finished_at")}
                 for r in runs[-10:]],
        "throughput": speed,
        "eta_s": _eta(entities, speed.get("tickets_per_s")),
    }
