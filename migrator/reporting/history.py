"""One ticket with everything that happened to it, assembled by streaming.

The KPI code sees one :class:`TicketHistory` at a time. :func:`join_histories` builds them with a
merge join over streams that are each ordered by ticket id (tickets by ``id``, children by
``ticket_id``), so memory holds one ticket's children, never the whole export.
:func:`histories_from_store` produces those ordered streams from the state store with keyset
pagination on the ``(entity, parent_id)`` index; :func:`histories_from_records` sorts in memory and
is meant for small, hand-built or seeded data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa

from migrator.models import (Comment, Entity, SatisfactionRating, Ticket, TicketEvent, TimeEntry,
                             from_dict)

__all__ = ["TicketHistory", "join_histories", "histories_from_records", "histories_from_store"]

CHILD_ENTITIES = (Entity.COMMENTS, Entity.TICKET_EVENTS, Entity.SATISFACTION_RATINGS,
                  Entity.TIME_ENTRIES)


@dataclass
class TicketHistory:
    """A ticket with its comments, change events, ratings and time entries."""

    ticket: Ticket
    comments: list[Comment] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)
    ratings: list[SatisfactionRating] = field(default_factory=list)
    time_entries: list[TimeEntry] = field(default_factory=list)


class _Cursor:
    """A peekable stream of child records ordered by ``ticket_id``."""

    def __init__(self, records: Iterable[Any]):
        self._it = iter(records)
        self.head = next(self._it, None)

    def take(self, ticket_id: str) -> list[Any]:
        """All records of ``ticket_id``; children of tickets not in the stream are skipped."""
        out = []
        while self.head is not None and str(self.head.ticket_id) <= ticket_id:
            if str(self.head.ticket_id) == ticket_id:
                out.append(self.head)
            self.head = next(self._it, None)
        return out


def join_histories(tickets: Iterable[Ticket], comments: Iterable[Comment] = (),
                   events: Iterable[TicketEvent] = (), ratings: Iterable[SatisfactionRating] = (),
                   time_entries: Iterable[TimeEntry] = ()) -> Iterator[TicketHistory]:
    """Merge-join streams that are each sorted by ticket id (string order) into histories."""
    cursors = [_Cursor(s) for s in (comments, events, ratings, time_entries)]
    for ticket in tickets:
        tid = str(ticket.id)
        c, e, r, t = (cur.take(tid) for cur in cursors)
        yield TicketHistory(ticket, c, e, r, t)


def _by_ticket(records: Iterable[Any]) -> list[Any]:
    return sorted(records, key=lambda r: (str(r.ticket_id), str(r.id)))


def histories_from_records(tickets: Iterable[Ticket], comments: Iterable[Comment] = (),
                           events: Iterable[TicketEvent] = (),
                           ratings: Iterable[SatisfactionRating] = (),
                           time_entries: Iterable[TimeEntry] = ()) -> Iterator[TicketHistory]:
    """Histories from unordered in-memory records (small data: sorts everything first)."""
    return join_histories(sorted(tickets, key=lambda t: str(t.id)), _by_ticket(comments),
                          _by_ticket(events), _by_ticket(ratings), _by_ticket(time_entries))


def _iter_by_parent(store: Any, entity: Entity, decode: Callable[[dict], Any],
                    page: int = 2000) -> Iterator[Any]:
    """Staged children ordered by (parent_id, source_id), one page per query."""
    from migrator.state import loads, staged  # the table; read-only use

    last: tuple[str, str] | None = None
    while True:
        q = sa.select(staged.c.parent_id, staged.c.source_id, staged.c.payload).where(
            staged.c.entity == entity.value, staged.c.parent_id.is_not(None))
        if last is not None:  # a row value: the index range starts there (an OR of the two
            # columns made SQLite walk from the start of the entity: quadratic in the tickets)
            q = q.where(sa.tuple_(staged.c.parent_id, staged.c.source_id) > sa.tuple_(*last))
        q = q.order_by(staged.c.parent_id, staged.c.source_id).limit(page)
        with store.engine.connect() as conn:
            rows = conn.execute(q).all()
        for _, _, payload in rows:
            yield decode(loads(payload))
        if len(rows) < page:
            return
        last = (rows[-1][0], rows[-1][1])


def histories_from_store(store: Any, page: int = 2000) -> Iterator[TicketHistory]:
    """Stream histories from a :class:`~migrator.state.StateStore` in one ordered pass."""
    from migrator.models import RECORD_TYPES

    children = [
        _iter_by_parent(store, ent, lambda d, cls=RECORD_TYPES[ent]: from_dict(cls, d), page)
        for ent in CHILD_ENTITIES
    ]
    return join_histories(store.iter_staged(Entity.TICKETS, page=page), *children)
