"""Contacts deleted in the source: created, soft-deleted, and restored only while written to.

Freshdesk refuses writes to a deleted contact (405, gotcha 17), and a ticket or note naming one is
not something to count on. So a contact deleted in the source is created, then soft-deleted at
once (``DELETE /contacts/{id}``: it ends where it was, in Freshdesk's deleted contacts). While a
ticket or note naming it is written, it is restored (``PUT /contacts/{id}/restore``) and deleted
again after the last concurrent writer is done (a count per contact).

The ids are kept in ``<workdir>/freshdesk-target/dormant-contacts.db`` (SQLite, a row per
contact and account: each change is one small write, whatever their number), so the tickets
step of a later process knows them too, with those restored at the moment: a process killed
mid-ticket leaves its restored contacts marked, and the next tickets batch deletes them. A
ledger an older release wrote (``dormant-contacts.json``) is read in once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from migrator.http import HttpClient

from connectors.freshdesk.client import API

__all__ = ["DormantContacts", "ledger_path"]


def ledger_path(workdir: Path) -> Path:
    """Where the dormant contacts of a project's Freshdesk target are listed."""
    return Path(workdir) / "freshdesk-target" / "dormant-contacts.db"


class _Ledger:
    """Dormant contact ids of one account on disk (or in memory without a path)."""

    def __init__(self, path: Path | None, account: str):
        self.account = account
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path is not None else ":memory:",
                                   check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()  # its own: a lookup never waits behind a restore's HTTP
        self._db.execute("CREATE TABLE IF NOT EXISTS dormant (account TEXT NOT NULL, contact "
                         "TEXT NOT NULL, revived INTEGER NOT NULL DEFAULT 0, "
                         "PRIMARY KEY (account, contact))")
        if path is not None:
            self._import(path.with_suffix(".json"))

    def _import(self, legacy: Path) -> None:
        if not legacy.exists():
            return
        try:
            data = json.loads(legacy.read_text())
        except (OSError, ValueError):
            return
        for account, ledger in data.items():
            revived = set(ledger.get("revived", []))
            self._db.executemany(
                "INSERT OR IGNORE INTO dormant (account, contact, revived) VALUES (?, ?, ?)",
                [(account, str(t), int(t in revived)) for t in ledger.get("dormant", [])])
        legacy.replace(legacy.with_suffix(".json.imported"))

    def has(self, tid: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM dormant WHERE account = ? AND contact = ?",
                                    (self.account, tid)).fetchone() is not None

    def add(self, tid: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO dormant (account, contact) VALUES (?, ?)",
                             (self.account, tid))

    def discard(self, tid: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM dormant WHERE account = ? AND contact = ?",
                             (self.account, tid))

    def revive(self, tid: str, revived: bool) -> None:
        with self._lock:
            self._db.execute("UPDATE dormant SET revived = ? WHERE account = ? AND contact = ?",
                             (int(revived), self.account, tid))

    def revived(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT contact FROM dormant WHERE account = ? AND revived = 1", (self.account,))]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class DormantContacts:
    """Contact ids (target) that must stay soft-deleted between writes."""

    def __init__(self, client: HttpClient, path: Path | None, account: str):
        self.client = client
        self.path = path
        self.account = account
        self._lock = threading.Lock()
        self._using: Counter[str] = Counter()  # writers per restored contact (only those)
        self._ledger = _Ledger(path, account)

    def __contains__(self, target_id: object) -> bool:
        return self._ledger.has(str(target_id))

    def put_to_sleep(self, target_id: str) -> None:
        """Soft-delete a contact just created and remember it."""
        self._ledger.add(str(target_id))
        self._delete(str(target_id))

    def forget(self, target_id: str) -> None:
        """The contact is gone for good (rollback)."""
        self._ledger.discard(str(target_id))

    def settle(self) -> None:
        """Delete again what a killed process left restored."""
        with self._lock:
            left = [t for t in self._ledger.revived() if not self._using[t]]
        for tid in left:
            self._delete(tid)
            with self._lock:
                self._ledger.revive(tid, False)

    @contextmanager
    def awake(self, ids: Iterable[object]) -> Iterator[None]:
        """Restore the dormant ones of ``ids`` for the duration of the block."""
        mine = sorted(t for t in {str(i) for i in ids if i is not None} if t in self)
        entered: list[str] = []
        try:
            for tid in mine:
                with self._lock:
                    self._using[tid] += 1
                    entered.append(tid)
                    if self._using[tid] == 1:
                        self._ledger.revive(tid, True)
                        self.client.request("PUT", f"{API}/contacts/{tid}/restore", ok=(404,))
            yield
        finally:
            for tid in entered:
                with self._lock:
                    self._using[tid] -= 1
                    if self._using[tid] == 0:
                        del self._using[tid]
                        self._delete(tid)
                        self._ledger.revive(tid, False)

    def close(self) -> None:
        """Close the ledger."""
        self._ledger.close()

    def _delete(self, tid: str) -> None:
        # 405: already deleted (or blocked); 404: gone. Either way nothing to do.
        self.client.request("DELETE", f"{API}/contacts/{tid}", ok=(404, 405))
