"""Request and response plumbing the Freshdesk routes share: errors, bodies, paging, output.

Error bodies are the documented ones (reference §5.5): 400 ``{"description": "Validation
failed", "errors": [{"field", "message", "code"}]}``; 409 the same with ``duplicate_value`` (and
``additional_info.user_id`` as clients have recorded it); 404 an empty body. Paging follows §2.1:
``per_page`` above 100 is an error, never clamped, and the next page is announced in a ``Link``
header written with the stray space the docs show: ``< https://…page=2>;rel="next"``.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["ApiError", "invalid", "errors", "not_found", "method_not_allowed", "api_error_response",
           "read_payload", "Paging", "paging", "page_response", "json_response", "created",
           "parse_time", "now_iso", "INT_FIELDS", "no_content", "public", "base_url",
           "next_link"]

MAX_PER_PAGE = 100
# Fields sent as numbers; multipart carries them as text, so they are coerced there.
INT_FIELDS = {"status", "priority", "source", "requester_id", "responder_id", "group_id",
              "product_id", "company_id", "email_config_id", "user_id", "ticket_scope",
              "escalate_to", "auto_ticket_assign", "parent_id", "agent_type", "position"}
BOOL_FIELDS = {"private", "incoming", "occasional", "billable", "view_all_tickets"}


class ApiError(Exception):
    """An error answer: status, JSON body (``None`` = empty) and extra headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def errors(items: list[dict[str, Any]], status: int = 400) -> ApiError:
    """A validation failure listing every bad field."""
    return ApiError(status, {"description": "Validation failed", "errors": items})


def invalid(field: str | None, message: str, code: str = "invalid_value",
            status: int = 400, **extra: Any) -> ApiError:
    """A validation failure on one field."""
    item: dict[str, Any] = {"field": field} if field is not None else {}
    item.update(extra)
    item.update({"message": message, "code": code})
    return errors([item], status)


def not_found() -> ApiError:
    """404 for an unknown id: Freshdesk answers with no body."""
    return ApiError(404, None)


def method_not_allowed(what: str) -> ApiError:
    """405, also what writes to spam/deleted tickets and blocked/deleted contacts get."""
    return ApiError(405, {"code": "method_not_allowed",
                          "message": f"This action is not allowed on {what}."})


def api_error_response(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for :class:`ApiError`."""
    assert isinstance(exc, ApiError)
    headers = {"X-Request-Id": uuid.uuid4().hex, **exc.headers}  # support asks for it (§1)
    if exc.body is None:
        return Response(b"", status_code=exc.status, headers=headers)
    return JSONResponse(exc.body, status_code=exc.status, headers=headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None):
    """A JSON answer with the API version header every v2 response carries."""
    return JSONResponse(body, status_code=status, headers={
        "X-Freshdesk-API-Version": "latest=v2; requested=v2", **(headers or {})})


def created(request: Request, path: str, body: Any) -> Response:
    """201 with ``Location`` pointing at the new resource (reference §1)."""
    return json_response(body, 201, {"Location": f"{base_url(request)}/api/v2/{path}"})


def no_content() -> Response:
    """204, as deletes and restores answer."""
    return Response(b"", status_code=204)


def base_url(request: Request) -> str:
    """Scheme, host and port the client used: every absolute URL is built on it."""
    return str(request.base_url).rstrip("/")


def now_iso() -> str:
    """The current time as Freshdesk writes timestamps."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str, field: str) -> str:
    """A date input in any of the documented formats -> canonical UTC ``Z``; else 400."""
    from migrator.models import iso
    try:
        text = value.strip()
        if len(text) == 16 or (len(text) == 17 and text.endswith("Z")):  # YYYY-MM-DDTHH:MM
            text = text.rstrip("Z") + ":00"
        return iso(text) or ""
    except ValueError:
        raise invalid(field, "It should be in the 'valid date' format") from None


# -- request bodies ------------------------------------------------------------------------
async def read_payload(request: Request) -> tuple[dict[str, Any], list[UploadFile]]:
    """The JSON or multipart body as a dict, plus uploaded ``attachments[]`` files."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        return await _read_multipart(request)
    raw = await request.body()
    if ctype != "application/json":
        if not raw:
            return {}, []
        raise ApiError(415, {"code": "invalid_content_type", "message":
                             f"Content-Type header is set to {ctype or 'nothing'}. "
                             "It should be set to application/json"})
    if not raw:
        return {}, []
    try:
        body = json.loads(raw)
    except ValueError:
        raise invalid(None, "Request body has invalid json format", "invalid_json") from None
    if not isinstance(body, dict):
        raise invalid(None, "Request body has invalid json format", "invalid_json")
    return body, []


async def _read_multipart(request: Request) -> tuple[dict[str, Any], list[UploadFile]]:
    # Arrays need a `[]` suffix and custom fields `custom_fields[name]` (reference §7.7).
    try:  # a long HTML description is one text part: allow more than Starlette's 1 MB
        form = await request.form(max_files=100, max_fields=1000, max_part_size=16 << 20)
    except Exception as exc:  # noqa: BLE001 - a malformed body is the client's error
        raise ApiError(400, {"description": "Validation failed", "errors": [
            {"message": f"Invalid multipart body: {exc}", "code": "invalid_value"}]}) from None
    data: dict[str, Any] = {}
    files: list[UploadFile] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile) or hasattr(value, "filename") and not isinstance(
                value, str):
            if key != "attachments[]":
                raise invalid(key, "Unexpected/invalid field in request", "invalid_field")
            files.append(value)  # type: ignore[arg-type]
        elif key.startswith("custom_fields[") and key.endswith("]"):
            data.setdefault("custom_fields", {})[key[14:-1]] = value
        elif key.endswith("[]"):
            data.setdefault(key[:-2], []).append(value)
        else:
            data[key] = _coerce(key, value)
    return data, files


def _coerce(key: str, value: str) -> Any:
    if key in INT_FIELDS and value.lstrip("-").isdigit():
        return int(value)
    if key in BOOL_FIELDS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


# -- paging --------------------------------------------------------------------------------
class Paging:
    """``page``/``per_page`` of one list request."""

    def __init__(self, page: int, per_page: int):
        self.page, self.per_page = page, per_page

    @property
    def start(self) -> int:
        """Index of the page's first row."""
        return (self.page - 1) * self.per_page


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise invalid(name, "It should be a/an Positive Integer", "datatype_mismatch")
    return int(raw)


def paging(request: Request, page_cap: int | None = None, max_per_page: int = MAX_PER_PAGE,
           default: int = 30) -> Paging:
    """Validate ``page``/``per_page``; past ``page_cap`` (tickets: 300) the answer is 400."""
    per_page = _positive_int(request, "per_page", default)
    if per_page > max_per_page:
        raise invalid("per_page", f"It should be a Positive Integer less than or equal to "
                                  f"{max_per_page}", "invalid_value")
    page = _positive_int(request, "page", 1)
    if page_cap is not None and page > page_cap:
        raise invalid("page", f"You cannot access pages beyond {page_cap}. Please narrow down "
                              "your search query using updated_since", "invalid_value")
    return Paging(page, per_page)


def next_link(request: Request, page: int) -> str:
    """The ``Link`` header value for ``page``, with the documented stray space after ``<``."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    params.append(("page", str(page)))
    url = f"{base_url(request)}{request.url.path}?{urlencode(params)}"
    return f'< {url}>;rel="next"'


def page_response(request: Request, rows: list[Any], p: Paging,
                  render=lambda r: r) -> Response:
    """One page of ``rows`` (already filtered and ordered) with the next ``Link`` if any."""
    chunk = rows[p.start:p.start + p.per_page]
    headers = {}
    if len(rows) > p.start + p.per_page:
        headers["Link"] = next_link(request, p.page + 1)
    return json_response([render(r) for r in chunk], headers=headers)


def public(record: dict[str, Any], drop: Iterable[str] = ()) -> dict[str, Any]:
    """A deep copy of a stored record without the keys a view leaves out."""
    out = copy.deepcopy(record)
    for key in drop:
        out.pop(key, None)
    return out
