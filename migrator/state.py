"""The state store: everything a migration must remember, in one SQLAlchemy database.

SQLite (``sqlite:///.migrator/state.db``) by default, or PostgreSQL (``postgresql://...``);
the code uses portable SQL plus the two dialects' ``ON CONFLICT`` upserts, so both behave the
same. Other databases are refused with a message.

Tables:
    meta           schema version and project facts
    runs           one row per command invocation that changes something
    staged         source records as canonical JSON, keyed by (entity, source_id)
    cursors        export positions per stream, moved in the transaction that stages the page
    records        the id map and the latest outcome of every record: (entity, source_id) ->
                   target_id, outcome, reason, which run created it (for rollback), the digest
                   of what was loaded and a ``stamp`` (staged digests + plan fingerprint) that
                   lets a later run skip an unchanged ticket without decoding it
    batches        a batch of records for the target: pending -> sent (job id) -> done
    batch_items    which records a batch holds, with the digest each was sent with and whether
                   it existed in the target before (a reused agent: never "created" by recovery)
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from migrator.errors import ConfigError
from migrator.models import RECORD_TYPES, Entity, Outcome, from_dict, to_dict

__all__ = ["StateStore", "RecordOutcome", "SCHEMA_VERSION", "digest", "dumps", "loads"]

SCHEMA_VERSION = 5

metadata = sa.MetaData()

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("command", sa.String(50), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # running, done, failed, interrupted
    sa.Column("options", sa.Text, nullable=False, default="{}"),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
)
staged = sa.Table(
    "staged", metadata,
    sa.Column("entity", sa.String(40), primary_key=True),
    sa.Column("source_id", sa.String(100), primary_key=True),
    sa.Column("parent_id", sa.String(100)),
    sa.Column("updated_at", sa.String(30)),
    sa.Column("digest", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("export_seq", sa.Integer, nullable=False, default=0),
    # (entity, parent_id, source_id): a ticket's comments in id order straight from the index;
    # with (entity, parent_id) alone SQLite walks the primary key over every comment instead.
    sa.Index("ix_staged_parent_id", "entity", "parent_id", "source_id"),
)
cursors = sa.Table(
    "cursors", metadata,
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
records = sa.Table(
    "records", metadata,
    sa.Column("entity", sa.String(40), primary_key=True),
    sa.Column("source_id", sa.String(100), primary_key=True),
    sa.Column("target_id", sa.String(100)),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_run", sa.Integer),  # the run that created it in the target (rollback)
    sa.Column("run_id", sa.Integer),  # the run that last touched it
    sa.Column("digest", sa.String(40)),  # digest of the staged record that was loaded (delta)
    # digest of the staged rows it came from + the plan's fingerprint (tickets): equal next run
    # means "same input, same mapping", so the record is skipped without being decoded
    sa.Column("stamp", sa.String(40)),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_records_outcome", "entity", "outcome"),
    sa.Index("ix_records_created_run", "created_run"),
)
batches = sa.Table(
    "batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending, sent, done
    sa.Column("job_id", sa.String(100)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_batches_status", "entity", "status"),
)
batch_items = sa.Table(
    "batch_items", metadata,
    sa.Column("batch_id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.String(100), primary_key=True),
    # what was sent (None for a record sent to be completed): recovery records a record it
    # finds with it, so an unchanged one is not sent again and a changed one is
    sa.Column("digest", sa.String(40)),
    # it existed in the target before the run (a reused agent is still sent to set its role):
    # recovery must not record it as created, or a rollback would delete it
    sa.Column("existed", sa.Boolean),
)


_PAGE = (sa.select(staged.c.source_id, staged.c.payload)
         .where(staged.c.entity == sa.bindparam("entity"),
                staged.c.source_id > sa.bindparam("last"))
         .order_by(staged.c.source_id).limit(sa.bindparam("limit")))
_PAGE_BY_PARENT = (sa.select(staged.c.source_id, staged.c.payload)
                   .where(staged.c.entity == sa.bindparam("entity"),
                          staged.c.parent_id == sa.bindparam("parent"),
                          staged.c.source_id > sa.bindparam("last"))
                   .order_by(staged.c.source_id).limit(sa.bindparam("limit")))

_CHILDREN = (sa.select(staged.c.parent_id, staged.c.payload)
             .where(staged.c.entity == sa.bindparam("entity"),
                    staged.c.parent_id.in_(sa.bindparam("parents", expanding=True)))
             .order_by(staged.c.parent_id, staged.c.source_id))


_TICKET_SCAN_SQL = (
    "SELECT s.source_id, s.digest, r.outcome, r.digest, r.stamp, r.target_id, r.reason, "
    "s.payload "
    "FROM staged s LEFT JOIN records r ON r.entity = s.entity AND r.source_id = s.source_id "
    "WHERE s.entity = ? AND s.source_id > ? ORDER BY s.source_id LIMIT ?")
_SET_STAMP = (records.update()
              .where(records.c.entity == sa.bindparam("e"),
                     records.c.source_id == sa.bindparam("sid"))
              .values(stamp=sa.bindparam("st")))

# One statement per batch of outcomes: the created run is kept once set (rollback deletes only
# what its run created), a missing target id keeps the one known, attempts count up.
_OUTCOME_UPSERT = (
    "INSERT INTO records (entity, source_id, target_id, outcome, reason, created_run, run_id, "
    "digest, stamp, attempts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
    "ON CONFLICT (entity, source_id) DO UPDATE SET "
    "target_id = COALESCE(excluded.target_id, records.target_id), outcome = excluded.outcome, "
    "reason = excluded.reason, created_run = COALESCE(records.created_run, excluded.created_run), "
    "run_id = excluded.run_id, digest = excluded.digest, stamp = excluded.stamp, "
    "attempts = records.attempts + 1, updated_at = excluded.updated_at")
_STAGED_COLS = ("entity", "source_id", "parent_id", "updated_at", "digest", "payload", "export_seq")


def _shown(url: str) -> str:
    """A database URL as it may be shown: a password in it is masked."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def digest(payload: str) -> str:
    """A short stable digest of a JSON payload."""
    return hashlib.sha1(payload.encode()).hexdigest()


def dumps(data: Any) -> str:
    """Canonical JSON (sorted keys, compact, UTF-8): what is staged and digested.

    orjson writes the same text as ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` except for floats written with an exponent (``1e20`` for ``1e+20``),
    about five times faster; what orjson cannot write (integers past 64 bits) falls back to json.
    """
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=str)


loads = orjson.loads
_dumps = dumps


@dataclass(frozen=True)
class RecordOutcome:
    """What happened to one record in the target."""

    source_id: str
    outcome: Outcome
    target_id: str | None = None
    reason: str | None = None
    digest: str | None = None
    stamp: str | None = None  # staged digests + plan fingerprint (tickets), see ``records``


class StateStore:
    """Access to the state database. Thread-safe for readers; writes go through transactions.

    Args:
        url: an SQLAlchemy URL; a plain path is taken as a SQLite file.
    """

    def __init__(self, url: str):
        if "://" not in url:
            url = f"sqlite:///{url}"
        self.url = url
        try:
            self.engine = self._make_engine(url)
            self._upgrade()
        except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: e.g. a bad port
            raise ConfigError(f"state database URL {_shown(url)!r} is not valid: "
                              f"{str(exc).replace(url, _shown(url))}",
                              hint="use sqlite:///path/state.db or postgresql+psycopg://...") from None
        except sa.exc.OperationalError as exc:
            raise ConfigError(f"cannot open the state database: {exc.orig}",
                              hint="check the `state` URL in migration.yaml and that the "
                                   "database server is running") from None
        except ModuleNotFoundError as exc:
            raise ConfigError(f"the state database needs the {exc.name!r} driver",
                              hint="pip install 'helpdesk-migrator[postgres]'") from None

    # -- engine and schema -----------------------------------------------------------------
    @staticmethod
    def _make_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _):  # WAL: readers never block the writer
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            return engine
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        if not url.startswith("postgresql"):
            raise ConfigError(f"the state database must be SQLite or PostgreSQL, not "
                              f"{url.split(':', 1)[0]!r}",
                              hint="use sqlite:///path/state.db or postgresql://user@host/db")
        return sa.create_engine(url, pool_pre_ping=True)

    def _upgrade(self) -> None:
        """Create the schema, or upgrade state written by an older release."""
        metadata.create_all(self.engine)
        with self.transaction() as conn:
            row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"the state database was written by a newer release (schema {version}, "
                    f"this release knows {SCHEMA_VERSION})",
                    hint="upgrade helpdesk-migrator, or point `state` at a new database")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                _MIGRATIONS.get(step, lambda c: None)(conn)
            self._upsert(conn, meta, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}],
                         ["key"])
            self._upsert(conn, meta, [{"key": "staged_generation", "value": "0"}], ["key"],
                         update=[])

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _upsert(self, conn: Connection, table: sa.Table, rows: Sequence[dict], keys: list[str],
                update: Sequence[str] | None = None) -> None:
        """Insert ``rows`` (dicts with the same keys), replacing ``update`` columns on conflict.

        Written as one driver-level ``executemany`` of a prepared text statement: building
        SQLAlchemy parameters row by row cost more than SQLite's own work on a page of tickets.
        """
        if not rows:
            return
        cols = tuple(rows[0])
        self._upsert_tuples(conn, table, cols, [tuple(row[c] for c in cols) for row in rows],
                            keys, update)

    def _upsert_tuples(self, conn: Connection, table: sa.Table, cols: tuple[str, ...],
                       values: list[tuple], keys: Sequence[str],
                       update: Sequence[str] | None = None) -> None:
        """:meth:`_upsert` with rows given as tuples in ``cols`` order (no dict per row)."""
        if not values:
            return
        sql = self._upsert_sql(table, cols, tuple(keys), None if update is None else tuple(update))
        if sql is None:  # pragma: no cover - other databases: portable but slower
            for value in values:
                row = dict(zip(cols, value))
                conn.execute(table.delete().where(sa.and_(*(table.c[k] == row[k] for k in keys))))
                conn.execute(table.insert().values(**row))
            return
        conn.exec_driver_sql(sql, values)

    _UPSERT_SQL: dict[tuple, str | None] = {}

    def _upsert_sql(self, table: sa.Table, cols: tuple[str, ...], keys: tuple[str, ...],
                    update: tuple[str, ...] | None) -> str | None:
        """The ``INSERT .. ON CONFLICT`` text for one table and column set (built once)."""
        dialect = self.engine.dialect
        cache_key = (dialect.name, dialect.paramstyle, table.name, cols, keys, update)
        if cache_key in self._UPSERT_SQL:
            return self._UPSERT_SQL[cache_key]
        mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
        sql = None
        if dialect.name in ("sqlite", "postgresql") and mark is not None:
            missing = [c.name for c in table.columns if c.name not in cols and not c.nullable
                       and not c.primary_key]
            if missing:
                raise ValueError(f"upsert into {table.name} lacks {missing}")
            q = dialect.identifier_preparer.quote
            sets = [c for c in (update if update is not None else cols) if c not in keys]
            sql = (f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in cols)}) "
                   f"VALUES ({', '.join([mark] * len(cols))}) "
                   f"ON CONFLICT ({', '.join(q(k) for k in keys)}) ")
            sql += ("DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in sets)
                    if sets else "DO NOTHING")
        self._UPSERT_SQL[cache_key] = sql
        return sql

    # -- meta and runs ---------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).first()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            self._upsert(conn, meta, [{"key": key, "value": value}], ["key"])

    def start_run(self, command: str, options: dict | None = None) -> int:
        with self.transaction() as conn:
            result = conn.execute(runs.insert().values(
                command=command, status="running", options=_dumps(options or {}),
                started_at=time.time()))
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, status: str) -> None:
        with self.transaction() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(
                status=status, finished_at=time.time()))

    def list_runs(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.id)).mappings().all()
        return [dict(r, options=json.loads(r["options"])) for r in rows]

    # -- staging ---------------------------------------------------------------------------
    def stage(self, records: Iterable[Any], *, cursor: tuple[str, str] | None = None,
              parent_of: str | None = None) -> int:
        """Stage canonical records and, in the same transaction, move an export cursor.

        A crash can then only repeat a page, never skip one; re-staging the same id replaces it.
        Returns the number of records written.
        """
        rows = []
        for rec in records:
            payload = dumps(to_dict(rec))
            parent = getattr(rec, parent_of, None) if parent_of else getattr(rec, "ticket_id", None)
            rows.append((rec.entity.value, str(rec.id), parent,
                         getattr(rec, "updated_at", None) or getattr(rec, "created_at", None),
                         hashlib.sha1(payload.encode()).hexdigest(), payload, 0))
        with self.transaction() as conn:
            self._upsert_tuples(conn, staged, _STAGED_COLS, rows, ["entity", "source_id"])
            if rows:
                self._bump_generation(conn)
            if cursor is not None:
                self._set_cursor(conn, *cursor)
        return len(rows)

    def _bump_generation(self, conn: Connection) -> None:
        # A counter moved by every write to the staging, in the same transaction: anything
        # derived from the staged data (the plan's ticket profile) is keyed by it.
        done = conn.execute(meta.update().where(meta.c.key == "staged_generation").values(
            value=sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.Text))).rowcount
        if not done:
            self._upsert(conn, meta, [{"key": "staged_generation", "value": "1"}], ["key"])

    def staged_generation(self) -> int:
        """Moves whenever anything is staged (or re-staged): a fingerprint of the staging."""
        value = self.get_meta("staged_generation")
        return int(value) if value else 0

    def iter_staged(self, entity: Entity, *, parent_id: str | None = None,
                    page: int = 1000, raw: bool = False) -> Iterator[Any]:
        """Stream staged records of ``entity`` in source-id order, ``page`` rows per query."""
        cls = RECORD_TYPES[entity]
        # One prebuilt statement per shape: called once per ticket by the engine, so building
        # and compiling a select each time cost more than the query itself.
        stmt = _PAGE_BY_PARENT if parent_id is not None else _PAGE
        params = {"entity": entity.value, "parent": parent_id, "last": "", "limit": page}
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt, params).all()
            for sid, payload in rows:
                data = loads(payload)
                yield data if raw else from_dict(cls, data)
            if len(rows) < page:
                return
            params["last"] = rows[-1][0]

    def children_of(self, entity: Entity, parent_ids: Sequence[str]) -> dict[str, list[Any]]:
        """Parent id -> its staged ``entity`` records in source-id order, 500 parents a query.

        One query per slice of parents instead of one per parent: the engine assembles each
        ticket with its comments this way.
        """
        cls = RECORD_TYPES[entity]
        ids = [str(p) for p in parent_ids]
        out: dict[str, list[Any]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(_CHILDREN, {"entity": entity.value,
                                                "parents": ids[i:i + 500]}).all()
                for parent, payload in rows:
                    out.setdefault(parent, []).append(from_dict(cls, loads(payload)))
        return out

    def _marks(self, sql: str) -> str:
        """``sql`` written with ``?`` marks, in the driver's own parameter style."""
        return sql if self.engine.dialect.paramstyle == "qmark" else sql.replace("?", "%s")

    def _fetch(self, sql: str, params: Sequence[Any], conn: Connection | None = None
               ) -> list[tuple]:
        """Rows of one read at the driver level (``?`` marks), on ``conn`` if given: the hot
        paths of the load step read ~2,000 rows a page, where SQLAlchemy's row objects cost
        more than SQLite."""
        if conn is None:
            with self.engine.connect() as own:
                return self._fetch(sql, params, own)
        cur = conn.connection.dbapi_connection.cursor()
        try:
            cur.execute(self._marks(sql), tuple(params))
            return cur.fetchall()
        finally:
            cur.close()

    def _fetch_in(self, sql: str, head: Sequence[Any], ids: Sequence[str],
                  conn: Connection | None = None) -> list[tuple]:
        """:meth:`_fetch` of ``sql`` whose ``(?*)`` is an IN list over ``ids``, 500 a query."""
        out: list[tuple] = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            out += self._fetch(sql.replace("(?*)", "(" + ",".join("?" * len(part)) + ")"),
                               (*head, *part), conn)
        return out

    def ticket_scan(self, last: str = "", limit: int = 500) -> list[tuple]:
        """A page of staged tickets after ``last`` with their id-map row, one indexed join.

        Rows: (source_id, staged digest, outcome, digest, stamp, target_id, reason, payload);
        outcome to reason are ``None`` for a ticket never loaded. The payload comes as JSON
        text, undecoded: SQLite reads the row anyway, and the engine decodes only the tickets
        it has something to do with.
        """
        return self._fetch(_TICKET_SCAN_SQL, (Entity.TICKETS.value, last, limit))

    def ticket_markers(self, prefix: str, last: str = "", limit: int = 1000,
                       ids: Sequence[str] | None = None) -> list[tuple[str, str, str | None]]:
        """A page of staged tickets after ``last`` (or those of ``ids``), each with the value of
        the cursor ``prefix + source id`` (the exporter's comments markers, ``comments:<id>``).

        Rows: (source_id, version, marker) in source-id order; the version is the staged
        ``updated_at`` ('' when the ticket has none), the marker ``None`` when there is no such
        cursor. One indexed lookup per ticket read (a correlated subquery, so the page costs
        ``limit`` lookups however many tickets and markers there are), and the caller never
        holds every ticket's marker.
        """
        sql = ("SELECT s.source_id, COALESCE(s.updated_at, ''), (SELECT c.value FROM cursors c "
               "WHERE c.stream = CAST(? AS VARCHAR(200)) || s.source_id) "
               "FROM staged s WHERE s.entity = ? AND {where} ORDER BY s.source_id")
        head = (prefix, Entity.TICKETS.value)
        if ids is not None:
            return self._fetch_in(sql.format(where="s.source_id IN (?*)"), head,
                                  [str(i) for i in ids])
        return self._fetch(sql.format(where="s.source_id > ?") + " LIMIT ?",
                           (*head, last, limit))

    def _by_parent(self, column: str, entity: Entity, parent_ids: Sequence[str]) -> dict:
        out: dict[str, list] = {}
        rows = self._fetch_in(f"SELECT parent_id, {column} FROM staged WHERE entity = ? AND "
                              "parent_id IN (?*) ORDER BY parent_id, source_id",
                              (entity.value,), [str(p) for p in parent_ids])
        one = "," not in column
        for row in rows:
            kids = out.get(row[0])
            if kids is None:
                kids = out[row[0]] = []
            kids.append(row[1] if one else row[1:])
        return out

    def child_digests(self, entity: Entity, parent_ids: Sequence[str]) -> dict[str, list[str]]:
        """Parent id -> the staged digests of its ``entity`` rows in source-id order."""
        return self._by_parent("digest", entity, parent_ids)

    def child_payloads(self, entity: Entity, parent_ids: Sequence[str]) -> dict[str, list[str]]:
        """Parent id -> the staged payloads (JSON text, undecoded) of its ``entity`` rows."""
        return self._by_parent("payload", entity, parent_ids)

    def child_rows(self, entity: Entity, parent_ids: Sequence[str]
                   ) -> dict[str, list[tuple[str, str]]]:
        """Parent id -> (digest, payload) of its ``entity`` rows in source-id order (one read
        where :meth:`child_digests` and then :meth:`child_payloads` would take two)."""
        return self._by_parent("digest, payload", entity, parent_ids)

    def most_children(self, entity: Entity) -> Iterator[tuple[str, int]]:
        """Parents by how many ``entity`` records they have, most first (ties: the larger
        id), read 100 at a time: one grouped query per 100, whatever the account's size."""
        offset = 0
        while True:
            rows = self._fetch(
                "SELECT parent_id, COUNT(*) AS n FROM staged WHERE entity = ? AND parent_id "
                "IS NOT NULL GROUP BY parent_id ORDER BY n DESC, parent_id DESC LIMIT 100 "
                f"OFFSET {int(offset)}", (entity.value,))
            yield from ((str(r[0]), int(r[1])) for r in rows)
            if len(rows) < 100:
                return
            offset += 100

    def set_stamps(self, entity: Entity, stamps: dict[str, str]) -> None:
        """Record the stamp of records found unchanged, so the next run skips them unread."""
        if not stamps:
            return
        with self.transaction() as conn:
            conn.execute(_SET_STAMP, [{"e": entity.value, "sid": sid, "st": st}
                                      for sid, st in stamps.items()])

    def get_staged(self, entity: Entity, source_id: str) -> Any | None:
        return self.get_staged_many(entity, [source_id]).get(str(source_id))

    def get_staged_many(self, entity: Entity, source_ids: Sequence[str]) -> dict[str, Any]:
        """Staged records by id (those staged), one query per 500 ids."""
        cls = RECORD_TYPES[entity]
        return {str(sid): from_dict(cls, loads(payload)) for sid, payload in self._fetch_in(
            "SELECT source_id, payload FROM staged WHERE entity = ? AND source_id IN (?*)",
            (entity.value,), [str(s) for s in source_ids])}

    def count_staged(self, entity: Entity | None = None) -> int | dict[str, int]:
        with self.engine.connect() as conn:
            if entity is not None:
                return conn.execute(sa.select(sa.func.count()).select_from(staged).where(
                    staged.c.entity == entity.value)).scalar_one()
            rows = conn.execute(sa.select(staged.c.entity, sa.func.count())
                                .group_by(staged.c.entity)).all()
        return dict(rows)

    # -- cursors ---------------------------------------------------------------------------
    def _set_cursor(self, conn: Connection, stream: str, value: str) -> None:
        self._upsert(conn, cursors, [{"stream": stream, "value": value, "updated_at": time.time()}],
                     ["stream"])

    def set_cursor(self, stream: str, value: str) -> None:
        with self.transaction() as conn:
            self._set_cursor(conn, stream, value)

    def get_cursor(self, stream: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(cursors.c.value).where(cursors.c.stream == stream)).first()
        return row[0] if row else None

    def delete_cursor(self, stream: str) -> None:
        with self.transaction() as conn:
            conn.execute(cursors.delete().where(cursors.c.stream == stream))

    # -- id map and outcomes ---------------------------------------------------------------
    def target_id(self, entity: Entity, source_id: str) -> str | None:
        return self.target_ids(entity, [source_id]).get(str(source_id))

    def target_ids(self, entity: Entity, source_ids: Sequence[str] | None = None) -> dict[str, str]:
        """Source id -> target id for records that exist in the target."""
        q = sa.select(records.c.source_id, records.c.target_id).where(
            records.c.entity == entity.value, records.c.target_id.is_not(None))
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            if source_ids is None:
                return dict(conn.execute(q).all())
            ids = [str(s) for s in source_ids]
            for i in range(0, len(ids), 500):
                out.update(conn.execute(q.where(records.c.source_id.in_(ids[i:i + 500]))).all())
        return out

    def record_rows(self, entity: Entity, source_ids: Sequence[str]) -> dict[str, dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(records).where(
                records.c.entity == entity.value,
                records.c.source_id.in_([str(s) for s in source_ids]))).mappings().all()
        return {r["source_id"]: dict(r) for r in rows}

    def _write_outcomes(self, conn: Connection, entity: Entity, outcomes: Sequence[RecordOutcome],
                        run_id: int) -> None:
        """Upsert the outcomes; what a row had before is kept in SQL (no read first): the run
        that created the record stays the first one, a missing target id keeps the old one,
        and attempts count up."""
        if not outcomes:
            return
        now, ent, created = time.time(), entity.value, Outcome.CREATED
        conn.exec_driver_sql(self._marks(_OUTCOME_UPSERT), [
            (ent, o.source_id, o.target_id or None, o.outcome.value, o.reason,
             run_id if o.outcome == created else None, run_id, o.digest, o.stamp, now)
            for o in outcomes])

    def record_outcomes(self, entity: Entity, outcomes: Sequence[RecordOutcome], run_id: int) -> None:
        with self.transaction() as conn:
            self._write_outcomes(conn, entity, outcomes, run_id)

    def outcome_counts(self, entity: Entity | None = None) -> dict[str, dict[str, int]]:
        q = sa.select(records.c.entity, records.c.outcome, sa.func.count()).group_by(
            records.c.entity, records.c.outcome)
        if entity is not None:
            q = q.where(records.c.entity == entity.value)
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for ent, outcome, n in conn.execute(q).all():
                out.setdefault(ent, {})[outcome] = n
        return out

    def failed(self, entity: Entity | None = None, *, limit: int | None = None) -> list[dict]:
        """Failed records (by entity, source id), the first ``limit`` if given."""
        q = sa.select(records).where(records.c.outcome == Outcome.FAILED.value)
        if entity is not None:
            q = q.where(records.c.entity == entity.value)
        q = q.order_by(records.c.entity, records.c.source_id)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def count_failed(self) -> int:
        """How many records failed (what ``migrate --retry-failed`` would resend)."""
        q = sa.select(sa.func.count()).select_from(records).where(
            records.c.outcome == Outcome.FAILED.value)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def created_by_run(self, entity: Entity, run_id: int | None = None) -> dict[str, str]:
        """Source id -> target id of records a run (or any run) created in the target."""
        q = sa.select(records.c.source_id, records.c.target_id).where(
            records.c.entity == entity.value, records.c.created_run.is_not(None),
            records.c.target_id.is_not(None))
        if run_id is not None:
            q = q.where(records.c.created_run == run_id)
        with self.engine.connect() as conn:
            return dict(conn.execute(q).all())

    def _id_map_filter(self, entity: Entity, created_run: int | None,
                       outcomes: Sequence[str] | None) -> list:
        where = [records.c.entity == entity.value, records.c.target_id.is_not(None)]
        if created_run is not None:
            where.append(records.c.created_run == created_run)
        if outcomes is not None:
            where.append(records.c.outcome.in_(list(outcomes)))
        return where

    def id_map_pages(self, entity: Entity, *, created_run: int | None = None,
                     outcomes: Sequence[str] | None = None, page: int = 1000
                     ) -> Iterator[list[tuple[str, str]]]:
        """(source id, target id) of an entity's id-map rows with a target id (of one run's
        creations, or with these outcomes), in source-id order, a page at a time: each page is
        its own query after the last source id, so the caller may delete rows in between and
        memory does not grow with the account."""
        where = self._id_map_filter(entity, created_run, outcomes)
        last = None
        while True:
            q = sa.select(records.c.source_id, records.c.target_id).where(*where)
            if last is not None:
                q = q.where(records.c.source_id > last)
            with self.engine.connect() as conn:
                rows = [(str(s), str(t)) for s, t in
                        conn.execute(q.order_by(records.c.source_id).limit(page)).all()]
            if not rows:
                return
            yield rows
            if len(rows) < page:
                return
            last = rows[-1][0]

    def count_id_map(self, entity: Entity, *, created_run: int | None = None,
                     outcomes: Sequence[str] | None = None) -> int:
        """How many rows :meth:`id_map_pages` would give."""
        q = sa.select(sa.func.count()).select_from(records).where(
            *self._id_map_filter(entity, created_run, outcomes))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def forget_records(self, entity: Entity, source_ids: Sequence[str]) -> None:
        """Drop id-map rows (after a rollback deleted them in the target)."""
        with self.transaction() as conn:
            for i in range(0, len(source_ids), 500):
                conn.execute(records.delete().where(
                    records.c.entity == entity.value,
                    records.c.source_id.in_([str(s) for s in source_ids[i:i + 500]])))

    # -- batches ---------------------------------------------------------------------------
    def open_batch(self, run_id: int, entity: Entity, source_ids: Sequence[str],
                   digests: dict[str, str | None] | None = None,
                   existed: set[str] | frozenset[str] = frozenset()) -> int:
        """Write a batch and its records (with the digest each is sent with, if given, and
        whether it existed in the target before) *before* anything is sent.

        The three writes of a batch's life are driver-level statements: SQLAlchemy compiling
        an insert or update per batch cost more than SQLite writing it (BENCHMARKS.md).
        """
        now = time.time()
        with self.transaction() as conn:
            bid = self._insert_batch(conn, run_id, entity, now)
            if source_ids:
                digests = digests or {}
                conn.exec_driver_sql(self._marks("INSERT INTO batch_items (batch_id, source_id, "
                                                 "digest, existed) VALUES (?, ?, ?, ?)"),
                                     [(bid, str(s), digests.get(str(s)), str(s) in existed)
                                      for s in source_ids])
        return bid

    def _insert_batch(self, conn: Connection, run_id: int, entity: Entity, now: float) -> int:
        sql = ("INSERT INTO batches (run_id, entity, status, created_at, updated_at) "
               "VALUES (?, ?, 'pending', ?, ?)")
        params = (run_id, entity.value, now, now)
        if self.dialect == "sqlite":
            cur = conn.connection.dbapi_connection.cursor()
            try:
                cur.execute(sql, params)
                return int(cur.lastrowid)
            finally:
                cur.close()
        return int(self._fetch(sql + " RETURNING id", params, conn)[0][0])

    def mark_sent(self, batch_id: int, job_id: str | None = None) -> None:
        with self.transaction() as conn:
            conn.exec_driver_sql(self._marks("UPDATE batches SET status = 'sent', job_id = ?, "
                                             "updated_at = ? WHERE id = ?"),
                                 (job_id, time.time(), batch_id))

    def finish_batch(self, batch_id: int, entity: Entity, outcomes: Sequence[RecordOutcome],
                     run_id: int, *, cursor: tuple[str, str] | None = None) -> None:
        """Record a batch's outcomes and close it, in one transaction (with a cursor if given)."""
        with self.transaction() as conn:
            self._write_outcomes(conn, entity, outcomes, run_id)
            conn.exec_driver_sql(self._marks("UPDATE batches SET status = 'done', updated_at = ? "
                                             "WHERE id = ?"), (time.time(), batch_id))
            if cursor is not None:
                self._set_cursor(conn, *cursor)

    def open_batches(self, entity: Entity | None = None) -> list[dict]:
        """Batches not finished: their outcome in the target is unknown until reconciled."""
        q = sa.select(batches).where(batches.c.status != "done")
        if entity is not None:
            q = q.where(batches.c.entity == entity.value)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q.order_by(batches.c.id)).mappings()]
            for row in rows:
                items = conn.execute(sa.select(batch_items.c.source_id, batch_items.c.digest,
                                               batch_items.c.existed)
                                     .where(batch_items.c.batch_id == row["id"])).all()
                row["source_ids"] = [r[0] for r in items]
                row["digests"] = {r[0]: r[1] for r in items}  # None: unknown or to complete
                row["existed"] = {r[0] for r in items if r[2]}
        return rows

    def batch_counts(self) -> dict[str, dict[str, int]]:
        q = sa.select(batches.c.entity, batches.c.status, sa.func.count()).group_by(
            batches.c.entity, batches.c.status)
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for ent, status, n in conn.execute(q).all():
                out.setdefault(ent, {})[status] = n
        return out


def _v2_parent_index(conn: Connection) -> None:
    """Version 2: the children index also orders by source id (per-ticket reads stay O(1))."""
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_staged_parent"))
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_staged_parent_id "
                         "ON staged (entity, parent_id, source_id)"))


def _v3_record_stamp(conn: Connection) -> None:
    """Version 3: ``records.stamp`` (a done ticket is skipped on resume without decoding)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("records")}
    if "stamp" not in have:
        conn.execute(sa.text("ALTER TABLE records ADD COLUMN stamp VARCHAR(40)"))


def _v4_batch_item_digest(conn: Connection) -> None:
    """Version 4: ``batch_items.digest`` (recovery records what an interrupted batch sent)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("batch_items")}
    if "digest" not in have:
        conn.execute(sa.text("ALTER TABLE batch_items ADD COLUMN digest VARCHAR(40)"))


def _v5_batch_item_existed(conn: Connection) -> None:
    """Version 5: ``batch_items.existed`` (recovery leaves records that existed before alone)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("batch_items")}
    if "existed" not in have:
        conn.execute(sa.text("ALTER TABLE batch_items ADD COLUMN existed BOOLEAN"))


# Upgrade steps: version N -> the function that brings a version N-1 database to N.
_MIGRATIONS: dict[int, Any] = {2: _v2_parent_index, 3: _v3_record_stamp, 4: _v4_batch_item_digest,
                               5: _v5_batch_item_existed}
