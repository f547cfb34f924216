"""All tickets past the 30-day window and the 300-page cap, as resumable pages.

Without ``updated_since`` Freshdesk lists only tickets created in the last 30 days (gotcha 1), and
one query stops at 300 pages, answering 400 beyond (gotcha 2). So every query sends
``updated_since`` with ``order_by=updated_at&order_type=asc``; when the cap is reached (or page
cap+1 answers 400), a new window starts at the last ``updated_at`` seen with page 1, and the
records on the boundary, which come back, are dropped by id.

Cursor (JSON): ``{"phase": "all"|"spam"|"deleted"|"done", "since": ISO, "page": n,
"boundary": [ids at the since timestamp], "start": ISO, "max": ISO}``. A finished cursor
restarts every phase from ``max``: the delta since the last export.

Includes: ``include=stats`` costs 2 extra credits per list page of up to 100 tickets, whereas the
stats (resolved/closed/first response: what the KPI report needs) otherwise cost one extra
credit per ticket view; so it is worth it. ``include=description`` is not: list rows never carry
attachments, so the comments export views each ticket anyway and takes the description there.

Satisfaction ratings ride on their tickets (``Ticket.extra["satisfaction_rating"]``). The API
has no ticket filter on the ratings list (only ``created_since`` and ``user_id``, reference §2.4),
and ``GET /tickets/{id}/satisfaction_ratings`` would cost one call per ticket (a million calls
for a million tickets). So the list is read once, a page at a time, into a :class:`RatingIndex`:
each ticket's latest rating in a private temporary SQLite database on disk (deleted when it is
closed, or by the OS if the process dies), looked up once per page of tickets. Memory stays flat
(SQLite's page cache, 2 MB) whatever the number of rated tickets.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from migrator.errors import ConnectorError, RecordError
from migrator.http import HttpClient
from migrator.models import iso

from connectors.base import Page
from connectors.freshdesk.client import API, PER_PAGE, next_link
from connectors.freshdesk.parse import parse_ticket

__all__ = ["TicketWalk", "iter_ticket_pages", "EPOCH", "RatingIndex"]

EPOCH = "1970-01-01T00:00:00Z"
INCLUDES = "stats"
INCLUDE_CREDITS = 2  # +2 per include on list tickets (§3.2); paid before the call


@dataclass
class TicketWalk:
    """Where a ticket export stands; serialises to the cursor."""

    phases: list[str]
    phase: str = "all"
    since: str = EPOCH
    page: int = 1
    boundary: list[str] = field(default_factory=list)
    start: str = EPOCH
    max: str | None = None

    def dumps(self) -> str:
        return json.dumps({"phase": self.phase, "since": self.since, "page": self.page,
                           "boundary": self.boundary, "start": self.start, "max": self.max,
                           "phases": self.phases})

    @classmethod
    def load(cls, cursor: str | None, phases: list[str], since: str | None) -> "TicketWalk":
        """Resume from ``cursor``; a finished one starts a delta from its newest update."""
        start = iso(since) or EPOCH
        if not cursor:
            return cls(phases=phases, phase=phases[0], since=start, start=start)
        data = json.loads(cursor)
        if data.get("phase") == "done":
            begin = data.get("max") or data.get("start") or start
            return cls(phases=phases, phase=phases[0], since=begin, start=begin,
                       max=data.get("max"))
        return cls(phases=data.get("phases") or phases, phase=data["phase"], since=data["since"],
                   page=int(data["page"]), boundary=list(data.get("boundary") or []),
                   start=data.get("start") or start, max=data.get("max"))

    def next_phase(self) -> None:
        """Move to the next filter (spam, deleted) or finish."""
        i = self.phases.index(self.phase) if self.phase in self.phases else len(self.phases)
        self.phase = self.phases[i + 1] if i + 1 < len(self.phases) else "done"
        self.since, self.page, self.boundary = self.start, 1, []

    def restart_window(self, rows: list[dict[str, Any]]) -> None:
        """Start a new query at the last ``updated_at`` seen (the page cap was reached)."""
        last = iso(rows[-1].get("updated_at")) if rows else None
        if not last or last <= self.since:
            # Every ticket of the window shares one timestamp: updated_at cannot move us on.
            raise ConnectorError(
                f"Freshdesk: more tickets share updated_at {self.since} than one query can list "
                "(300 pages)", hint="export this account in smaller windows with `since`")
        self.boundary = [str(r["id"]) for r in rows if iso(r.get("updated_at")) == last]
        self.since, self.page = last, 1

    def is_repeat(self, row: dict[str, Any]) -> bool:
        """A boundary record the previous window already returned (same id, same update)."""
        return str(row["id"]) in self.boundary and iso(row.get("updated_at")) == self.since


def _params(walk: TicketWalk) -> dict[str, Any]:
    params: dict[str, Any] = {"updated_since": walk.since, "order_by": "updated_at",
                              "order_type": "asc", "per_page": PER_PAGE, "page": walk.page,
                              "include": INCLUDES}
    if walk.phase in ("spam", "deleted"):
        params["filter"] = walk.phase
    return params


def _fetch(client: HttpClient, walk: TicketWalk) -> tuple[list[dict], bool, bool]:
    """One list call: (rows, has_next, cap_hit). A 400 past page 1 is the page cap (§2.2)."""
    client.budgets.acquire(("tickets_list", "account"), cost=INCLUDE_CREDITS)
    response = client.request("GET", f"{API}/tickets", params=_params(walk), ok=(400,))
    if response.status_code == 400:
        if walk.page > 1:
            return [], False, True
        raise RecordError(f"Freshdesk refused the ticket list: {response.text[:300]}",
                          status=400)
    rows = response.json()
    return rows, next_link(response) is not None, False


def iter_ticket_pages(client: HttpClient, walk: TicketWalk, cap: int,
                      status_names: dict[int, str]) -> Iterator[Page]:
    """Pages of tickets, the cursor after each page."""
    last_rows: list[dict] = []
    while walk.phase != "done":
        rows, has_next, cap_hit = _fetch(client, walk)
        if cap_hit:  # the server's cap is lower than ours: restart from what we saw last
            walk.restart_window(last_rows)
            continue
        fresh = [r for r in rows if not walk.is_repeat(r)]
        records: list[Any] = []
        for row in fresh:
            records.append(parse_ticket(row, status_names))
            updated = iso(row.get("updated_at"))
            if updated and (walk.max is None or updated > walk.max):
                walk.max = updated
        if not has_next:
            walk.next_phase()
        elif walk.page >= cap:
            walk.restart_window(rows)
        else:
            walk.page += 1
        last_rows = rows
        yield Page(records=records, cursor=walk.dumps(), done=walk.phase == "done")


class RatingIndex:
    """Ticket id -> its latest satisfaction rating, on disk (see the module docstring).

    ``add`` keeps, per ticket, the rating with the latest ``created_at`` (on a tie the one added
    last); ``lookup`` answers for the tickets of one page. Thread-safe.
    """

    _UPSERT = (
        "INSERT INTO rating (ticket_id, id, score, comment, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(ticket_id) DO UPDATE SET id = excluded.id, score = excluded.score, "
        "comment = excluded.comment, created_at = excluded.created_at "
        "WHERE COALESCE(excluded.created_at, '') >= COALESCE(rating.created_at, '')")
    CHUNK = 500  # ids per lookup query (SQLite's variable limit is far above)

    def __init__(self) -> None:
        # "" = a private temporary database on disk, removed when the connection closes.
        self._db = sqlite3.connect("", check_same_thread=False)
        self._db.execute("PRAGMA cache_size = -2048")  # KiB: the most it keeps in memory
        self._db.execute("CREATE TABLE rating (ticket_id TEXT PRIMARY KEY, id TEXT, score TEXT, "
                         "comment TEXT, created_at TEXT)")
        self._lock = threading.Lock()

    def add(self, ratings: Iterable[Any]) -> None:
        """Record parsed ratings (:class:`~migrator.models.SatisfactionRating`)."""
        rows = [(str(r.ticket_id), str(r.id), r.score, r.comment, r.created_at) for r in ratings]
        with self._lock, self._db:
            self._db.executemany(self._UPSERT, rows)

    def lookup(self, ticket_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Ticket id -> ``{"id", "score", "comment", "created_at"}`` for the rated ones."""
        ids = list(dict.fromkeys(str(t) for t in ticket_ids))
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for i in range(0, len(ids), self.CHUNK):
                part = ids[i:i + self.CHUNK]
                marks = ",".join("?" * len(part))
                for tid, rid, score, comment, created in self._db.execute(
                        "SELECT ticket_id, id, score, comment, created_at FROM rating "
                        f"WHERE ticket_id IN ({marks})", part):
                    out[tid] = {"id": rid, "score": score, "comment": comment,
                                "created_at": created}
        return out

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM rating").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
