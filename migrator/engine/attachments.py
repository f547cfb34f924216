"""Attachment downloads at export: into ``<workdir>/attachments/<vendor>/<id>/<file name>``.

Each downloaded file's path (relative to the workdir), size and sha256 are written on the staged
comment, so the loader and ``verify`` never need the source again. A file already on disk with
the expected size is kept (a re-run does not download it twice). A download the source refuses
(404, expired) is kept as a listed failure, never dropped silently.
"""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from migrator.errors import ConfigError, RecordError

__all__ = ["AttachmentFetcher", "sha256_of", "safe_name"]

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


class AttachmentFetcher:
    """Downloads the attachments of staged comments, several at a time."""

    def __init__(self, source: Any, workdir: Path, options: Any):
        self.source, self.workdir, self.options = source, workdir, options
        self.vendor = safe_name(getattr(source, "name", "source"))
        self.count = 0
        self.bytes = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
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
        dest = self.workdir / rel
        try:
            if not (dest.exists() and att.size is not None and dest.stat().st_size == att.size):
                dest.parent.mkdir(parents=True, exist_ok=True)
                self.source.download(att, dest)
        except (RecordError, ConfigError) as exc:
            # 403/404 from a CDN means an expired or removed file, not bad settings: the rest of
            # the export must go on, and the loss is listed. Transient errors stop the export.
            with self._lock:
                self.failures.append(f"ticket {comment.ticket_id} comment {comment.id} "
                                     f"attachment {att.id} ({att.file_name}): {exc.message}")
            return
        att.local_path = rel.as_posix()
        att.size = dest.stat().st_size
        att.sha256 = sha256_of(dest)
        with self._lock:
            self.count += 1
            self.bytes += att.size
