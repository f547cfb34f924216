"""Attachment uploads for a ticket batch, sent just before the batch (tokens expire, §5.2)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from migrator.errors import ConfigError, RecordError
from migrator.http import HttpClient
from migrator.models import Attachment, Ticket

__all__ = ["upload_ticket_attachments", "resolve_file"]

log = logging.getLogger("connectors.zendesk")


def resolve_file(attachment: Attachment, roots: Iterable[Path | None]) -> Path | None:
    """Where a staged attachment lives: ``local_path`` under the first root that has it."""
    if not attachment.local_path:
        return None
    path = Path(attachment.local_path)
    if path.is_absolute():
        return path if path.is_file() else None
    for root in roots:
        if root is not None and (root / path).is_file():
            return root / path
    return None


class _FileBody:
    """A file streamed in chunks; iterable again, so a retried upload starts from byte 0."""

    def __init__(self, path: Path, chunk: int = 1 << 16):
        self.path, self.chunk = path, chunk

    def __iter__(self):
        with open(self.path, "rb") as fh:
            while block := fh.read(self.chunk):
                yield block


def upload_one(client: HttpClient, attachment: Attachment, path: Path) -> str:
    """``POST /uploads?filename=`` with the raw bytes (not multipart, §5.2); the token."""
    response = client.request(
        "POST", "/api/v2/uploads", params={"filename": attachment.file_name},
        content=_FileBody(path),  # type: ignore[arg-type]  # streamed, never whole in memory
        headers={"Content-Type": attachment.content_type or "application/binary",
                 "Content-Length": str(path.stat().st_size)})
    upload = response.json().get("upload") or {}
    if not upload.get("token"):
        raise RecordError(f"zendesk target: upload of {attachment.file_name} returned no token")
    return upload["token"]


def upload_ticket_attachments(client: HttpClient, ticket: Ticket, *, roots: list[Path | None],
                              max_bytes: int | None) -> tuple[dict[str, list[str]], list[str]]:
    """Upload every attachment of every comment; comment id -> tokens, and notes on losses."""
    tokens: dict[str, list[str]] = {}
    notes: list[str] = []
    for comment in ticket.comments:
        for att in comment.attachments:
            path = resolve_file(att, roots)
            if path is None:
                notes.append(f"attachment {att.file_name} of comment {comment.id} was not "
                             "downloaded at export; not attached")
                continue
            size = path.stat().st_size
            if max_bytes and size > max_bytes:
                notes.append(f"attachment {att.file_name} ({size} bytes) is over the "
                             f"{max_bytes}-byte limit; not attached")
                continue
            try:
                tokens.setdefault(comment.id, []).append(upload_one(client, att, path))
            except (RecordError, ConfigError) as exc:
                notes.append(f"attachment {att.file_name} refused by Zendesk: {exc.message}")
    return tokens, notes
