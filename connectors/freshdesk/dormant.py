"""Contacts deleted in the source: created, soft-deleted, and restored only while written to.

Freshdesk refuses writes to a deleted contact (405, gotcha 17), and a ticket or note naming one is
not something to count on. So a contact deleted in the source is created, then soft-deleted at
once (``DELETE /contacts/{id}``: it ends where it was, in Freshdesk's deleted contacts). While a
ticket or note naming it is written, it is restored (``PUT /contacts/{id}/restore``) and deleted
again after the last concurrent writer is done (a count per contact).

The ids are kept in ``<workdir>/freshdesk-target/dormant-contacts.json`` (per account), so the
tickets step of a later process knows them too, with those restored at the moment: a process
killed mid-ticket leaves its restored contacts listed, and the next tickets batch deletes them.
"""

from __future__ import annotations

import json
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
    return Path(workdir) / "freshdesk-target" / "dormant-contacts.json"


class DormantContacts:
    """Contact ids (target) that must stay soft-deleted between writes."""

    def __init__(self, client: HttpClient, path: Path | None, account: str):
        self.client = client
        self.path = path
        self.account = account
        self._lock = threading.Lock()
        self._using: Counter[str] = Counter()
        ledger = self._read().get(account, {})
        self._ids: set[str] = set(ledger.get("dormant", []))
        self._revived: set[str] = set(ledger.get("revived", []))

    def __contains__(self, target_id: object) -> bool:
        return str(target_id) in self._ids

    def put_to_sleep(self, target_id: str) -> None:
        """Soft-delete a contact just created and remember it."""
        with self._lock:
            self._ids.add(str(target_id))
            self._save()
        self._delete(str(target_id))

    def forget(self, target_id: str) -> None:
        """The contact is gone for good (rollback)."""
        with self._lock:
            self._ids.discard(str(target_id))
            self._revived.discard(str(target_id))
            self._save()

    def settle(self) -> None:
        """Delete again what a killed process left restored."""
        with self._lock:
            left = [t for t in self._revived if not self._using[t]]
        for tid in left:
            self._delete(tid)
            with self._lock:
                self._revived.discard(tid)
                self._save()

    @contextmanager
    def awake(self, ids: Iterable[object]) -> Iterator[None]:
        """Restore the dormant ones of ``ids`` for the duration of the block."""
        mine = sorted({str(i) for i in ids if i is not None and str(i) in self._ids})
        entered: list[str] = []
        try:
            for tid in mine:
                with self._lock:
                    self._using[tid] += 1
                    entered.append(tid)
                    if self._using[tid] == 1:
                        self._revived.add(tid)
                        self._save()
                        self.client.request("PUT", f"{API}/contacts/{tid}/restore", ok=(404,))
            yield
        finally:
            for tid in entered:
                with self._lock:
                    self._using[tid] -= 1
                    if self._using[tid] == 0:
                        self._delete(tid)
                        self._revived.discard(tid)
                        self._save()

    def _delete(self, tid: str) -> None:
        # 405: already deleted (or blocked); 404: gone. Either way nothing to do.
        self.client.request("DELETE", f"{API}/contacts/{tid}", ok=(404, 405))

    def _read(self) -> dict:
        if self.path is None or not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self) -> None:
        if self.path is None:
            return
        data = self._read()
        data[self.account] = {"dormant": sorted(self._ids), "revived": sorted(self._revived)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)
