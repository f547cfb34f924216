"""Export runner: source -> staging, resumable, and delta-aware when run again.

Per stream the saved cursor is handed back to the source; pages are staged and the cursor
moved in one transaction (style lesson 6). The next pages are read while one is staged
(:mod:`migrator.engine.prefetch`), and the pages already read (at most ``max_in_flight``) are
staged together: one transaction, one parallel round of downloads, the last page's cursor. A
crash therefore repeats at most that group, never skips a page; after a stop, the pages read
before it are staged and then the export ends. Comments are
exported for the staged tickets whose ``updated_at`` moved since their comments were last
exported (a per-ticket marker in the cursors table), in one pass whose ticket list is kept so
that a resume hands the connector the same list with its saved cursor; attachments are downloaded right after
their page is listed, because some vendors' URLs expire within minutes (Freshdesk, reference
"attachments").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa

from migrator.engine import killpoints
from migrator.engine.attachments import AttachmentFetcher
from migrator.engine.prefetch import prefetch_groups
from migrator.engine.signals import StopFlag
from migrator.models import Entity
from migrator.progress import NullProgress, Progress
from migrator.state import StateStore
from migrator.state import cursors as _cursors

__all__ = ["ExportReport", "run_export", "staged_summary"]

_MARK = "comments:"
_STREAM = "export:comments"
_PASS = "export:comments:pass"


@dataclass
class ExportReport:
    """What one export run staged."""

    run_id: int
    staged: dict[str, int] = field(default_factory=dict)
    attachments: int = 0
    attachment_bytes: int = 0
    attachment_failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"run_id": self.run_id, "staged": self.staged, "attachments": self.attachments,
                "attachment_bytes": self.attachment_bytes,
                "attachment_failures": self.attachment_failures}


def _dedupe(records: Iterable[Any]) -> list[Any]:
    """Records may repeat across and within pages (the Source contract): keep the last."""
    return list({(r.entity, str(r.id)): r for r in records}.values())


def _last_cursor(pages: list[Any]) -> str | None:
    """The cursor after a group of pages staged together (the last one that has a cursor)."""
    return next((p.cursor for p in reversed(pages) if p.cursor), None)


class _Exporter:
    def __init__(self, source, state: StateStore, workdir: Path, options, progress: Progress,
                 stop: StopFlag):
        self.source, self.state, self.options = source, state, options
        self.progress, self.stop = progress, stop
        self.fetcher = AttachmentFetcher(source, Path(workdir), options)
        self.report = ExportReport(run_id=0)

    def run(self) -> ExportReport:
        entities = list(self.source.entities())
        for entity in entities:
            if entity is not Entity.COMMENTS:
                self._stream(entity)
        if Entity.COMMENTS in entities:
            self._comments()
        self.report.attachments = self.fetcher.count
        self.report.attachment_bytes = self.fetcher.bytes
        self.report.attachment_failures = self.fetcher.failures
        return self.report

    def _count(self, records: list[Any]) -> None:
        for rec in records:
            self.report.staged[rec.entity.value] = self.report.staged.get(rec.entity.value, 0) + 1

    def _stage(self, records: list[Any], stream: str, cursor: str | None) -> None:
        # A page may carry comments too (Freshdesk ticket pages hold each description).
        self.fetcher.fetch_all([r for r in records if r.entity is Entity.COMMENTS])
        self.state.stage(records, cursor=(stream, cursor) if cursor else None)
        killpoints.reached("export.staged")
        self._count(records)

    def _stream(self, entity: Entity) -> None:
        stream = f"export:{entity.value}"
        cursor = self.state.get_cursor(stream)
        since = self.options.since if entity is Entity.TICKETS and cursor is None else None
        name = f"export {entity.value}"
        self.progress.start(name)
        self.report.staged.setdefault(entity.value, 0)
        for pages in prefetch_groups(self.source.export(entity, cursor, since=since),
                                     self.options.max_in_flight, self.stop):
            records = _dedupe(r for page in pages for r in page.records)
            self._stage(records, stream, _last_cursor(pages))
            self.progress.advance(name, len(records))
        self.progress.finish(name)

    # -- comments --------------------------------------------------------------------------
    def _changed_tickets(self) -> list[list[str]]:
        """[ticket id, version] of staged tickets whose comments are not staged at that version."""
        with self.state.engine.connect() as conn:
            done = dict(conn.execute(sa.select(_cursors.c.stream, _cursors.c.value)
                                     .where(_cursors.c.stream.like(f"{_MARK}%"))).all())
        out = []
        for t in self.state.iter_staged(Entity.TICKETS, raw=True):
            version = str(t.get("updated_at") or t.get("created_at") or "")
            if not version or done.get(_MARK + str(t["id"])) != version:
                out.append([str(t["id"]), version])
        return out

    def _open_pass(self) -> tuple[list[list[str]], str | None]:
        """The comments pass to run: the unfinished one (same ids, same order) or a new one.

        The connectors' comment cursors count positions in the id list, so a resumed pass
        must see exactly the list it started with: it is kept in the meta table.
        """
        snapshot = self.state.get_meta(_PASS)
        if snapshot:
            return json.loads(snapshot), self.state.get_cursor(_STREAM)
        pending = self._changed_tickets()
        if pending:
            self.state.delete_cursor(_STREAM)
            self.state.set_meta(_PASS, json.dumps(pending))
        return pending, None

    def _comments(self) -> None:
        self.report.staged.setdefault(Entity.COMMENTS.value, 0)
        resumed = bool(self.state.get_meta(_PASS))
        self._comments_pass()
        if resumed:  # tickets that changed while a pass was unfinished get their own pass
            self._comments_pass()

    def _comments_pass(self) -> None:
        pending, cursor = self._open_pass()
        if not pending:
            return
        name = "export comments"
        self.progress.start(name, len(pending))
        pages = self.source.export(Entity.COMMENTS, cursor, ticket_ids=[tid for tid, _ in pending])
        for group in prefetch_groups(pages, self.options.max_in_flight, self.stop):
            records = _dedupe(r for page in group for r in page.records)
            self._stage(records, _STREAM, _last_cursor(group))
            self.progress.advance(name, len({getattr(r, "ticket_id", None) for r in records}))
        self._close_pass(pending)
        self.progress.finish(name)

    def _close_pass(self, pending: list[list[str]]) -> None:
        """Remember that these tickets' comments are staged at this ticket version."""
        with self.state.transaction() as conn:
            for tid, version in pending:
                self.state._set_cursor(conn, _MARK + tid, version)  # noqa: SLF001 - one transaction
        self.state.set_meta(_PASS, "")


def run_export(source, state: StateStore, workdir: Path | str, *, options,
               progress: Progress | None = None, stop: StopFlag | None = None) -> ExportReport:
    """Export every entity the source offers into staging; resume or fetch only what changed."""
    run_id = state.start_run("export", {"since": options.since})
    exporter = _Exporter(source, state, Path(workdir), options, progress or NullProgress(),
                         stop or StopFlag())
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
