"""The state store's own database work per ticket: what no Python change can take away.

The local target (20,000 tickets/s on one core) leaves 50 us per ticket for everything. This
replays, with the sqlite3 driver and nothing around it but the loop, the statements the local
bench's phases send for the first ``limit`` staged tickets of a finished ``bench.local`` state
(their comments, and end users in the account's proportion), into a fresh database with the same
schema:

    stage writes     the staged rows, one page of 100 tickets (with their comments) per
                     transaction: ``StateStore.stage``'s upsert
    migrate reads    the tickets step's page scan (500 tickets with their id-map rows) and the
                     page's comments
    batch writes     a batch of 100: its insert and items, "sent", outcomes and "done"
                     (three transactions, as ``BatchRunner`` writes them)

and, for comparison, the leanest layout there could be: one row per ticket with its comments
nested in the payload (the same bytes, no index but the key). Rows are read a page at a time,
so memory stays small whatever the size of the state measured.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from migrator.state import _OUTCOME_UPSERT, _TICKET_SCAN_SQL, StateStore

__all__ = ["measure_floor"]

_COLS = "entity, source_id, parent_id, updated_at, digest, payload, export_seq"
_STAGE = (f"INSERT INTO staged ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (entity, source_id) DO UPDATE SET parent_id = excluded.parent_id, "
          "updated_at = excluded.updated_at, digest = excluded.digest, "
          "payload = excluded.payload, export_seq = excluded.export_seq")
_PAGE = 100


def _pages(src: sqlite3.Connection, limit: int) -> tuple[list[list[tuple]], list[tuple], int]:
    """Pages of 100 tickets with their comments (as staged), the people, and the ticket count."""
    tickets = src.execute(f"SELECT {_COLS} FROM staged WHERE entity = 'tickets' "
                          "ORDER BY source_id LIMIT ?", (limit,)).fetchall()
    total = src.execute("SELECT COUNT(*) FROM staged WHERE entity = 'tickets'").fetchone()[0]
    users = src.execute("SELECT COUNT(*) FROM staged WHERE entity = 'end_users'").fetchone()[0]
    people = src.execute(f"SELECT {_COLS} FROM staged WHERE entity = 'end_users' "
                         "ORDER BY source_id LIMIT ?",
                         (max(1, users * len(tickets) // max(1, total)),)).fetchall()
    pages = []
    for i in range(0, len(tickets), _PAGE):
        chunk = tickets[i:i + _PAGE]
        ids = [t[1] for t in chunk]
        kids: dict[str, list[tuple]] = {}
        for row in src.execute(f"SELECT {_COLS} FROM staged WHERE entity = 'comments' AND "
                               f"parent_id IN ({','.join('?' * len(ids))}) ORDER BY parent_id, "
                               "source_id", ids):
            kids.setdefault(row[2], []).append(row)
        page = []
        for t in chunk:
            page.append(t)
            page += kids.get(t[1], [])
        pages.append(page)
    return pages, people, len(tickets)


def _nest(page: list[tuple]) -> list[tuple]:
    """One row per ticket: its payload and its comments' payloads in one JSON text."""
    kids: dict[str, list[str]] = {}
    for row in page:
        if row[0] == "comments":
            kids.setdefault(row[2], []).append(row[5])
    return [t[:5] + ('{"ticket":' + t[5] + ',"comments":[' + ",".join(kids.get(t[1], []))
                     + "]}",) + t[6:] for t in page if t[0] == "tickets"]


def _fresh(path: Path) -> sqlite3.Connection:
    StateStore(f"sqlite:///{path}").close()  # the schema, exactly
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure_floor(state_db: Path, limit: int = 20_000) -> dict[str, Any]:
    """Microseconds per ticket of each part (see the module doc) on ``state_db``'s tickets."""
    src = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
    try:
        pages, people, n = _pages(src, limit)
    finally:
        src.close()
    if not n:
        return {"tickets": 0}
    tmp = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    try:
        db = _fresh(tmp / "state.db")

        def stage() -> None:
            db.execute("BEGIN")
            db.executemany(_STAGE, people)
            db.execute("COMMIT")
            for page in pages:
                db.execute("BEGIN")
                db.executemany(_STAGE, page)
                db.execute("COMMIT")

        def reads() -> None:
            last = ""
            while True:
                scan = db.execute(_TICKET_SCAN_SQL, ("tickets", last, 500)).fetchall()
                if not scan:
                    return
                ids = [r[0] for r in scan]
                db.execute("SELECT parent_id, digest, payload FROM staged WHERE entity = ? AND "
                           f"parent_id IN ({','.join('?' * len(ids))}) ORDER BY parent_id, "
                           "source_id", ("comments", *ids)).fetchall()
                last = ids[-1]
                if len(scan) < 500:
                    return

        def batches() -> None:
            now, run = time.time(), 1
            for page in pages:
                ids = [r[1] for r in page if r[0] == "tickets"]
                db.execute("BEGIN")
                bid = db.execute("INSERT INTO batches (run_id, entity, status, created_at, "
                                 "updated_at) VALUES (?, 'tickets', 'pending', ?, ?)",
                                 (run, now, now)).lastrowid
                db.executemany("INSERT INTO batch_items (batch_id, source_id, digest, existed) "
                               "VALUES (?, ?, ?, ?)", [(bid, s, "0" * 40, False) for s in ids])
                db.execute("COMMIT")
                db.execute("BEGIN")
                db.execute("UPDATE batches SET status = 'sent', job_id = NULL, updated_at = ? "
                           "WHERE id = ?", (now, bid))
                db.execute("COMMIT")
                db.execute("BEGIN")
                db.executemany(_OUTCOME_UPSERT, [
                    ("tickets", s, str(k), "created", None, run, run, "0" * 40, "1" * 40, now)
                    for k, s in enumerate(ids)])
                db.execute("UPDATE batches SET status = 'done', updated_at = ? WHERE id = ?",
                           (now, bid))
                db.execute("COMMIT")

        out = {"tickets": n}
        for name, fn in (("stage_writes_us", stage), ("migrate_reads_us", reads),
                         ("batch_writes_us", batches)):
            out[name] = round(1e6 * _timed(fn) / n, 1)
        db.close()
        out["total_us"] = round(out["stage_writes_us"] + out["migrate_reads_us"]
                                + out["batch_writes_us"], 1)
        lean = sqlite3.connect(tmp / "lean.db", isolation_level=None)
        lean.execute("PRAGMA journal_mode=WAL")
        lean.execute("PRAGMA synchronous=NORMAL")
        lean.execute("CREATE TABLE staged (entity TEXT, source_id TEXT, parent_id TEXT, "
                     "updated_at TEXT, digest TEXT, payload TEXT, export_seq INT, "
                     "PRIMARY KEY (entity, source_id))")
        nested = [_nest(page) for page in pages]

        def lean_stage() -> None:
            for page in nested:
                lean.execute("BEGIN")
                lean.executemany("INSERT INTO staged VALUES (?, ?, ?, ?, ?, ?, ?)", page)
                lean.execute("COMMIT")

        out["lean_stage_writes_us"] = round(1e6 * _timed(lean_stage) / n, 1)
        lean.close()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
