"""Where each step's records come from: the RestructurePlan or the staging, tickets assembled.

Tickets are streamed (never all in memory): each staged ticket gets its staged comments (sorted by
time, the first one is the description), then goes through ``plan.map_ticket``. Comments are read
for 500 tickets per query (``StateStore.children_of``): one query per ticket cost more than the
rest of the load path together (bench/, BENCHMARKS.md). A record's
digest is taken *before* references are resolved, so it changes only when the source or the
mapping changed: that is what delta runs compare.

The tickets step reads pages with :func:`iter_ticket_work`: one indexed join gives 500 staged
tickets (payload undecoded) with their id-map rows, one more query their comments (digests, and
the payloads too on a page mostly never loaded). Each staged ticket comes with its
id-map row and a *stamp*, the digest of its staged rows' digests (ticket and comments, computed
at staging) and the plan's fingerprint (:func:`plan_fingerprint`). A ticket whose row carries
the same stamp had the same input under the same mapping, so its mapped digest is the one the
row holds: it is not decoded, mapped or digested again. That is what makes a resume after a
crash at 50% start sending after a scan of digests, not a replay of the done half.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from migrator.engine.steps import PLAN_ENTITIES, Step
from migrator.models import Comment, Entity, Ticket, from_dict, to_dict
from migrator.state import StateStore, digest, dumps, loads

__all__ = ["record_digest", "iter_step_records", "assemble_ticket", "skip_reason",
           "plan_fingerprint", "ticket_stamp", "TicketWork", "iter_ticket_work"]

# Part of every plan fingerprint: bump it when ``map_ticket`` itself changes what it writes, so
# stamps taken by an older release do not let a ticket skip the new mapping.
MAPPING_CODE_VERSION = "1"


def record_digest(record: Any) -> str:
    """A stable digest of a canonical record (nested comments included)."""
    return digest(dumps(to_dict(record)))


def _fp_data(plan: Any) -> Any:
    """What a RestructurePlan's ``map_ticket`` depends on, as plain data; ``None`` if unknown."""
    mapping, d = getattr(plan, "mapping", None), getattr(plan, "directory", None)
    mapper, pl = getattr(plan, "_mapper", None), getattr(plan, "placements", None)
    if not hasattr(mapping, "model_dump_json") or d is None or mapper is None or pl is None:
        return None
    return {
        "code": MAPPING_CODE_VERSION, "target": plan.target_type,
        "mapping": mapping.model_dump_json(),
        "places": {a: [list(p) for p in ps] for a, ps in pl.places.items()},
        "group_keys": sorted(mapper.group_keys), "leads": mapper.leads,
        "agents": [[a.id, a.email] for a in d.agents],
        "groups": {k: g.name for k, g in d.groups.items()},
        "fields": {k: to_dict(f) for k, f in d.fields.items()},
        "products": d.products, "organizations": d.organizations.digest,
    }


def plan_fingerprint(plan: Any) -> str | None:
    """A digest of everything ``plan.map_ticket`` depends on (mapping, placements, directory).

    A plan may say it itself (a ``fingerprint()`` method); ``None`` (unknown plan) turns the
    skip-without-decoding path off, never on.
    """
    cached = getattr(plan, "_engine_fingerprint", None)
    if cached is not None:
        return cached
    own = getattr(plan, "fingerprint", None)
    if callable(own):
        fp = own()
    else:
        data = _fp_data(plan)
        fp = None if data is None else digest(dumps(data))
    try:
        plan._engine_fingerprint = fp
    except AttributeError:  # a slotted plan: computed again next time (cheap, once per step)
        pass
    return fp


def ticket_stamp(fingerprint: str, ticket_digest: str, comment_digests: Any) -> str:
    """The stamp of a ticket: its staged digests (ticket, comments) under one plan."""
    return hashlib.sha1("|".join((fingerprint, ticket_digest, *comment_digests)).encode()
                        ).hexdigest()


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


@dataclass(slots=True)
class TicketWork:
    """One staged ticket of the tickets step: its id-map row (``None`` if never loaded), its
    stamp (``None`` without a plan fingerprint) and the mapped ticket, unless ``settled``
    said the row needs nothing (then ``record`` is ``None``: it was never decoded)."""

    sid: str
    row: dict | None
    stamp: str | None
    record: Any = None


_ROW_KEYS = ("outcome", "digest", "stamp", "target_id", "reason")


def iter_ticket_work(state: StateStore, plan: Any, *, only: set[str] | None = None,
                     settled: Callable[[dict], bool] | None = None,
                     page: int = ASSEMBLE_CHUNK) -> Iterator[list[TicketWork]]:
    """Pages of the tickets step, in source-id order.

    A ticket whose row has the same stamp and for which ``settled(row)`` is true is yielded
    without a record: its payload and comments are not decoded, mapped or digested.
    """
    fp = plan_fingerprint(plan)
    last = ""
    while True:
        scan = state.ticket_scan(last, page)
        if not scan:
            return
        last = scan[-1][0]
        rows = scan if only is None else [r for r in scan if r[0] in only]
        ids = [r[0] for r in rows]
        # A page mostly never loaded (a first run) reads its comments' digests and payloads in
        # one query; a page mostly done (a resume) reads digests only, payloads of the rest.
        fresh = sum(1 for r in rows if r[2] is None) * 2 >= len(rows)
        kids = (state.child_rows if fresh else state.child_digests)(Entity.COMMENTS, ids) \
            if rows else {}
        out, todo = [], []
        payloads = {}
        for sid, sdig, outcome, *rest, payload in rows:
            payloads[sid] = payload
            mine = kids.get(sid, ())
            stamp = None if fp is None else ticket_stamp(
                fp, sdig, [k[0] for k in mine] if fresh else mine)
            row = None if outcome is None else dict(zip(_ROW_KEYS, (outcome, *rest)))
            w = TicketWork(sid, row, stamp)
            out.append(w)
            if not (row is not None and stamp is not None and row["stamp"] == stamp
                    and row["digest"] is not None and settled is not None and settled(row)):
                todo.append(w)
        if todo:
            _decode(state, plan, todo, payloads,
                    {sid: [k[1] for k in c] for sid, c in kids.items()} if fresh else None)
        yield out
        if len(scan) < page:
            return


def _decode(state: StateStore, plan: Any, work: list[TicketWork], payloads: dict[str, str],
            comments: dict[str, list[str]] | None = None) -> None:
    """Decode, assemble and map the tickets of ``work`` (comments read unless given)."""
    ids = [w.sid for w in work]
    if comments is None:
        comments = state.child_payloads(Entity.COMMENTS, ids)
    for w in work:
        ticket = from_dict(Ticket, loads(payloads[w.sid]))
        ticket.comments = sorted((from_dict(Comment, loads(p)) for p in comments.get(w.sid, ())),
                                 key=_comment_key)
        w.record = _mapped_ticket(plan, ticket)


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
