"""Attachment downloads as Freshdesk serves them: pre-signed URLs on a foreign host that expire.

Real ``attachment_url`` values are S3 pre-signed URLs with ``X-Amz-Expires=300`` (reference §7.5):
no API key is needed, and after the TTL the storage answers 403 with an XML body. The sandbox
signs ``/_cdn/<id>/<name>`` URLs with a per-app secret and serves them on a *different origin*
than the API: the other loopback spelling (``127.0.0.1`` <-> ``localhost``) on the same port, or
``app.state.cdn_base`` when a separate server is set up. Like S3, a request that carries an
``Authorization`` header on top of the signature is refused (400), which makes a client that
leaks its API key to the CDN visible in tests and in ``/_sandbox/stats``.

Inline images are not in ``attachments``: bodies link them as ``<cdn>/inline/attachment?token=``
URLs (gotcha 5), which a migration has to find in the HTML, download and rewrite.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import Response

from .freshdesk_render import INLINE_PREFIX

__all__ = ["cdn_base", "sign_url", "inline_url", "with_urls", "serve_attachment",
           "serve_inline"]

_INLINE = re.compile(re.escape(INLINE_PREFIX) + r"(\d+)")


def cdn_base(request: Request) -> str:
    """The foreign origin attachment URLs point at."""
    configured = getattr(request.app.state, "cdn_base", None)
    if configured:
        return configured.rstrip("/")
    parts = urlsplit(str(request.base_url))
    host = parts.hostname or "127.0.0.1"
    other = "localhost" if host != "localhost" else "127.0.0.1"
    netloc = f"{other}:{parts.port}" if parts.port else other
    return urlunsplit((parts.scheme, netloc, "", "", "")).rstrip("/")


def _signature(secret: bytes, att_id: int, expires_ms: int) -> str:
    return hmac.new(secret, f"{att_id}:{expires_ms}".encode(), hashlib.sha256).hexdigest()[:32]


def sign_url(request: Request, att_id: int, name: str) -> str:
    """A fresh URL for one attachment, valid for ``knobs.attachment_url_ttl`` seconds."""
    state = request.app.state
    ttl = float(state.knobs.attachment_url_ttl)
    expires_ms = int((time.time() + ttl) * 1000)
    sig = _signature(state.cdn_secret, att_id, expires_ms)
    return (f"{cdn_base(request)}/_cdn/{att_id}/{quote(name)}?X-Amz-Expires={int(ttl)}"
            f"&Expires={expires_ms}&Signature={sig}")


def inline_url(request: Request, att_id: int) -> str:
    """The long-lived URL of an inline image, as bodies carry them (reference §7.5)."""
    sig = _signature(request.app.state.cdn_secret, att_id, 0)
    return f"{cdn_base(request)}/inline/attachment?token={att_id}.{sig}"


def with_urls(request: Request, record: dict[str, Any]) -> dict[str, Any]:
    """Fill ``attachment_url`` of every attachment and inline image URLs in bodies (in place)."""
    for att in record.get("attachments") or []:
        att["attachment_url"] = sign_url(request, att["id"], att["name"])
    for key in ("description", "body"):
        if INLINE_PREFIX in (record.get(key) or ""):
            record[key] = _INLINE.sub(lambda m: inline_url(request, int(m.group(1))),
                                      record[key])
    for conv in record.get("conversations") or []:
        with_urls(request, conv)
    return record


async def serve_inline(request: Request) -> Response:
    """``GET /inline/attachment?token=<id>.<sig>``: inline images, no key, no expiry."""
    att_id_text, _, sig = request.query_params.get("token", "").partition(".")
    if not att_id_text.isdigit() or not hmac.compare_digest(
            sig, _signature(request.app.state.cdn_secret, int(att_id_text), 0)):
        return _xml(403, "AccessDenied", "Invalid token")
    blob = request.app.state.store.blobs.get(int(att_id_text))
    if blob is None:
        return _xml(404, "NoSuchKey", "The specified key does not exist.")
    request.app.state.cdn_stats["served"] += 1
    return Response(blob.load(), media_type=blob.content_type)


def _xml(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>SANDBOX</RequestId></Error>")
    return Response(body, status_code=status, media_type="application/xml")


async def serve_attachment(request: Request) -> Response:
    """``GET /_cdn/{id}/{name}``: the bytes, or S3-style 400/403/404 XML errors."""
    state = request.app.state
    stats = state.cdn_stats
    if "authorization" in request.headers:
        stats["auth_header"] += 1
        return _xml(400, "InvalidArgument", "Only one auth mechanism allowed; only the "
                    "X-Amz-Algorithm query parameter, Signature query string parameter or the "
                    "Authorization header should be specified")
    try:
        att_id = int(request.path_params["att_id"])
        expires_ms = int(request.query_params.get("Expires", ""))
    except ValueError:
        return _xml(403, "AccessDenied", "Query-string authentication requires the Signature, "
                    "Expires and AWSAccessKeyId parameters")
    sig = request.query_params.get("Signature", "")
    if not hmac.compare_digest(sig, _signature(state.cdn_secret, att_id, expires_ms)):
        stats["bad_signature"] += 1
        return _xml(403, "SignatureDoesNotMatch", "The request signature we calculated does "
                    "not match the signature you provided.")
    if time.time() * 1000 > expires_ms:
        stats["expired"] += 1
        return _xml(403, "AccessDenied", "Request has expired")
    blob = state.store.blobs.get(att_id)
    if blob is None:
        return _xml(404, "NoSuchKey", "The specified key does not exist.")
    stats["served"] += 1
    return Response(blob.load(), media_type=blob.content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{quote(blob.name)}\""})
