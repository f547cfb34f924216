"""Verify: reconcile staging and target record by record, for a client to sign off.

Tickets are fetched one by one (``Target.fetch``) and compared with what the plan says they
should be: presence, comment count, attachment count and bytes, status, priority, group and
assignee (as target ids), and the original creation time where the target keeps timestamps.
Other entities are counted from the id map (present = created, updated, unchanged or reused).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.engine.records import assemble_ticket, skip_reason
from migrator.engine.resolve import Resolver
from migrator.engine.steps import LOAD_ORDER, PLAN_ENTITIES
from migrator.models import Entity, Outcome
from migrator.progress import NullProgress, Progress
from migrator.state import StateStore

__all__ = ["VerifyReport", "verify", "compare_ticket"]

PRESENT = {Outcome.CREATED.value, Outcome.UPDATED.value, Outcome.UNCHANGED.value,
           Outcome.REUSED.value}


@dataclass
class VerifyReport:
    """The sign-off document: per-entity counts and per-ticket findings."""

    entities: dict[str, dict[str, int]] = field(default_factory=dict)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[dict[str, Any]]:
        """Tickets with at least one problem."""
        return [t for t in self.tickets if t["problems"]]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (written to verify.json)."""
        return {"ok": self.ok, "entities": self.entities, "notes": self.notes,
                "tickets_checked": len(self.tickets), "tickets_with_problems": len(self.mismatches),
                "tickets": self.tickets}


def _files(ticket: Any) -> tuple[int, int]:
    atts = [a for c in ticket.comments for a in c.attachments]
    return len(atts), sum(a.size or 0 for a in atts)


def compare_ticket(expected: Any, actual: Any | None, *, timestamps: bool) -> list[str]:
    """What differs between the planned ticket (target ids) and the target's copy."""
    if actual is None:
        return ["missing in the target"]
    problems = []
    if len(actual.comments) != len(expected.comments):
        problems.append(f"comments: expected {len(expected.comments)}, found {len(actual.comments)}")
    (n_exp, b_exp), (n_act, b_act) = _files(expected), _files(actual)
    if n_act != n_exp:
        problems.append(f"attachments: expected {n_exp}, found {n_act}")
    elif b_exp and b_act and b_act != b_exp:
        problems.append(f"attachment bytes: expected {b_exp}, found {b_act}")
    for name in ("status", "priority", "group_id", "assignee_id"):
        want, got = getattr(expected, name), getattr(actual, name)
        if want is not None and str(want) != str(got):
            problems.append(f"{name}: expected {want}, found {got}")
    if timestamps and expected.created_at and actual.created_at != expected.created_at:
        problems.append(f"created_at: expected {expected.created_at}, found {actual.created_at}")
    return problems


def _entity_counts(state: StateStore, plan: Any) -> dict[str, dict[str, int]]:
    outcomes = state.outcome_counts()
    staged = state.count_staged()
    staged = staged if isinstance(staged, dict) else {}
    out = {}
    for e in LOAD_ORDER:
        o = outcomes.get(e.value, {})
        planned = (len(getattr(plan, PLAN_ENTITIES[e])) if e in PLAN_ENTITIES
                   else staged.get(e.value, 0))
        out[e.value] = {"staged": staged.get(e.value, 0), "planned": planned,
                        "present": sum(n for k, n in o.items() if k in PRESENT),
                        "skipped": o.get("skipped", 0), "failed": o.get("failed", 0)}
    return out


def _expected(state: StateStore, plan: Any, resolver: Resolver, sid: str) -> Any:
    staged = state.get_staged(Entity.TICKETS, sid)
    mapped = plan.map_ticket(assemble_ticket(state, staged))
    return resolver.resolve(Entity.TICKETS, mapped)[0]


def _present_tickets(state: StateStore) -> list[tuple[str, str]]:
    ids = state.target_ids(Entity.TICKETS)
    rows = state.record_rows(Entity.TICKETS, list(ids)) if ids else {}
    return sorted(((s, t) for s, t in ids.items() if rows.get(s, {}).get("outcome") in PRESENT),
                  key=lambda st: (len(st[0]), st[0]))


def verify(state: StateStore, target: Any, plan: Any, options: Any, *, out: Path | None = None,
           in_flight: int = 4, progress: Progress | None = None) -> VerifyReport:
    """Compare every migrated ticket with the target; write ``out`` (verify.json) if given."""
    progress = progress or NullProgress()
    report = VerifyReport(entities=_entity_counts(state, plan))
    resolver = Resolver(state, plan)
    resolver.refresh(LOAD_ORDER)
    resolver.learn_fields(plan, target.existing(Entity.TICKET_FIELDS) or ())
    timestamps = bool(target.capabilities.sets_timestamps)
    if not timestamps:
        report.notes.append(f"{target.name} cannot set original timestamps: creation times "
                            "are kept in fields/notes, not compared here")
    pairs = _present_tickets(state)
    progress.start("verify tickets", len(pairs))

    def check(pair: tuple[str, str]) -> dict[str, Any]:
        sid, tid = pair
        problems = compare_ticket(_expected(state, plan, resolver, sid),
                                  target.fetch(Entity.TICKETS, tid), timestamps=timestamps)
        progress.advance("verify tickets")
        return {"source_id": sid, "target_id": tid, "problems": problems}

    with ThreadPoolExecutor(max_workers=max(1, in_flight)) as pool:
        report.tickets = list(pool.map(check, pairs))
    progress.finish("verify tickets")
    skipped = sum(1 for t in state.iter_staged(Entity.TICKETS) if skip_reason(t, options))
    if skipped:
        report.notes.append(f"{skipped} staged tickets are deleted or spam and were not moved")
    if out is not None:
        out.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    return report
