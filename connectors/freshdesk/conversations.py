"""Conversations of many tickets, fetched concurrently, with their attachments downloaded at once.

Per ticket: ``GET /tickets/{id}?include=conversations`` (2 credits) gives the description, its
attachments (list rows never have them) and the first 10 conversations; only a ticket with 10 or
more pages ``/conversations`` in full. That is one request per ticket for most tickets, at the
same credits as a view plus a conversations call.

Freshdesk attachment URLs are signed and expire within minutes (gotcha 5, ``X-Amz-Expires=300``),
so each ticket's files are streamed to disk right after its conversations are listed, by the same
worker. When a URL has expired anyway (the CDN answers 403/404), the conversation list (or the
ticket, for description files) is read again for a fresh URL.

Inline images are not in ``attachments`` but linked in the HTML bodies (gotcha 5): each one
becomes an ``Attachment(inline=True)`` of its comment (:mod:`connectors.freshdesk.inline`) and
is downloaded the same way, with no credentials (the CDN is a foreign host). One image linked
from many comments (a signature logo) is one file on disk, downloaded once (while this process
remembers it: the last ``INLINE_REMEMBERED`` images; an older one is fetched again, same file).

Memory does not grow with the account: a download's URL refresher lives only while it runs (one
whose download failed is kept, for the engine's retry, among the last ``FAILED_REMEMBERED``),
and concurrent downloads of one inline image are serialised by a fixed set of striped locks.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

from migrator.errors import ConfigError, RecordError
from migrator.http import HttpClient
from migrator.models import Attachment, Comment

from connectors.freshdesk.client import API, iter_pages
from connectors.freshdesk.inline import extension, inline_attachments, sniff_type
from connectors.freshdesk.parse import parse_attachment, parse_conversation, parse_description

__all__ = ["ConversationFetcher", "safe_name"]

log = logging.getLogger("connectors.freshdesk")
EMBED_MAX = 10  # include=conversations returns at most 10 (§2.3)
LOCK_STRIPES = 64  # inline downloads serialise per image through hash(id) % LOCK_STRIPES
INLINE_REMEMBERED = 4096  # inline images whose file this process knows (LRU)
FAILED_REMEMBERED = 256  # refreshers of failed downloads kept for the engine's retry (LRU)

Refresher = Callable[[], "dict[str, Attachment]"]


def safe_name(name: str) -> str:
    """A file name with no directory parts (an attachment name is vendor data)."""
    cleaned = name.replace("\\", "/").split("/")[-1].strip() or "file"
    return "_" if cleaned in (".", "..") else cleaned


class ConversationFetcher:
    """Lists conversations per ticket and downloads their attachments into the workdir."""

    def __init__(self, client: HttpClient, workdir: Path, *, attachments: bool = True,
                 inline_images: bool = True):
        self.client = client
        self.workdir = workdir
        self.attachments = attachments
        self.inline_images = inline_images
        # attachment id -> how to renew its URL, only for downloads that failed here (bounded)
        self.refreshers: OrderedDict[str, Refresher] = OrderedDict()
        self._inline_done: OrderedDict[str, Attachment] = OrderedDict()  # inline id -> its file
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._memo_lock = threading.Lock()  # guards both maps above

    def list(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every conversation of one ticket (all pages); a missing ticket gives none."""
        rows: list[dict[str, Any]] = []
        for page, _ in iter_pages(self.client, f"{API}/tickets/{ticket_id}/conversations",
                                  ok=(404,)):
            rows.extend(page)
        return rows

    def view(self, ticket_id: str) -> dict[str, Any] | None:
        """The ticket with its first 10 conversations (None when it is gone)."""
        self.client.budgets.acquire(("account",), cost=1)  # the include's extra credit (§2.3)
        response = self.client.request("GET", f"{API}/tickets/{ticket_id}",
                                       params={"include": "conversations"}, ok=(404,))
        return None if response.status_code == 404 else response.json()

    def comments(self, ticket_id: str) -> list[Comment]:
        """One ticket's description and conversations as comments, attachments on disk."""
        view = self.view(ticket_id)
        if view is None:
            return []
        rows = view.get("conversations") or []
        if len(rows) >= EMBED_MAX:  # the embed stops at 10: read the whole thread
            rows = self.list(ticket_id)
        desc = parse_description(view)
        comments = [parse_conversation({"ticket_id": ticket_id, **row}) for row in rows]
        for comment in ([desc] if desc else []) + comments:
            self.add_inline(comment)
        if self.attachments:
            if desc is not None:
                self.fetch_files(desc, lambda: self.fresh_ticket_files(ticket_id))
            for comment in comments:
                self.fetch_files(comment, lambda c=comment: self._fresh(c))
        return ([desc] if desc else []) + comments

    def many(self, ticket_ids: Iterable[str], workers: int) -> list[Comment]:
        """Conversations of several tickets at once so the account budget stays full."""
        ids = list(ticket_ids)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(ids) or 1))) as pool:
            results = list(pool.map(self.comments, ids))
        return [c for chunk in results for c in chunk]

    def add_inline(self, comment: Comment) -> None:
        """Record the inline images linked in ``comment``'s HTML as inline attachments."""
        if not self.inline_images:
            return
        known = {a.id for a in comment.attachments}
        comment.attachments.extend(a for a in inline_attachments(comment.html_body)
                                   if a.id not in known)

    def _fresh(self, comment: Comment) -> dict[str, Attachment]:
        for row in self.list(comment.ticket_id):
            if str(row.get("id")) == comment.id:
                return _files(row.get("attachments"), row.get("body"))
        return {}

    def fresh_ticket_files(self, ticket_id: str) -> dict[str, Attachment]:
        """Re-read a ticket for fresh description attachment (and inline image) URLs."""
        data = self.client.get_json(f"{API}/tickets/{ticket_id}")
        return _files(data.get("attachments"), data.get("description"))

    def fetch_files(self, comment: Comment, refresh: Refresher) -> None:
        """Download every attachment of ``comment``; on an expired URL, refresh once and retry.

        A file that still cannot be fetched keeps ``local_path`` unset (the engine reports it)
        rather than stopping the export; its refresher is remembered (bounded) so the engine's
        retry through :meth:`download_fresh` can renew the URL again. A finished download keeps
        nothing.
        """
        for att in comment.attachments:
            try:
                self._download_renewing(att, self.workdir / _rel(att), refresh)
            except (RecordError, ConfigError) as exc:
                self._remember_failed(att.id, refresh)
                log.warning("attachment %s of comment %s (ticket %s) not downloaded: %s",
                            att.id, comment.id, comment.ticket_id, exc.message)

    def _remember_failed(self, att_id: str, refresh: Refresher) -> None:
        with self._memo_lock:
            self.refreshers[att_id] = refresh
            self.refreshers.move_to_end(att_id)
            while len(self.refreshers) > FAILED_REMEMBERED:
                self.refreshers.popitem(last=False)

    def download_fresh(self, att: Attachment, dest: Path) -> int:
        """Download ``att`` to ``dest`` (the engine's retry of a file this export could not
        fetch); a refused URL is renewed once, when its refresher is still remembered."""
        with self._memo_lock:
            refresh = self.refreshers.pop(att.id, None)  # used once, then dropped
        return self._download_renewing(att, dest, refresh)

    def _download_renewing(self, att: Attachment, dest: Path, refresh: Refresher | None) -> int:
        """Download ``att`` to ``dest``; a refused (expired) URL is renewed once and retried."""
        try:
            return self._download(att, dest)
        except (RecordError, ConfigError):  # 403/404 from an expired signed URL (gotcha 5)
            renewed = refresh().get(att.id) if refresh else None
            if renewed is None or not renewed.url:
                raise
            log.info("attachment %s: URL expired, downloading from a fresh one", att.id)
            att.url = renewed.url
            return self._download(att, dest)

    def _download(self, att: Attachment, dest: Path) -> int:
        if not att.url:
            raise RecordError(f"Freshdesk: attachment {att.id} has no URL")
        if att.inline and dest == self.workdir / _rel(att):
            return self._download_inline(att, dest)
        size = self.client.download(att.url, dest)
        if dest == self.workdir / _rel(att):
            att.local_path, att.size, att.sha256 = _rel(att).as_posix(), size, _sha256(dest)
        return size

    def _lock(self, key: str) -> threading.Lock:
        """The stripe of ``key``: a fixed set of locks, however many images there are."""
        return self._stripes[hash(key) % len(self._stripes)]

    def _inline_known(self, att_id: str) -> Attachment | None:
        with self._memo_lock:
            done = self._inline_done.get(att_id)
            if done is not None:
                self._inline_done.move_to_end(att_id)
            return done

    def _inline_remember(self, done: Attachment) -> None:
        with self._memo_lock:
            self._inline_done[done.id] = done
            self._inline_done.move_to_end(done.id)
            while len(self._inline_done) > INLINE_REMEMBERED:
                self._inline_done.popitem(last=False)

    def _download_inline(self, att: Attachment, dest: Path) -> int:
        """An inline image, once per id even when many comments link it (workers share it)."""
        with self._lock(att.id):
            done = self._inline_known(att.id)
            if done is None or not (self.workdir / (done.local_path or "")).is_file():
                size = self.client.download(att.url or "", dest)
                done = _typed(att, dest, self.workdir, size)
                self._inline_remember(done)
        att.file_name, att.content_type = done.file_name, done.content_type
        att.local_path, att.size, att.sha256 = done.local_path, done.size, done.sha256
        return att.size or 0


def _files(attachments: list | None, body: str | None) -> dict[str, Attachment]:
    """Regular and inline files of one record, by id (fresh URLs for a retry)."""
    out = {str(a["id"]): parse_attachment(a) for a in attachments or []}
    out.update({a.id: a for a in inline_attachments(body)})
    return out


def _typed(att: Attachment, path: Path, workdir: Path, size: int) -> Attachment:
    """The downloaded inline image with its type sniffed and, when its name has none, an
    extension (the body gives no name or type, only the bytes do)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    ctype = sniff_type(head) or att.content_type or mimetypes.guess_type(att.file_name)[0]
    ext = extension(ctype)
    if ext and "." not in att.file_name:
        renamed = path.with_name(f"{path.name}.{ext}")
        path.replace(renamed)
        path = renamed
    return Attachment(id=att.id, file_name=path.name, content_type=ctype, size=size,
                      url=att.url, inline=True, local_path=path.relative_to(workdir).as_posix(),
                      sha256=_sha256(path))


def _rel(att: Attachment) -> Path:
    """``attachments/freshdesk/<id>/<name>`` (relative to the workdir)."""
    return Path("attachments") / "freshdesk" / att.id / safe_name(att.file_name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()
