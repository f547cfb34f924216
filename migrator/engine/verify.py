"""Verify: reconcile staging and target record by record, for a client to sign off.

Tickets are fetched one by one (``Target.fetch``) and compared with what the plan says they
should be: presence, comment count, attachment count and bytes (of the files downloaded at
export), status, priority, group and assignee (as target ids), and the original creation time
where the target keeps timestamps.
Other entities are counted from the id map (present = created, updated, unchanged or reused).
The team is compared with the plan as the target holds it now (``Target.team_structure``):
every planned group that is in the id map exists under its name, escalates to its lead's target
id (where the target has escalation settings) and has its planned members (members the target
had before are not counted against it).

It streams: tickets are read from the id map a page at a time, every result goes to the JSON
file as it comes, and only the counts and the first differing tickets stay in memory.
"""

from __future__ import annotations

import errno
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from connectors.base import MIGRATOR_NOTE
from migrator.engine.records import assemble_ticket, skip_reason
from migrator.engine.resolve import Resolver
from migrator.engine.steps import LOAD_ORDER, PLAN_ENTITIES
from migrator.models import Entity, Outcome
from migrator.progress import NullProgress, Progress
from migrator.state import StateStore

__all__ = ["VerifyReport", "verify", "compare_ticket"]

PRESENT = {Outcome.CREATED.value, Outcome.UPDATED.value, Outcome.UNCHANGED.value,
           Outcome.REUSED.value}


KEPT = 1000  # differing tickets kept in memory (the JSON file has every ticket)


@dataclass
class VerifyReport:
    """The sign-off document: per-entity counts and per-ticket findings."""

    entities: dict[str, dict[str, int]] = field(default_factory=dict)
    checked: int = 0  # tickets compared
    differing: int = 0  # tickets with at least one problem
    mismatches: list[dict[str, Any]] = field(default_factory=list)  # the first KEPT of them
    notes: list[str] = field(default_factory=list)
    team_checked: int = 0  # groups and memberships compared
    team: list[dict[str, Any]] = field(default_factory=list)  # those that differ

    @property
    def ok(self) -> bool:
        return not self.differing and not self.team

    def add(self, result: dict[str, Any]) -> None:
        """Count one ticket's result; keep it if it differs (up to KEPT)."""
        self.checked += 1
        if result["problems"]:
            self.differing += 1
            if len(self.mismatches) < KEPT:
                self.mismatches.append(result)

    def summary(self) -> dict[str, Any]:
        """JSON-ready form without the per-ticket list."""
        return {"ok": self.ok, "entities": self.entities, "notes": self.notes,
                "team_checked": self.team_checked, "team": self.team,
                "tickets_checked": self.checked, "tickets_with_problems": self.differing}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form with the differing tickets kept in memory (``--json``; the file
        verify.json lists every ticket)."""
        return {**self.summary(), "mismatches": self.mismatches}


def _files(comments: list[Any], *, downloaded: bool = False) -> tuple[int, int]:
    atts = [a for c in comments for a in c.attachments if a.local_path or not downloaded]
    return len(atts), sum(a.size or 0 for a in atts)


def compare_ticket(expected: Any, actual: Any | None, *, timestamps: bool) -> list[str]:
    """What differs between the planned ticket (target ids) and the target's copy.

    Only files downloaded at export can be in the target. A note the target's loader added
    (``MIGRATOR_NOTE``: Freshdesk lists there the files over its per-ticket limit) is not
    history: it is not counted, and the files it lists may be missing.
    """
    if actual is None:
        return ["missing in the target"]
    problems = []
    history = [c for c in actual.comments if not c.extra.get(MIGRATOR_NOTE)]
    listed = len(history) < len(actual.comments)
    if len(history) != len(expected.comments):
        problems.append(f"comments: expected {len(expected.comments)}, found {len(history)}")
    (n_exp, b_exp), (n_act, b_act) = _files(expected.comments, downloaded=True), _files(history)
    if n_act != n_exp and not (listed and n_act < n_exp):
        problems.append(f"attachments: expected {n_exp}, found {n_act}")
    elif n_act == n_exp and b_exp and b_act and b_act != b_exp:
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


def _team(state: StateStore, target: Any, plan: Any, report: VerifyReport) -> None:
    """Groups (name, escalation) and memberships as planned, against the target's groups now."""
    read = getattr(target, "team_structure", None)
    if read is None:
        report.notes.append(f"{target.name} cannot list its groups' members: the team was "
                            "not compared")
        return
    held = read()
    groups, agents = state.target_ids(Entity.GROUPS), state.target_ids(Entity.AGENTS)
    escalation = bool(getattr(target.capabilities, "group_escalation", False))

    def differs(entity: Entity, sid: str, tid: str, problems: list[str]) -> None:
        report.team_checked += 1
        if problems:
            report.team.append({"entity": entity.value, "source_id": sid, "target_id": tid,
                                "problems": problems})

    for g in getattr(plan, "groups", []):
        tid = groups.get(str(g.id))
        if tid is None:  # not loaded: the entity counts say why
            continue
        now = held.get(tid)
        problems = [] if now is not None else ["missing in the target"]
        if now is not None and now.name.strip().lower() != g.name.strip().lower():
            problems.append(f"name: expected {g.name!r}, found {now.name!r}")
        lead = agents.get(str(g.escalate_to)) if g.escalate_to else None
        if now is not None and escalation and lead and now.escalate_to != lead:
            problems.append(f"escalates to {now.escalate_to}, expected {lead} "
                            f"(agent {g.escalate_to})")
        differs(Entity.GROUPS, str(g.id), tid, problems)
    for m in getattr(plan, "memberships", []):
        agent, group = agents.get(str(m.agent_id)), groups.get(str(m.group_id))
        if agent is None or group is None:
            continue
        now = held.get(group)
        member = now is not None and agent in now.members
        differs(Entity.MEMBERSHIPS, str(m.id), f"{agent}@{group}", [] if member else [
            f"agent {m.agent_id} (target {agent}) is not a member of group {m.group_id!r}"])


def _write(out: Path, report: VerifyReport, lines: IO[str]) -> None:
    """verify.json: the summary, then every ticket's result as one line of its list."""
    part = out.with_name(out.name + ".part")
    with part.open("w", encoding="utf-8") as fh:
        head = json.dumps(report.summary(), indent=2, ensure_ascii=False)
        fh.write(head[:-2] + ',\n  "tickets": [')
        lines.seek(0)
        for i, line in enumerate(lines):
            fh.write(("\n    " if i == 0 else ",\n    ") + line.rstrip("\n"))
        fh.write("\n  ]\n}\n")
    os.replace(part, out)


def verify(state: StateStore, target: Any, plan: Any, options: Any, *, out: Path | None = None,
           in_flight: int = 4, progress: Progress | None = None, page: int = 500
           ) -> VerifyReport:
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
    _team(state, target, plan, report)
    progress.start("verify tickets", state.count_id_map(Entity.TICKETS, outcomes=PRESENT))

    def check(pair: tuple[str, str]) -> dict[str, Any]:
        sid, tid = pair
        problems = compare_ticket(_expected(state, plan, resolver, sid),
                                  target.fetch(Entity.TICKETS, tid), timestamps=timestamps)
        progress.advance("verify tickets")
        return {"source_id": sid, "target_id": tid, "problems": problems}

    if out is not None and not out.parent.is_dir():  # said with the user's path, not ours
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(out.parent))
    lines = (out.with_name(out.name + ".tickets").open("w+", encoding="utf-8")
             if out is not None else None)
    try:
        with ThreadPoolExecutor(max_workers=max(1, in_flight)) as pool:
            for pairs in state.id_map_pages(Entity.TICKETS, outcomes=PRESENT, page=page):
                for result in pool.map(check, pairs):
                    report.add(result)
                    if lines is not None:
                        lines.write(json.dumps(result, ensure_ascii=False) + "\n")
        progress.finish("verify tickets")
        skipped = sum(1 for t in state.iter_staged(Entity.TICKETS) if skip_reason(t, options))
        if skipped:
            report.notes.append(f"{skipped} staged tickets are deleted or spam and were not moved")
        if lines is not None:
            _write(out, report, lines)
    finally:
        if lines is not None:
            lines.close()
            Path(lines.name).unlink(missing_ok=True)
    return report
