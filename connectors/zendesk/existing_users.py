"""The target's users by e-mail, as they were before this process wrote any: what a rollback
puts back on an existing user that ``users/create_or_update_many`` matched by e-mail.

Zendesk matches a user sent to ``create_or_update(_many)`` by external id or e-mail and
updates it (name, external id, tags, phone, organisation...). The end users an account already
has are many, so they are listed once (``GET /users``, 100 a page: one request per 100 users
the account has) into a :class:`~migrator.diskmap.DiskMap` (a private temporary SQLite file)
and looked up per batch by e-mail: memory does not grow with the account.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Iterable, Sequence

from migrator.diskmap import DiskMap

__all__ = ["UsersByEmail"]


class UsersByEmail:
    """E-mail (lower case) -> the user's ``fields`` as the listing found them, with its id."""

    def __init__(self, users: Callable[[], Iterable[dict]], fields: Sequence[str]):
        self._users, self.fields = users, tuple(fields)
        self._map: DiskMap | None = None
        self._lock = threading.Lock()  # the batches of a step run in threads

    def _loaded(self) -> DiskMap:
        with self._lock:
            if self._map is None:
                self._map = DiskMap(
                    (str(u["email"]).lower(),
                     json.dumps([str(u["id"]), {k: u.get(k) for k in self.fields}]))
                    for u in self._users() if u.get("email") and u.get("id") is not None)
            return self._map

    def find(self, emails: Iterable[str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(e-mail, user id, fields) of those of ``emails`` the account had."""
        users = self._loaded()
        out = []
        for email in sorted({e.lower() for e in emails if e}):
            found = users.get(email)
            if found is not None:
                uid, fields = json.loads(found)
                out.append((email, uid, fields))
        return out

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                self._map.close()
                self._map = None
