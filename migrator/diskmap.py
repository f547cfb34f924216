"""A text -> text mapping in a private temporary SQLite file: what an account holds by name.

The records of a target the engine and the loaders match by name (organisations above all:
an account can have hundreds of thousands) are read once and looked up per record. Kept in a
dict they cost memory that grows with the account (and listing them whole first, as JSON, cost
several times more); kept here they cost a file that is deleted when the map is closed or
collected. Lookups take a few microseconds; it is safe to share between threads.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Iterable

__all__ = ["DiskMap"]

_MISSING = object()


class DiskMap:
    """``key -> value`` (both text), first value per key kept by :meth:`add_new`."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()):
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        self._lock = threading.Lock()
        self.add_new(pairs)

    def add_new(self, pairs: Iterable[tuple[str, str]], chunk: int = 1000) -> None:
        """Add the pairs whose key is not there yet (the first value of a key wins)."""
        buf: list[tuple[str, str]] = []
        for key, value in pairs:
            buf.append((str(key), str(value)))
            if len(buf) >= chunk:
                self._write("INSERT OR IGNORE INTO kv VALUES (?, ?)", buf)
                buf = []
        if buf:
            self._write("INSERT OR IGNORE INTO kv VALUES (?, ?)", buf)

    def _write(self, sql: str, rows: list[tuple[str, str]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")

    def get(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT v FROM kv WHERE k = ?", (str(key),)).fetchone()
        return default if row is None else row[0]

    def __getitem__(self, key: str) -> str:
        value = self.get(key, _MISSING)  # type: ignore[arg-type]
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        return self.get(str(key), _MISSING) is not _MISSING  # type: ignore[arg-type]

    def __setitem__(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO kv VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET "
                             "v = excluded.v", (str(key), str(value)))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM kv").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __del__(self) -> None:  # the file goes with the map
        try:
            self._db.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
