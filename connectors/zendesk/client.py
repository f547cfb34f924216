"""The Zendesk HTTP client: base URL, credentials, rate-limit buckets and header parsing.

Two buckets (reference ``zendesk-api.md`` §3): ``account`` (the plan's requests per minute) and
``incremental`` (incremental export endpoints, 10/min or 30/min with High Volume). Incremental
requests draw from both, since Zendesk counts them against the account too. Limits start from
``cfg.plan`` and follow what the response headers announce.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from migrator.config import EndpointConfig
from migrator.errors import ConfigError
from migrator.http import HostOnlyAuth, HttpClient, check_base_url, retry_policy_for
from migrator.ratelimit import BudgetSet

__all__ = ["PLAN_LIMITS", "plan_limits", "base_url_for", "auth_for", "choose_budgets",
           "zendesk_header_hook", "build_client"]

# Requests per minute: (account, incremental) per plan (limits.md §1.1).
PLAN_LIMITS: dict[str, tuple[int, int]] = {
    "essential": (10, 10),
    "team": (200, 10),
    "growth": (400, 10),
    "professional": (400, 10),
    "enterprise": (700, 10),
    "enterprise_plus": (2500, 30),
    "high_volume": (2500, 30),
}

_BUCKET_HEADER = re.compile(r"^zendesk-rate-?limit-(.+)$")
_BUCKET_VALUE = re.compile(r"(total|remaining|resets)\s*=\s*(\d+(?:\.\d+)?)")


def _num(value: str | None) -> float | None:
    try:
        return float(value.strip()) if value is not None else None
    except ValueError:
        return None


def plan_limits(plan: str | None) -> dict[str, float | None]:
    """Budget limits for a plan name; ``None`` (no plan) means "learn from the headers"."""
    if plan is None:
        return {"account": None, "incremental": None}
    key = plan.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in PLAN_LIMITS:
        raise ConfigError(f"zendesk: unknown plan {plan!r}",
                          hint=f"use one of: {', '.join(PLAN_LIMITS)}")
    account, incremental = PLAN_LIMITS[key]
    return {"account": account, "incremental": incremental}


def base_url_for(cfg: EndpointConfig, what: str) -> str:
    """``https://<subdomain>.zendesk.com`` or the checked ``base_url`` override."""
    if cfg.base_url:
        return check_base_url(cfg.base_url, what=what)
    if cfg.subdomain:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", cfg.subdomain):
            raise ConfigError(f"{what}: subdomain {cfg.subdomain!r} is not a Zendesk subdomain",
                              hint="write only the first part, e.g. `acme` for acme.zendesk.com")
        return f"https://{cfg.subdomain}.zendesk.com"
    raise ConfigError(f"{what}: neither `subdomain` nor `base_url` is set",
                      hint="add `subdomain: acme` (for acme.zendesk.com) to migration.yaml")


def auth_for(cfg: EndpointConfig, base_url: str, what: str) -> HostOnlyAuth:
    """API token (``email/token`` basic) or OAuth bearer credentials, bound to the host."""
    if cfg.oauth_token:
        token = cfg.secret("oauth_token")
        return HostOnlyAuth(f"Bearer {token}", base_url, token)
    if cfg.token:
        if not cfg.email:
            raise ConfigError(f"{what}: an API token needs `email` (the agent it belongs to)",
                              hint="add `email: admin@example.com` beside `token`")
        token = cfg.secret("token")
        raw = f"{cfg.email}/token:{token}".encode()
        return HostOnlyAuth("Basic " + base64.b64encode(raw).decode(), base_url, token)
    raise ConfigError(f"{what}: no credentials", hint="set `email` + `token: ${ZENDESK_TOKEN}` "
                      "or `oauth_token: ${ZENDESK_OAUTH}` in migration.yaml")


def choose_budgets(method: str, path: str) -> tuple[str, ...]:
    """Incremental exports draw from their own bucket first, then the account's."""
    if "/incremental/" in path:
        return ("incremental", "account")
    return ("account",)


def zendesk_header_hook(response: httpx.Response, budgets: BudgetSet,
                        names: tuple[str, ...]) -> None:
    """Feed Zendesk's rate headers into the right bucket.

    The account-wide headers come in three spellings over the years (``x-rate-limit``,
    ``ratelimit-*`` since 2024, ``rate-limit-*`` in 2023; reference §3.2). Endpoint buckets come as
    ``zendesk-ratelimit-<name>: total=..; remaining=..; resets=..``; only the incremental one maps
    onto a budget we pace by.
    """
    h = response.headers
    # The account headers describe the account bucket on every response, incremental included.
    if "account" in names:
        limit = _num(h.get("x-rate-limit") or h.get("ratelimit-limit") or h.get("rate-limit"))
        remaining = _num(h.get("x-rate-limit-remaining") or h.get("ratelimit-remaining")
                         or h.get("rate-limit-remaining"))
        reset = _num(h.get("ratelimit-reset") or h.get("rate-limit-reset"))
        if limit is not None or remaining is not None:
            budgets.get("account").observe(limit=limit, remaining=remaining,
                                           reset=reset if reset is not None else 60.0)
    for key, value in h.items():
        match = _BUCKET_HEADER.match(key.lower())
        if not match or "incremental" not in match.group(1):
            continue
        fields = {k: float(v) for k, v in _BUCKET_VALUE.findall(value)}
        budgets.get("incremental").observe(limit=fields.get("total"),
                                           remaining=fields.get("remaining"),
                                           reset=fields.get("resets", 60.0))


def build_client(cfg: EndpointConfig, *, what: str, max_in_flight: int = 8,
                 transport: httpx.BaseTransport | None = None, **kw: Any) -> HttpClient:
    """An :class:`HttpClient` for one Zendesk account."""
    base = base_url_for(cfg, what)
    extra = cfg.model_extra or {}
    limits = plan_limits(cfg.plan)
    for bucket in ("account", "incremental"):  # explicit overrides, e.g. for benchmarks
        if extra.get(f"{bucket}_limit"):
            limits[bucket] = float(extra[f"{bucket}_limit"])
    # `rate_window` (seconds) matches a sandbox run with shortened windows; vendors use 60.
    budgets = BudgetSet(limits, window=float(extra.get("rate_window", 60.0)))
    kw["retry"] = retry_policy_for(extra, kw.get("retry"))
    return HttpClient(base, auth=auth_for(cfg, base, what), budgets=budgets,
                      choose_budgets=choose_budgets, header_hook=zendesk_header_hook, what=what,
                      max_in_flight=max_in_flight, transport=transport, **kw)
