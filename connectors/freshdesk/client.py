"""Freshdesk HTTP plumbing: base URL, API-key auth, rate buckets, ``Link`` paging.

Every request draws from the account bucket plus its endpoint's own bucket (listing tickets,
listing contacts, creating and updating tickets have separate per-minute caps, reference
§3.1). Limits come from ``cfg.plan`` until the ``X-RateLimit-*`` headers announce the real ones.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Iterator

import httpx

from migrator.config import EndpointConfig, Options
from migrator.errors import ConfigError
from migrator.http import HostOnlyAuth, HttpClient, RetryPolicy, check_base_url, retry_policy_for
from migrator.ratelimit import BudgetSet

__all__ = ["PLAN_LIMITS", "API", "base_url_for", "build_client", "choose_budgets",
           "freshdesk_header_hook", "next_link", "iter_pages", "page_cap"]

API = "/api/v2"
PER_PAGE = 100  # the maximum; more is a 400, never clamped (reference §2.1)
DEFAULT_PAGE_CAP = 300  # list tickets: page 301 answers 400 (reference §2.2)

# Per-minute limits per plan (reference §3.1; limits.md §1.2).
PLAN_LIMITS: dict[str, dict[str, int]] = {
    "trial": {"account": 50},
    "growth": {"account": 200, "ticket_create": 80, "ticket_update": 80,
               "tickets_list": 20, "contacts_list": 20},
    "pro": {"account": 400, "ticket_create": 160, "ticket_update": 160,
            "tickets_list": 100, "contacts_list": 100},
    "enterprise": {"account": 700, "ticket_create": 280, "ticket_update": 280,
                   "tickets_list": 200, "contacts_list": 200},
}
BUCKETS = ("account", "tickets_list", "contacts_list", "ticket_create", "ticket_update")
_TICKET_ITEM = re.compile(r"^/api/v2/tickets/\d+$")


def base_url_for(cfg: EndpointConfig, what: str) -> str:
    """``https://{domain}.freshdesk.com`` or the checked ``base_url`` override."""
    if cfg.base_url:
        return check_base_url(cfg.base_url, what=what)
    if not cfg.domain:
        raise ConfigError(f"{what}: neither `domain` nor `base_url` is set in migration.yaml",
                          hint="add `domain: acme` for https://acme.freshdesk.com")
    # A trailing slash or a full host name gives confusing invalid_field errors (gotcha 18).
    domain = cfg.domain.strip().strip("/").removeprefix("https://").removesuffix(".freshdesk.com")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", domain):
        raise ConfigError(f"{what}: domain {cfg.domain!r} is not a Freshdesk account name",
                          hint="write only the account part, e.g. `domain: acme`")
    return f"https://{domain}.freshdesk.com"


def choose_budgets(method: str, path: str) -> tuple[str, ...]:
    """Buckets a request draws from: its endpoint bucket first (it binds), then the account."""
    method = method.upper()
    if method == "GET" and path == f"{API}/tickets":
        return ("tickets_list", "account")
    if method == "GET" and path == f"{API}/contacts":
        return ("contacts_list", "account")
    if method == "POST" and path == f"{API}/tickets":
        return ("ticket_create", "account")
    if method == "PUT" and _TICKET_ITEM.match(path):
        return ("ticket_update", "account")
    return ("account",)


def freshdesk_header_hook(response: httpx.Response, budgets: BudgetSet,
                          names: tuple[str, ...]) -> None:
    """``X-RateLimit-Total`` is the account's per-minute limit: adopt it for the account bucket.

    ``X-RateLimit-Remaining`` has no reset time in Freshdesk, so exhaustion is left to the 429 and
    its exact ``Retry-After``; extra credits of includes are paid up front by the caller.
    """
    total = response.headers.get("x-ratelimit-total")
    if total and total.strip().isdigit() and int(total) > 0:
        budgets.get("account").observe(limit=float(total))


def _limits(cfg: EndpointConfig, what: str) -> dict[str, float | None]:
    plan = (cfg.plan or "").lower() or None
    if plan is not None and plan not in PLAN_LIMITS:
        raise ConfigError(f"{what}: unknown Freshdesk plan {cfg.plan!r}",
                          hint=f"use one of: {', '.join(PLAN_LIMITS)} (or leave `plan` out)")
    known = PLAN_LIMITS.get(plan or "", {})
    return {name: known.get(name) for name in BUCKETS}


def page_cap(cfg: EndpointConfig) -> int:
    """The list-tickets page cap (300; a sandbox may scale it down with ``page_cap:``)."""
    value = getattr(cfg, "page_cap", None) or (cfg.model_extra or {}).get("page_cap")
    return int(value) if value else DEFAULT_PAGE_CAP


def build_client(cfg: EndpointConfig, *, options: Options, what: str,
                 transport: httpx.BaseTransport | None = None,
                 retry: RetryPolicy = RetryPolicy()) -> HttpClient:
    """An :class:`HttpClient` bound to the account, with Freshdesk's buckets and headers."""
    base = base_url_for(cfg, what)
    key = cfg.secret("api_key")
    if not key:
        raise ConfigError(f"{what}: `api_key` is not set in migration.yaml",
                          hint="add `api_key: ${FRESHDESK_API_KEY}` and export the variable")
    token = base64.b64encode(f"{key}:X".encode()).decode()  # password is any string (§1)
    extra = cfg.model_extra or {}
    window = float(extra.get("rate_window", 60.0))
    return HttpClient(
        base, auth=HostOnlyAuth(f"Basic {token}", base, key),
        # Freshdesk counts fixed windows: a burst on top of a full window's rate would overrun
        # it, so tokens do not pile up (a steady 97% of each limit instead).
        budgets=BudgetSet(_limits(cfg, what), window=window, burst=1.0),
        choose_budgets=choose_budgets, header_hook=freshdesk_header_hook, what=what,
        max_in_flight=options.max_in_flight, transport=transport,
        retry=retry_policy_for(extra, retry),
    )


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, tolerating the docs' stray space (§2.1)."""
    header = response.headers.get("link")
    if not header:
        return None
    for part in header.split(","):
        match = re.match(r"\s*<\s*([^>]+?)\s*>\s*;(.*)", part)
        if match and re.search(r'rel\s*=\s*"?next"?', match.group(2)):
            return match.group(1)
    return None


def read_page(client: HttpClient, url: str, params: dict[str, Any] | None, *,
              ok: tuple[int, ...] = ()) -> tuple[list[Any], httpx.Response] | None:
    """One page of a list endpoint: its rows and the response; ``None`` for an error status
    in ``ok`` (e.g. 404: the feature is not on this plan)."""
    response = client.request("GET", url, params=params, ok=ok)
    if response.status_code in ok and response.status_code >= 400:
        return None
    body = response.json()
    return (body if isinstance(body, list) else body.get("results", [])), response


def iter_pages(client: HttpClient, path: str, params: dict[str, Any] | None = None,
               *, ok: tuple[int, ...] = ()) -> Iterator[tuple[list[Any], httpx.Response]]:
    """Pages of a list endpoint, following ``Link rel=next`` until it is absent."""
    url: str | None = path
    query: dict[str, Any] | None = {"per_page": PER_PAGE, **(params or {})}
    seen: set[str] = set()
    while url:
        got = read_page(client, url, query, ok=ok)
        if got is None:
            return
        yield got
        response = got[1]
        nxt = next_link(response)
        if nxt is None or nxt in seen:  # a repeated link would loop forever
            return
        seen.add(nxt)
        url, query = nxt, None


def attachment_dir(workdir: Path) -> Path:
    """Where exported Freshdesk attachments are stored."""
    return workdir / "attachments" / "freshdesk"
