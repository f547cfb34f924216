"""Attachment downloads at export: into ``<workdir>/attachments/<vendor>/<id>/<file name>``.

Each downloaded file's path (relative to the workdir), size and sha256 are written on the staged
comment, so the loader and ``verify`` never need the source again. A file already on disk with
the expected size is kept (a re-run does not download it twice). A download the source refuses
(404, expired) is kept as a listed failure, never dropped silently.

Bytes in flight are bounded (``options.attachment_bytes_in_flight``, 64 MB by default): a
download reserves its file's announced size in a :class:`ByteBudget` before it starts and gives
it back when the file is on disk; on the load side :class:`ByteBoundTarget` reserves the size of
a batch's files for the time of its ``submit`` (where the loaders upload). A file or batch larger
than the whole budget waits until nothing else is in flight and then goes alone.
"""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from migrator.errors import ConfigError, RecordError

__all__ = ["AttachmentFetcher", "ByteBudget", "ByteBoundTarget", "sha256_of", "safe_name"]

DEFAULT_BYTES_IN_FLIGHT = 64 * 1024 * 1024
UNKNOWN_SIZE = 8 * 1024 * 1024  # reserved for a file whose size the source does not announce
MAX_FAILURES_KEPT = 1000  # failed downloads listed with their reason; all are counted

_UNSAFE = re.compile(r"[^\w.\- ()\[\]+@]+", re.UNICODE)


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def safe_name(name: str | None) -> str:
    """A file name that cannot climb out of its folder."""
    base = Path(str(name or "")).name.replace("\\", "_")
    base = _UNSAFE.sub("_", base).strip(". ")
    return base[:150] or "file"


class ByteBudget:
    """At most ``limit`` bytes reserved at once, across threads; ``peak`` is the most seen."""

    def __init__(self, limit: int = DEFAULT_BYTES_IN_FLIGHT):
        self.limit = max(1, int(limit))
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, size: int | None) -> Iterator[int]:
        """Reserve ``size`` bytes (capped at the limit) for the block; wait for room first."""
        want = min(self.limit, max(0, int(UNKNOWN_SIZE if size is None else size)))
        with self._cond:
            while self.used and self.used + want > self.limit:
                self._cond.wait()
            self.used += want
            self.peak = max(self.peak, self.used)
        try:
            yield want
        finally:
            with self._cond:
                self.used -= want
                self._cond.notify_all()


def budget_for(options: Any) -> ByteBudget:
    """The byte budget the options ask for."""
    return ByteBudget(getattr(options, "attachment_bytes_in_flight", None)
                      or DEFAULT_BYTES_IN_FLIGHT)


def _batch_bytes(items: Sequence[Any]) -> int:
    total = 0
    for item in items:
        for comment in getattr(item.record, "comments", None) or ():
            total += sum(a.size or 0 for a in comment.attachments if a.local_path)
    return total


class ByteBoundTarget:
    """A :class:`~connectors.base.Target` whose ``submit`` (attachment uploads) holds the
    batch's file bytes in a :class:`ByteBudget`; everything else passes through."""

    def __init__(self, target: Any, budget: ByteBudget):
        self._target, self.budget = target, budget

    def submit(self, entity: Any, items: list[Any]) -> Any:
        size = _batch_bytes(items)
        if not size:
            return self._target.submit(entity, items)
        with self.budget.hold(size):
            return self._target.submit(entity, items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class AttachmentFetcher:
    """Downloads the attachments of staged comments, several at a time."""

    def __init__(self, source: Any, workdir: Path, options: Any):
        self.source, self.workdir, self.options = source, workdir, options
        self.vendor = safe_name(getattr(source, "name", "source"))
        self.count = 0
        self.bytes = 0
        self.failures: list[str] = []  # the first MAX_FAILURES_KEPT, each with its reason
        self.failed = 0  # every one
        self.budget = budget_for(options)
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(64)]  # memory flat, not one per file
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(8, options.max_in_flight)))

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True)

    def _wanted(self, att: Any) -> bool:
        if not self.options.attachments:
            return False
        return not att.inline or self.options.inline_images

    def fetch_all(self, comments: Sequence[Any]) -> None:
        """Download every wanted attachment of ``comments`` (mutates them in place)."""
        jobs = [(c, a) for c in comments for a in c.attachments if self._wanted(a)]
        for fut in [self._pool.submit(self._fetch, c, a) for c, a in jobs]:
            fut.result()

    def _fetch(self, comment: Any, att: Any) -> None:
        if att.local_path and (self.workdir / att.local_path).is_file():
            return  # the source downloaded it already (Freshdesk: its URLs expire, §attachments)
        rel = Path("attachments") / self.vendor / safe_name(att.id) / safe_name(att.file_name)
        with self._file_lock(rel):  # pages downloading at once may share a file: once
            self._fetch_to(comment, att, rel)

    def _file_lock(self, rel: Path) -> threading.Lock:
        return self._stripes[hash(rel.as_posix()) % len(self._stripes)]

    def _fetch_to(self, comment: Any, att: Any, rel: Path) -> None:
        dest = self.workdir / rel
        try:
            if not (dest.exists() and att.size is not None and dest.stat().st_size == att.size):
                dest.parent.mkdir(parents=True, exist_ok=True)
                with self.budget.hold(att.size):
                    self.source.download(att, dest)
        except (RecordError, ConfigError) as exc:
            # 403/404 from a CDN means an expired or removed file, not bad settings: the rest of
            # the export must go on, and the loss is listed. Transient errors stop the export.
            with self._lock:
                self.failed += 1
                if len(self.failures) < MAX_FAILURES_KEPT:
                    self.failures.append(f"ticket {comment.ticket_id} comment {comment.id} "
                                         f"attachment {att.id} ({att.file_name}): {exc.message}")
            return
        att.local_path = rel.as_posix()
        att.size = dest.stat().st_size
        att.sha256 = sha256_of(dest)
        with self._lock:
            self.count += 1
            self.bytes += att.size
