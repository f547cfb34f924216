"""The target's users by e-mail, as they were before this process wrote any: what a rollback
puts back on an existing user that ``users/create_or_update_many`` matched by e-mail.

Zendesk matches a user sent to ``create_or_update(_many)`` by external id or e-mail and
updates it (name, external id, tags, phone, organisation...). The end users an account already
has are many, so they are listed once (``GET /users``, 100 a page: one request per 100 users
the account has) into a private temporary SQLite file (deleted when closed) and looked up per
batch by e-mail: memory does not grow with the account.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any, Callable, Iterable, Sequence

__all__ = ["UsersByEmail"]


class UsersByEmail:
    """E-mail (lower case) -> the user's ``fields`` as the listing found them, with its id."""

    def __init__(self, pages: Callable[[], Iterable[list[dict]]], fields: Sequence[str]):
        self._pages, self.fields = pages, tuple(fields)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the batches of a step run in threads

    def _loaded(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
            db.execute("CREATE TABLE users (email TEXT PRIMARY KEY, id TEXT, body TEXT)")
            db.execute("BEGIN")
            for page in self._pages():
                db.executemany("INSERT OR IGNORE INTO users VALUES (?, ?, ?)", [
                    (str(u["email"]).lower(), str(u["id"]),
                     json.dumps({k: u.get(k) for k in self.fields}))
                    for u in page if u.get("email") and u.get("id") is not None])
            db.execute("COMMIT")
            self._db = db
        return self._db

    def find(self, emails: Iterable[str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(e-mail, user id, fields) of those of ``emails`` the account had."""
        wanted = sorted({e.lower() for e in emails if e})
        out = []
        with self._lock:
            db = self._loaded()
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                rows = db.execute("SELECT email, id, body FROM users WHERE email IN "
                                  f"({','.join('?' * len(part))})", part).fetchall()
                out += [(email, uid, json.loads(body)) for email, uid, body in rows]
        return out

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
