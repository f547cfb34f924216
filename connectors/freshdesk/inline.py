"""Inline images: found in HTML bodies at export, rewritten to a marker at load. Pure functions.

Freshdesk keeps inline images out of ``attachments``: a description or conversation body links
them as ``<img src="https://attachment.freshdesk.com/inline/attachment?token=...">`` (reference
§7 gotcha 5; Zammad's recorded conversation shows ``data-id="<attachment id>"`` on the tag). The
export turns each link into an ``Attachment(inline=True)`` so the file is downloaded with the
others and staged on the comment.

At load, the public API has no way to upload an image *into* a body: files go only as multipart
``attachments[]`` of the ticket or note (§5.1, "only as local files"). So an inline image becomes
an attachment of the same ticket/note, and its ``<img>`` is replaced by the text marker
``[inline image: <name>]`` naming that attachment; a link to the source account would break when
the source account is closed (and real inline tokens expire).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import re
from typing import Iterable
from urllib.parse import parse_qs, urlsplit

from migrator.models import Attachment

__all__ = ["INLINE_PATH", "inline_attachments", "inline_id", "rewrite_inline", "marker",
           "sniff_type", "extension"]

INLINE_PATH = "/inline/attachment"
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_SAFE = re.compile(r"[^\w.\- ()+@]+")
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
        "image/bmp": "bmp", "image/svg+xml": "svg"}


def _attrs(tag: str) -> dict[str, str]:
    """An ``<img>`` tag's attributes, names lowercased and entities decoded."""
    out: dict[str, str] = {}
    for m in _ATTR.finditer(tag[4:]):
        value = next((v for v in m.groups()[1:] if v is not None), "")
        out.setdefault(m.group(1).lower(), html.unescape(value))
    return out


def _is_inline(src: str) -> bool:
    parts = urlsplit(src)
    return parts.path.endswith(INLINE_PATH) and "token" in parse_qs(parts.query)


def _token_id(token: str) -> str | None:
    """The attachment id in an inline token: ``<id>.<sig>``, or a JWT whose payload has ``id``."""
    head = token.split(".", 1)[0]
    if head.isdigit():
        return head
    pieces = token.split(".")
    if len(pieces) == 3:
        try:
            payload = json.loads(base64.urlsafe_b64decode(pieces[1] + "=" * (-len(pieces[1]) % 4)))
        except (ValueError, binascii.Error):
            return None
        value = payload.get("id") if isinstance(payload, dict) else None
        return str(value) if value is not None else None
    return None


def inline_id(src: str, attrs: dict[str, str] | None = None) -> str:
    """A stable id for an inline image: ``data-id``, else the token's id, else a URL digest."""
    attrs = attrs or {}
    if attrs.get("data-id", "").strip().isdigit():
        return f"inline-{attrs['data-id'].strip()}"
    token = (parse_qs(urlsplit(src).query).get("token") or [""])[0]
    found = _token_id(token)
    if found:
        return f"inline-{found}"
    # No id anywhere: the token itself is stable for one image, the digest keeps paths short.
    return "inline-" + hashlib.sha256((token or src).encode()).hexdigest()[:16]


def _name(attrs: dict[str, str], att_id: str) -> str:
    alt = _SAFE.sub("_", attrs.get("alt", "")).strip(". ")
    if alt and "." in alt[1:] and len(alt) <= 120:  # an alt that is a file name keeps it
        return alt
    return att_id  # the extension is added once the bytes tell the type (see sniff_type)


def inline_attachments(body: str | None) -> list[Attachment]:
    """One inline ``Attachment`` per distinct Freshdesk inline image linked in ``body``."""
    seen: dict[str, Attachment] = {}
    for tag in _IMG.findall(body or ""):
        attrs = _attrs(tag)
        src = attrs.get("src", "")
        if not _is_inline(src):
            continue
        att_id = inline_id(src, attrs)
        if att_id not in seen:
            seen[att_id] = Attachment(id=att_id, file_name=_name(attrs, att_id), url=src,
                                      inline=True)
    return list(seen.values())


def marker(att: Attachment) -> str:
    """The text that replaces an inline image in a migrated body."""
    return f"[inline image: {att.file_name}]"


def _matches(att: Attachment, src: str, attrs: dict[str, str]) -> bool:
    if att.url and src == att.url:
        return True
    if src == f"cid:{att.id}":
        return True
    return _is_inline(src) and inline_id(src, attrs) == att.id


def rewrite_inline(body: str | None, attachments: Iterable[Attachment]) -> str | None:
    """``body`` with each inline image's ``<img>`` replaced by its marker (see module doc)."""
    inline = [a for a in attachments if a.inline]
    if not body or not inline:
        return body

    def swap(m: re.Match) -> str:
        attrs = _attrs(m.group(0))
        src = attrs.get("src", "")
        att = next((a for a in inline if _matches(a, src, attrs)), None)
        if att is None:
            return m.group(0)
        return f'<span class="migrated-inline-image">{html.escape(marker(att))}</span>'

    return _IMG.sub(swap, body)


def sniff_type(head: bytes) -> str | None:
    """An image content type from the first bytes (inline downloads carry no name or type)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:2] == b"BM":
        return "image/bmp"
    return None


def extension(content_type: str | None) -> str | None:
    """The usual file extension of an image content type."""
    return _EXT.get((content_type or "").split(";")[0].strip().lower())
