"""Export runner: source -> staging, resumable, and delta-aware when run again.

Streams are read in lanes (:mod:`migrator.engine.lanes`) at the same time: the entities the
source lists before tickets in one lane, tickets and the entities after them in another, comments
passes in a third; streams on different rate buckets keep each bucket busy. This thread is the
only one that writes the state store: it takes the pages read so far, waits for their attachment
downloads (started by the reader right after the read, because some vendors' URLs expire within
minutes: Freshdesk, reference "attachments") and stages each stream's pages in one transaction
with the last page's cursor (style lesson 6). A crash therefore repeats at most the pages taken
together, never skips one; after a stop, the pages read before it are staged and the export ends.

Comments are exported for the staged tickets whose ``updated_at`` moved since their comments were
last exported (a per-ticket marker in the cursors table), in passes whose ticket list is kept so
that a resume hands the connector the same list with its saved cursor. With a per-ticket
strategy a pass opens for the tickets staged since the last one while listing goes on (at most
``PASS_BATCHES`` load batches, so a loader following the export gets tickets early; the tickets
waiting for such a pass are at most ``FRESH_PASSES`` passes' worth, the others are left to the
scan); then a scan of the staged tickets, a page at a time in SQL, catches the rest in passes of
the same size, run one after another. Nothing here grows with the number of tickets.

A strategy that reads one stream for all tickets (Zendesk ``events``, and ``auto``, which picks a
strategy on a sample) gets its tickets in one pass instead, since each pass reads the whole
stream: a list when at most ``LIST_MOST`` tickets changed, else a *stream pass*, whose tickets are
"every staged ticket whose marker differs", read from the state store as the connector asks
(:class:`_Changed`), never held. That set stays the same while the pass runs because nothing
marks or stages tickets meanwhile: the pass opens once the tickets are all staged, and a process
that resumes one holds its ticket listing back until the pass is closed.
"""

from __future__ import annotations

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlalchemy as sa

from migrator.engine import killpoints
from migrator.engine.attachments import AttachmentFetcher
from migrator.engine.lanes import ERROR, PAGE, Event, Lanes
from migrator.engine.signals import StopFlag
from migrator.models import Entity
from migrator.progress import NullProgress, Progress
from migrator.state import StateStore
from migrator.state import cursors as _cursors

__all__ = ["ExportReport", "run_export", "staged_summary"]

_MARK = "comments:"
_STREAM = "export:comments"
_PASS = "export:comments:pass"
PASS_BATCHES = 5  # a comments pass covers at most this many load batches of tickets
FRESH_PASSES = 4  # tickets staged and waiting for a pass: at most this many passes' worth
LIST_MOST = 10_000  # one-stream strategies: more changed tickets than this make a stream pass
_SCAN_PAGE = 1_000  # staged tickets read per query by the scans


@dataclass
class ExportReport:
    """What one export run staged."""

    run_id: int
    staged: dict[str, int] = field(default_factory=dict)
    attachments: int = 0
    attachment_bytes: int = 0
    attachment_failures: list[str] = field(default_factory=list)  # the first 1,000
    attachments_failed: int = 0  # every download that failed

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"run_id": self.run_id, "staged": self.staged, "attachments": self.attachments,
                "attachment_bytes": self.attachment_bytes,
                "attachments_failed": self.attachments_failed,
                "attachment_failures": self.attachment_failures}


def _dedupe(records: Iterable[Any]) -> list[Any]:
    """Records may repeat across and within pages (the Source contract): keep the last."""
    return list({(r.entity, str(r.id)): r for r in records}.values())


def _last_cursor(pages: list[Any]) -> str | None:
    """The cursor after a group of pages staged together (the last one that has a cursor)."""
    return next((p.cursor for p in reversed(pages) if p.cursor), None)


class _Exporter:
    """One export: lanes of readers, this thread the only one that stages (one writer)."""

    def __init__(self, source, state: StateStore, workdir: Path, options, progress: Progress,
                 stop: StopFlag, listener: Any = None):
        self.source, self.state, self.options = source, state, options
        self.progress, self.stop = progress, stop
        self.listener = listener
        self.fetcher = AttachmentFetcher(source, Path(workdir), options)
        self.report = ExportReport(run_id=0)
        depth = max(1, options.max_in_flight)
        self.downloads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="export-files")
        self.lanes = Lanes(depth * 2, stop, prepare=self._download)
        self.most = depth
        self.error: BaseException | None = None
        # comments passes
        self.chunked = getattr(source, "comments_strategy", "per_ticket") == "per_ticket"
        self.fresh: dict[str, str] = {}  # ticket id -> version staged here, comments not asked
        self.pass_size = max(1, options.batch_size) * PASS_BATCHES
        self.fresh_most = self.pass_size * FRESH_PASSES
        self.passing: Any = None  # the pass running: its [[id, version]] list, or STREAM_PASS
        self.tickets_done = False
        self.scan: str | None = ""  # where the scan of staged tickets goes on; None: done
        self.comments_lane = None
        self.held: tuple[Any, list[Entity]] | None = None  # ticket lane waiting for a pass

    # -- lanes -----------------------------------------------------------------------------
    def run(self) -> ExportReport:
        entities = list(self.source.entities())
        streams = [e for e in entities if e is not Entity.COMMENTS]
        for e in entities:
            self.report.staged.setdefault(e.value, 0)
        cut = streams.index(Entity.TICKETS) if Entity.TICKETS in streams else len(streams)
        snapshot = self.state.get_meta(_PASS) if Entity.COMMENTS in entities else None
        pending = json.loads(snapshot) if snapshot else None
        for name, group in (("lists", streams[:cut]), ("tickets", streams[cut:])):
            if group:
                lane = self.lanes.lane(name)
                if name == "tickets" and pending == STREAM_PASS:
                    self.held = (lane, group)  # no ticket staged before that pass is closed
                else:
                    self._feed(lane, group)
        self.tickets_done = Entity.TICKETS not in streams
        if Entity.COMMENTS in entities:
            self.comments_lane = self.lanes.lane("comments", self.most * 8)  # small pages
            if pending:
                # An unfinished pass: same ids, same order (the connectors' cursors count
                # positions in the id list, so a resumed pass must see the list it started with).
                self._send_pass(pending, self.state.get_cursor(_STREAM))
        self.lanes.start()
        try:
            self._next_pass()
            for batch in self.lanes.events(self.most * 8):
                self._handle(batch)
                self._next_pass()
        finally:
            self.lanes.shutdown()
            self.downloads.shutdown(wait=True)
        if self.error is not None:
            raise self.error
        self.stop.check()
        self.report.attachments = self.fetcher.count
        self.report.attachment_bytes = self.fetcher.bytes
        self.report.attachment_failures = self.fetcher.failures
        self.report.attachments_failed = self.fetcher.failed
        return self.report

    def _feed(self, lane, group: list[Entity]) -> None:
        for entity in group:
            lane.add(f"export:{entity.value}", self._pages(entity), tag=entity)
        lane.close()

    def _pages(self, entity: Entity):
        def pages():
            stream = f"export:{entity.value}"
            cursor = self.state.get_cursor(stream)
            since = self.options.since if entity is Entity.TICKETS and cursor is None else None
            return self.source.export(entity, cursor, since=since)
        return pages

    def _handle(self, batch: list[Event]) -> None:
        """Stage the pages of ``batch`` (per stream, one transaction each), then its events."""
        pages: dict[str, list[Event]] = {}
        for ev in batch:
            if ev.kind == PAGE:
                pages.setdefault(ev.stream, []).append(ev)
                continue
            self._flush(pages)
            if ev.kind == ERROR:
                self.error = self.error or ev.error
                self.lanes.halt()
            elif ev.stream == _STREAM:
                self._close_pass(ev.tag)
            else:
                self.progress.finish(f"export {ev.tag.value}")
                if ev.tag is Entity.TICKETS:
                    self.tickets_done = True
                if self.listener is not None:
                    self.listener.stream_done(ev.tag)
        self._flush(pages)

    def _flush(self, pages: dict[str, list[Event]]) -> None:
        for stream, events in pages.items():
            group = [ev.page for ev in events]
            for ev in events:  # the page's attachments, started when it was read
                if ev.ready is not None:
                    ev.ready.result()
            records = _dedupe(r for page in group for r in page.records)
            self._stage(records, stream, _last_cursor(group))
            if stream == _STREAM:
                self.progress.advance("export comments",
                                      len({getattr(r, "ticket_id", None) for r in records}))
            else:
                name = f"export {events[0].tag.value}"
                self.progress.start(name)
                self.progress.advance(name, len(records))
        pages.clear()

    def _count(self, records: list[Any]) -> None:
        for rec in records:
            self.report.staged[rec.entity.value] = self.report.staged.get(rec.entity.value, 0) + 1

    def _download(self, page: Any) -> Any:
        """Start downloading a page's attachments (in the reader, right after the read: some
        vendors' URLs expire); the staging thread waits for them before staging the page.
        A page may carry comments too (Freshdesk ticket pages hold each description)."""
        comments = [r for r in page.records if r.entity is Entity.COMMENTS and r.attachments]
        return self.downloads.submit(self.fetcher.fetch_all, comments) if comments else None

    def _stage(self, records: list[Any], stream: str, cursor: str | None) -> None:
        self.state.stage(records, cursor=(stream, cursor) if cursor else None)
        killpoints.reached("export.staged")
        self._count(records)
        if stream == "export:tickets" and self.chunked:
            fresh = self.fresh
            for r in records:
                if r.entity is Entity.TICKETS:
                    tid = str(r.id)
                    if fresh.pop(tid, None) is not None or len(fresh) < self.fresh_most:
                        fresh[tid] = _version(r)
                    # else the listing outpaces the passes: the scan after it finds this one

    # -- comments --------------------------------------------------------------------------
    def _not_marked(self, fresh: dict[str, str]) -> list[list[str]]:
        """Of the tickets just staged, those whose comments are not staged at that version."""
        out: list[list[str]] = []
        items = list(fresh.items())
        for i in range(0, len(items), 500):
            part = items[i:i + 500]
            with self.state.engine.connect() as conn:
                done = dict(conn.execute(
                    sa.select(_cursors.c.stream, _cursors.c.value)
                    .where(_cursors.c.stream.in_([_MARK + tid for tid, _ in part]))).all())
            out += [[tid, v] for tid, v in part if _needs_comments(v, done.get(_MARK + tid))]
        return out

    def _scan_next(self) -> Any:
        """The next pass the scan of staged tickets finds ([] once it is over): up to
        ``pass_size`` tickets after the last pass's (per-ticket strategies); one list, or
        :data:`STREAM_PASS` when more than ``LIST_MOST`` tickets changed (one-stream ones)."""
        if self.chunked:
            rows = list(itertools.islice(_unmarked(self.state, self.scan or ""), self.pass_size))
            self.scan = rows[-1][0] if len(rows) == self.pass_size else None
        else:
            rows = list(itertools.islice(_unmarked(self.state), LIST_MOST + 1))
            self.scan = None
            if len(rows) > LIST_MOST:
                return STREAM_PASS
        return [[sid, version] for sid, version in rows]

    def _next_pass(self) -> None:
        """Open the next comments pass when none runs: the tickets staged since the last one
        (per-ticket strategies), then, once the tickets are all staged, the scan's passes."""
        lane = self.comments_lane
        if lane is None or lane.closed or self.passing is not None or self.lanes.stopped():
            return
        while True:
            if self.fresh:  # at most a few batches' worth per pass: the loader can follow
                take = list(itertools.islice(self.fresh.items(), self.pass_size))
                for tid, _ in take:
                    del self.fresh[tid]
                pending = self._not_marked(dict(take))
            elif self.tickets_done and self.scan is not None:
                pending = self._scan_next()
            else:
                break
            if pending:
                self.state.delete_cursor(_STREAM)
                self.state.set_meta(_PASS, json.dumps(pending))
                self._send_pass(pending, None)
                return
        if self.tickets_done and self.scan is None:
            lane.close()

    def _send_pass(self, pending: Any, cursor: str | None) -> None:
        self.passing = pending
        if pending == STREAM_PASS:
            ids: Any = _Changed(self.state)
            self.progress.start("export comments")
        else:
            ids = [tid for tid, _ in pending]
            self.progress.start("export comments", len(pending))
        self.comments_lane.add(
            _STREAM, lambda: self.source.export(Entity.COMMENTS, cursor, ticket_ids=ids),
            tag=pending)

    def _close_pass(self, pending: Any) -> None:
        """Remember that these tickets' comments are staged at this ticket version."""
        if pending == STREAM_PASS:
            self._close_stream_pass()
        else:
            self._mark(pending)
        self.state.set_meta(_PASS, "")
        self.passing = None
        self.progress.finish("export comments")
        if self.held is not None:  # a resumed stream pass is closed: the listing may go on
            lane, group = self.held
            self.held = None
            self._feed(lane, group)

    def _close_stream_pass(self) -> None:
        """Mark every ticket of a stream pass, a page at a time: they are the staged tickets
        whose marker differs, the same set as when the pass opened (see the module docstring).
        A crash part way leaves the pass open with the others; its resume reads from the saved
        (finished) cursor and marks them then."""
        unmarked = _unmarked(self.state)
        while rows := list(itertools.islice(unmarked, _SCAN_PAGE)):
            self._mark(rows)

    def _mark(self, pending: list[Any]) -> None:
        """Markers of (ticket id, version) pairs in one transaction; the listener hears of them."""
        now = time.time()
        with self.state.transaction() as conn:  # one statement, one transaction
            self.state._upsert(conn, _cursors, [
                {"stream": _MARK + tid, "value": version, "updated_at": now}
                for tid, version in pending], ["stream"])
        if self.listener is not None:
            self.listener.comments_staged([tid for tid, _ in pending])


STREAM_PASS = {"stream": "changed"}  # a pass of every ticket whose marker differs (saved as is)


def _needs_comments(version: str, marker: str | None) -> bool:
    """A ticket's comments are to be read unless staged at this version (a ticket without a
    version never counts as done)."""
    return not version or marker != version


def _unmarked(state: StateStore, last: str = "") -> Iterator[tuple[str, str]]:
    """(ticket id, version) of the staged tickets after ``last`` whose comments are not staged
    at that version (a ticket without a version never counts as done), in source-id order:
    one query per ``_SCAN_PAGE`` staged tickets, as the caller goes on."""
    while True:
        rows = state.ticket_markers(_MARK, last, _SCAN_PAGE)
        for tid, version, marker in rows:
            if _needs_comments(version, marker):
                yield tid, version
        if len(rows) < _SCAN_PAGE:
            return
        last = rows[-1][0]


class _Changed:
    """The tickets of a stream pass, read from the state store as they are asked for: iterated
    (source-id order, a page per query) and asked ``in`` (one indexed query per ticket, a few
    thousand answers kept), so a pass of a million tickets never sits in memory."""

    def __init__(self, state: StateStore, keep: int = 10_000):
        self.state, self.keep = state, keep
        self.known: dict[str, bool] = {}

    def __iter__(self) -> Iterator[str]:
        for tid, _ in _unmarked(self.state):
            yield tid

    def __contains__(self, ticket_id: object) -> bool:
        tid = str(ticket_id)
        hit = self.known.get(tid)
        if hit is None:
            if len(self.known) >= self.keep:
                self.known.clear()
            hit = self.known[tid] = any(_needs_comments(version, marker) for _, version, marker
                                        in self.state.ticket_markers(_MARK, ids=[tid]))
        return hit


def _version(ticket: Any) -> str:
    return str(getattr(ticket, "updated_at", None) or getattr(ticket, "created_at", None) or "")


def run_export(source, state: StateStore, workdir: Path | str, *, options,
               progress: Progress | None = None, stop: StopFlag | None = None,
               listener: Any = None) -> ExportReport:
    """Export every entity the source offers into staging; resume or fetch only what changed.

    ``listener`` (optional) hears, from the staging thread, ``stream_done(entity)`` when a
    stream is all staged and ``comments_staged(ticket_ids)`` when a comments pass is
    (:mod:`migrator.engine.follow` loads while the export goes on).
    """
    run_id = state.start_run("export", {"since": options.since})
    exporter = _Exporter(source, state, Path(workdir), options, progress or NullProgress(),
                         stop or StopFlag(), listener)
    status = "failed"
    try:
        report = exporter.run()
        report.run_id = run_id
        status = "done"
        return report
    except BaseException as exc:
        from migrator.errors import InterruptedRun
        if isinstance(exc, (InterruptedRun, KeyboardInterrupt)):
            status = "interrupted"
        raise
    finally:
        exporter.fetcher.close()
        state.finish_run(run_id, status)


def staged_summary(state: StateStore) -> dict[str, int]:
    """Records staged per entity."""
    counts = state.count_staged()
    return dict(sorted(counts.items())) if isinstance(counts, dict) else {}
