"""``GET /api/v2/search/tickets?query="..."``: the filter API, its query language and its caps.

Reference §2.5: the query is wrapped in double quotes, at most 512 characters; terms are
``field:value`` with ``:>``/``:<`` meaning >= and <= on dates and numbers, strings in single
quotes, ``null`` for empty, combined with AND, OR and parentheses. Results are always 30 per page,
``page`` at most 10, in ``{"total": N, "results": [...]}``. Custom fields are addressed by their
name, with or without the ``cf_`` prefix. The real index is seconds to minutes behind writes
(§2.5, gotcha 20): with the ``search_lag`` knob a ticket is left out until that many seconds after
its last write (its ``updated_at``); without it, search sees writes at once.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import freshdesk_api as A
from .freshdesk_tickets import list_row

__all__ = ["routes", "parse_query"]

MAX_QUERY = 512
PER_PAGE, MAX_PAGE = 30, 10
_TOKEN = re.compile(r"\s*(?:(\()|(\))|(AND|OR)\b|([A-Za-z_][A-Za-z0-9_]*):([<>]?)"
                    r"('(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?|null|true|false))")
_FIELDS = {"agent_id": "responder_id", "group_id": "group_id", "priority": "priority",
           "status": "status", "type": "type", "tag": "tags", "requester_id": "requester_id",
           "company_id": "company_id", "product_id": "product_id", "due_by": "due_by",
           "fr_due_by": "fr_due_by", "created_at": "created_at", "updated_at": "updated_at"}
_DATES = {"due_by", "fr_due_by", "created_at", "updated_at"}
Predicate = Callable[[dict], bool]


def _bad_query(message: str = "Given query is invalid") -> A.ApiError:
    return A.invalid("query", message, "invalid_value")


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("\\'", "'")
    if text in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[text]
    return float(text) if "." in text else int(text)


def _term(name: str, op: str, value: Any, custom: set[str]) -> Predicate:
    if name in _FIELDS:
        key, is_custom = _FIELDS[name], False
    elif name in custom or f"cf_{name}" in custom:
        key, is_custom = (name if name in custom else f"cf_{name}"), True
    else:
        raise _bad_query(f"Unsupported field in query: {name}")

    def get(t: dict) -> Any:
        v = t["custom_fields"].get(key) if is_custom else t.get(key)
        return v[:10] if key in _DATES and isinstance(v, str) else v

    def test(t: dict) -> bool:
        v = get(t)
        if key == "tags":
            return value in v
        if value is None:
            return v is None or v == ""
        if v is None:
            return False
        if isinstance(value, str) and isinstance(v, str):
            v, val = v.lower(), value.lower()
        else:
            val = value
        try:
            return v >= val if op == ">" else v <= val if op == "<" else v == val
        except TypeError:
            return str(v) == str(val)

    return test


def parse_query(query: str, custom: set[str]) -> Predicate:
    """Compile a search query (without its surrounding double quotes) to a predicate."""
    tokens: list[tuple] = []
    pos = 0
    while pos < len(query.rstrip()):
        m = _TOKEN.match(query, pos)
        if not m:
            raise _bad_query()
        tokens.append(m.groups())
        pos = m.end()
    pred, rest = _parse_or(tokens, custom)
    if rest:
        raise _bad_query()
    return pred


def _parse_or(tokens, custom):
    left, tokens = _parse_and(tokens, custom)
    while tokens and tokens[0][2] == "OR":
        right, tokens = _parse_and(tokens[1:], custom)
        left = (lambda a, b: lambda t: a(t) or b(t))(left, right)
    return left, tokens


def _parse_and(tokens, custom):
    left, tokens = _parse_atom(tokens, custom)
    while tokens and tokens[0][2] == "AND":
        right, tokens = _parse_atom(tokens[1:], custom)
        left = (lambda a, b: lambda t: a(t) and b(t))(left, right)
    return left, tokens


def _parse_atom(tokens, custom):
    if not tokens:
        raise _bad_query()
    open_, _, _, name, op, value = tokens[0]
    if open_:
        inner, rest = _parse_or(tokens[1:], custom)
        if not rest or not rest[0][1]:
            raise _bad_query()
        return inner, rest[1:]
    if not name:
        raise _bad_query()
    return _term(name, op, _literal(value), custom), tokens[1:]


async def search_tickets(request: Request) -> Response:
    """``GET /api/v2/search/tickets``."""
    store = request.app.state.store
    raw = request.query_params.get("query", "")
    if len(raw) > MAX_QUERY:
        raise _bad_query(f"It should have a maximum length of {MAX_QUERY} characters")
    if len(raw) < 2 or not (raw.startswith('"') and raw.endswith('"')):
        raise _bad_query("It should be a valid query string enclosed in double quotes")
    page = A.paging(request, page_cap=MAX_PAGE, default=PER_PAGE, max_per_page=PER_PAGE).page
    custom = {f["name"] for f in store.ticket_fields.values() if not f["default"]}
    pred = parse_query(raw[1:-1], custom)
    indexed = _indexed_before(request.app.state.knobs.search_lag)
    hits = [t for t in store.tickets.values()
            if not t.get("deleted") and not t["spam"] and indexed(t) and pred(t)]
    hits.sort(key=lambda t: (t["updated_at"] or "", t["id"]), reverse=True)
    chunk = hits[(page - 1) * PER_PAGE:page * PER_PAGE]
    return A.json_response({"results": [list_row(store, t) for t in chunk],
                            "total": len(hits)})


def _indexed_before(lag: float) -> Predicate:
    """Whether a ticket's last write has reached the (lagging) search index."""
    if lag <= 0:
        return lambda t: True
    cutoff = datetime.fromtimestamp(time.time() - lag, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    return lambda t: (t["updated_at"] or "") <= cutoff


routes = [Route("/api/v2/search/tickets", search_tickets, methods=["GET"])]
