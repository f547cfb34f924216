"""Where each step's records come from: the RestructurePlan or the staging, tickets assembled.

Tickets are streamed (never all in memory): each staged ticket gets its staged comments (sorted by
time, the first one is the description), then goes through ``plan.map_ticket``. Comments are read
for 500 tickets per query (``StateStore.children_of``): one query per ticket cost more than the
rest of the load path together (bench/, BENCHMARKS.md). A record's
digest is taken *before* references are resolved, so it changes only when the source or the
mapping changed: that is what delta runs compare.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterator

from migrator.engine.steps import PLAN_ENTITIES, Step
from migrator.models import Entity, to_dict
from migrator.state import StateStore, digest

__all__ = ["record_digest", "iter_step_records", "assemble_ticket", "skip_reason"]


def record_digest(record: Any) -> str:
    """A stable digest of a canonical record (nested comments included)."""
    return digest(json.dumps(to_dict(record), sort_keys=True, separators=(",", ":"),
                             ensure_ascii=False, default=str))


def _comment_key(c: Any) -> tuple:
    return (c.created_at or "", len(c.id), c.id)


def assemble_ticket(state: StateStore, ticket: Any) -> Any:
    """The ticket with its staged comments, oldest first."""
    comments = sorted(state.iter_staged(Entity.COMMENTS, parent_id=str(ticket.id)), key=_comment_key)
    return dataclasses.replace(ticket, comments=comments)


def skip_reason(ticket: Any, options: Any) -> str | None:
    """Why a staged ticket is not loaded at all (deleted/spam unless asked for)."""
    if ticket.deleted and not options.include_deleted:
        return "deleted in the source (set options.include_deleted to move it)"
    if ticket.spam and not options.include_spam:
        return "marked as spam in the source (set options.include_spam to move it)"
    return None


ASSEMBLE_CHUNK = 500


def _assembled_tickets(state: StateStore, only: set[str] | None) -> Iterator[Any]:
    """Staged tickets (in ``only`` if given) with their comments, 500 tickets per comments query."""
    chunk: list[Any] = []
    for ticket in state.iter_staged(Entity.TICKETS):
        if only is not None and str(ticket.id) not in only:
            continue
        chunk.append(ticket)
        if len(chunk) >= ASSEMBLE_CHUNK:
            yield from _with_comments(state, chunk)
            chunk = []
    if chunk:
        yield from _with_comments(state, chunk)


def _with_comments(state: StateStore, tickets: list[Any]) -> Iterator[Any]:
    by_ticket = state.children_of(Entity.COMMENTS, [str(t.id) for t in tickets])
    for ticket in tickets:
        comments = sorted(by_ticket.get(str(ticket.id), ()), key=_comment_key)
        yield dataclasses.replace(ticket, comments=comments)


def _mapped_ticket(plan: Any, full: Any) -> Any:
    mapped = plan.map_ticket(full)
    if not mapped.comments and full.comments:  # a mapper that drops nested comments
        mapped = dataclasses.replace(mapped, comments=full.comments)
    return mapped


def iter_step_records(step: Step, state: StateStore, plan: Any, *,
                      only: set[str] | None = None) -> Iterator[Any]:
    """The records a step loads (source ids), optionally only those in ``only``."""
    if step.origin == "plan":
        for rec in getattr(plan, PLAN_ENTITIES[step.entity]):
            if only is None or str(rec.id) in only:
                yield rec
        return
    if step.entity is Entity.TICKETS:
        for full in _assembled_tickets(state, only):
            yield _mapped_ticket(plan, full)
        return
    for rec in state.iter_staged(step.entity):
        if only is None or str(rec.id) in only:
            yield rec


def count_step_records(step: Step, state: StateStore, plan: Any,
                       only: set[str] | None = None) -> int:
    """How many records a step will consider (for progress totals)."""
    if only is not None:
        return len(only)
    if step.origin == "plan":
        return len(getattr(plan, PLAN_ENTITIES[step.entity]))
    return int(state.count_staged(step.entity))
