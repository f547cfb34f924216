"""Request/response plumbing of the Zendesk emulator: errors, JSON output, cursor pagination.

Error bodies are the real ones (reference §5.5): 404 ``RecordNotFound``, 400 ``TooManyValues``,
422 ``RecordInvalid`` with ``details``. Cursor pagination (§2.1) caps ``page[size]`` at 100 and
writes ``meta.has_more/after_cursor/before_cursor`` and absolute ``links`` on the caller's origin.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .zendesk_render import BASE, CDN
from .zendesk_store import public

__all__ = ["ZendeskError", "not_found", "too_many", "record_invalid", "respond", "origin",
           "cbp", "paginate", "routes", "read_json", "ids_param", "int_param"]


class ZendeskError(Exception):
    """An error answer: status, JSON (or text) body and extra headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def not_found() -> ZendeskError:
    """404 as Zendesk sends it."""
    return ZendeskError(404, {"error": "RecordNotFound", "description": "Not found"})


def too_many(limit: int = 100) -> ZendeskError:
    """400 for more than ``limit`` values (recorded by zenpy, note the double space)."""
    return ZendeskError(400, {"error": "TooManyValues",
                              "description": f"Parameter  cannot specify more than {limit} "
                                             "values", "max_count": limit})


def record_invalid(field: str, description: str, error: str = "InvalidValue") -> ZendeskError:
    """422 RecordInvalid with one detail under ``field`` (``base`` for the record itself)."""
    return ZendeskError(422, {"error": "RecordInvalid", "description": "Record validation errors",
                              "details": {field: [{"description": description, "error": error}]}})


def origin(request: Request) -> str:
    """The scheme://host:port the client used."""
    return f"{request.url.scheme}://{request.url.netloc}"


def respond(request: Request, payload: Any, status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    """JSON with ``__BASE__``/``__CDN__`` placeholders swapped for real origins."""
    base = origin(request)
    cdn = request.app.state.store.cdn_base or base
    text = json.dumps(payload, ensure_ascii=False).replace(BASE, base).replace(CDN, cdn)
    return Response(text, status_code=status, headers=headers,
                    media_type="application/json; charset=utf-8")


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    """An integer query parameter; 400 when it is not a number."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ZendeskError(400, {"error": "InvalidPaginationParameter",
                                 "description": f"{name} must be an integer"}) from None
    return min(value, maximum) if maximum else value


def ids_param(request: Request, name: str = "ids", limit: int = 100) -> list[str]:
    """Comma-separated ``ids``/``external_ids``; 400 TooManyValues past ``limit``."""
    raw = request.query_params.get(name, "")
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if len(values) > limit:
        raise too_many(limit)
    return values


def _encode(value: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": "id", "v": value}).encode()).decode()


def _decode(cursor: str) -> int:
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["v"])
    except Exception:  # noqa: BLE001 - any malformed cursor is the client's mistake
        raise ZendeskError(400, {"error": "InvalidPaginationParameter",
                                 "description": "page[after] is not a valid cursor"}) from None


def _link(request: Request, **page: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items()
              if not k.startswith("page[")]
    params += [(f"page[{k}]", v) for k, v in page.items()]
    return f"{origin(request)}{request.url.path}?{urlencode(params)}"


def cbp(request: Request, key: str, items: list[dict], extra: dict | None = None) -> Response:
    """Cursor pagination over ``items`` sorted by id (``page[size]`` ≤ 100)."""
    size = int_param(request, "page[size]", 100)
    if not 1 <= size <= 100:
        raise ZendeskError(400, {"error": "InvalidPaginationParameter",
                                 "description": "page[size] must be between 1 and 100"})
    rows = sorted(items, key=lambda r: r["id"])
    if after := request.query_params.get("page[after]"):
        last = _decode(after)
        rows = [r for r in rows if r["id"] > last]
    page, has_more = rows[:size], len(rows) > size
    meta: dict[str, Any] = {"has_more": has_more, "after_cursor": None, "before_cursor": None}
    links: dict[str, Any] = {"prev": None, "next": None}
    if page:
        meta.update(after_cursor=_encode(page[-1]["id"]), before_cursor=_encode(page[0]["id"]))
        # Like the real service, ``links.next`` is set even on the last page: clients must stop
        # on ``meta.has_more`` (reference §2.1, zenpy comments recording).
        links.update(next=_link(request, size=str(size), after=meta["after_cursor"]),
                     prev=_link(request, size=str(size), before=meta["before_cursor"]))
    body = {key: [public(r) for r in page], "meta": meta, "links": links, **(extra or {})}
    return respond(request, body)


def paginate(request: Request, key: str, items: list[dict]) -> Response:
    """CBP when ``page[size]``/``page[after]`` is sent, else legacy offset pages (≤100)."""
    if any(k.startswith("page[") for k in request.query_params):
        return cbp(request, key, items)
    per_page = int_param(request, "per_page", 100, maximum=100)
    page = max(1, int_param(request, "page", 1))
    rows = sorted(items, key=lambda r: r["id"])
    chunk = rows[(page - 1) * per_page: page * per_page]
    more = page * per_page < len(rows)
    base = f"{origin(request)}{request.url.path}"
    return respond(request, {key: [public(r) for r in chunk],
                             "next_page": f"{base}?page={page + 1}&per_page={per_page}"
                             if more else None,
                             "previous_page": f"{base}?page={page - 1}&per_page={per_page}"
                             if page > 1 else None, "count": len(rows)})


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON body; 400 when it is not JSON."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ZendeskError(400, {"error": "InvalidJSON",
                                 "description": "The request body is not valid JSON"}) from None
    if not isinstance(body, dict):
        raise ZendeskError(400, {"error": "InvalidJSON", "description": "Expected an object"})
    return body


def routes(path: str, endpoint: Callable, methods: Iterable[str] = ("GET",)) -> list[Route]:
    """The route with and without the optional ``.json`` suffix (suffixed first, so that a
    string parameter such as a job id does not swallow the suffix)."""
    return [Route(path + ".json", endpoint, methods=list(methods)),
            Route(path, endpoint, methods=list(methods))]
