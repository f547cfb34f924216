"""The one HTTP module every connector uses.

- httpx underneath, one connection pool per account, safe to share between threads so several
  requests can be in flight under one :class:`~migrator.ratelimit.BudgetSet`.
- Retries (tenacity) only for what is transient: 429 (waiting exactly ``Retry-After``), 500/502/
  503/504 and connection errors. Never for other 4xx.
- Errors typed by what the user should do: 401/403 -> :class:`ConfigError`, other 4xx ->
  :class:`RecordError` (the record is kept with the reason), retries exhausted ->
  :class:`TransientError` / :class:`RateLimitedError`.
- Credentials are attached by :class:`HostOnlyAuth`, which refuses any host but the account's
  own, and redirects are never followed with credentials.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import httpx
import tenacity

from migrator.errors import (
    ConfigError,
    RateLimitedError,
    RecordError,
    TransientError,
    redact,
    register_secret,
)
from migrator.ratelimit import BudgetSet

__all__ = [
    "HostOnlyAuth",
    "HttpClient",
    "RetryPolicy",
    "RateHeaders",
    "check_base_url",
    "is_loopback",
]

log = logging.getLogger("migrator.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CONFIG_STATUSES = frozenset({401, 403})


def is_loopback(host: str) -> bool:
    """True for localhost and addresses in 127.0.0.0/8 or ::1."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, what: str) -> str:
    """Validate a base URL override: https anywhere, plain http only for loopback hosts."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{what}: base URL {url!r} is not an http(s) URL",
            hint="write it like https://acme.zendesk.com or http://127.0.0.1:8080",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{what}: plain http is allowed only for loopback hosts, not {parts.hostname!r}",
            hint="use https:// for a real account; http:// is for the local sandboxes",
        )
    return url.rstrip("/")


class HostOnlyAuth(httpx.Auth):
    """Adds an ``Authorization`` header only to requests for the account's own host and port."""

    def __init__(self, header_value: str, base_url: str, *secrets: str):
        self._header = header_value
        parts = urlsplit(base_url)
        self._origin = (parts.scheme, parts.hostname, parts.port)
        register_secret(header_value.split(" ", 1)[-1])
        for s in secrets:
            register_secret(s)

    def auth_flow(self, request: httpx.Request):
        url = request.url
        if (url.scheme, url.host, url.port) == self._origin:
            request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:  # never show the credential
        return f"HostOnlyAuth(origin={self._origin!r})"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on a transient failure."""

    max_attempts: int = 8
    max_total_wait: float = 600.0
    base_backoff: float = 0.5
    max_backoff: float = 30.0
    default_retry_after: float = 10.0


def retry_policy_for(extra: dict[str, Any] | None, base: RetryPolicy | None = None) -> RetryPolicy:
    """``base`` with the endpoint's ``retry_backoff`` (seconds before the first retry of a
    transient failure; it doubles up to ``max_backoff``), when migration.yaml sets one."""
    base = base or RetryPolicy()
    value = (extra or {}).get("retry_backoff")
    if value is None:
        return base
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds <= base.max_backoff:
        raise ConfigError(f"retry_backoff must be a number of seconds from 0 to "
                          f"{base.max_backoff:g}, got {value!r}",
                          hint="e.g. `retry_backoff: 0.5` in the endpoint's section")
    return replace(base, base_backoff=seconds)


@dataclass
class RateHeaders:
    """What a response said about its bucket."""

    limit: float | None = None
    remaining: float | None = None
    reset: float | None = None


def _num(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def parse_rate_headers(headers: httpx.Headers) -> RateHeaders:
    """Read the common rate-limit headers (Zendesk and Freshdesk spellings)."""
    get = headers.get
    limit = _num(get("x-rate-limit") or get("ratelimit-limit") or get("rate-limit")
                 or get("x-ratelimit-total"))
    remaining = _num(get("x-rate-limit-remaining") or get("ratelimit-remaining")
                     or get("rate-limit-remaining") or get("x-ratelimit-remaining"))
    reset = _num(get("ratelimit-reset") or get("rate-limit-reset"))
    return RateHeaders(limit, remaining, reset)


def retry_after_seconds(response: httpx.Response, default: float) -> float:
    """Seconds to wait from ``Retry-After`` (seconds form; HTTP-date falls back to default)."""
    value = _num(response.headers.get("retry-after"))
    return default if value is None or value < 0 else value


@dataclass(frozen=True)
class _Redirect:
    """Internal: the account's host sent a download elsewhere."""

    url: str


class _Retry(Exception):
    """Internal: a transient failure tenacity should retry."""

    def __init__(self, reason: str, wait: float | None = None, status: int | None = None,
                 rate_limited: bool = False, unreachable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.status = status
        self.rate_limited = rate_limited
        self.unreachable = unreachable  # no connection at all: a wrong URL or a host down


def _transport_retry(exc: httpx.TransportError, base_url: str) -> _Retry:
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        detail = str(exc).strip() or type(exc).__name__
        return _Retry(f"cannot connect to {base_url}: {detail}", unreachable=True)
    return _Retry(f"connection error: {type(exc).__name__}")


def _error_text(response: httpx.Response, limit: int = 500) -> str:
    try:
        text = response.text
    except Exception:  # undecodable body
        return f"HTTP {response.status_code}"
    return redact(text[:limit]) if text else f"HTTP {response.status_code}"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except Exception:
        return None


BudgetChooser = Callable[[str, str], tuple[str, ...]]
HeaderHook = Callable[[httpx.Response, BudgetSet, tuple[str, ...]], None]


def default_header_hook(response: httpx.Response, budgets: BudgetSet,
                        names: tuple[str, ...]) -> None:
    """Feed the standard headers back into the request's first (primary) bucket."""
    if not names:
        return
    rh = parse_rate_headers(response.headers)
    if rh.limit is not None or rh.remaining is not None:
        budgets.get(names[0]).observe(limit=rh.limit, remaining=rh.remaining,
                                      reset=rh.reset if rh.reset is not None else 60.0)


class HttpClient:
    """A rate-budgeted, retrying JSON client for one help-desk account.

    Args:
        base_url: the account's root, e.g. ``https://acme.zendesk.com`` (checked with
            :func:`check_base_url`).
        auth: credentials, bound to the base URL's host.
        budgets: the account's buckets.
        choose_budgets: ``(method, path) -> bucket names`` a request draws from.
        header_hook: reads vendor rate headers after every response.
        what: the account's name in messages ("Zendesk source").
        transport: an httpx transport (tests, pytest-httpx uses its own).
        max_in_flight: concurrent requests allowed on this client.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None,
        budgets: BudgetSet | None = None,
        choose_budgets: BudgetChooser | None = None,
        header_hook: HeaderHook = default_header_hook,
        what: str = "help desk",
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 60.0,
        max_in_flight: int = 8,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.base_url = check_base_url(base_url, what=what)
        self.what = what
        self.budgets = budgets or BudgetSet({"account": None})
        self._choose = choose_budgets or (lambda method, path: ("account",))
        self._header_hook = header_hook
        self.retry = retry
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self.max_in_flight = max_in_flight
        limits = httpx.Limits(max_connections=max_in_flight * 2,
                              max_keepalive_connections=max_in_flight * 2)
        self._client = httpx.Client(
            base_url=self.base_url, auth=auth, timeout=timeout, follow_redirects=False,
            limits=limits, transport=transport, headers={"Accept": "application/json",
                                                         "User-Agent": "helpdesk-migrator"},
        )
        # Downloads from other hosts (attachment CDNs) go through a client with no credentials.
        self._anon = httpx.Client(timeout=timeout, follow_redirects=True, transport=transport)
        self._sleep = sleep or tenacity.nap.sleep
        self.request_count = 0
        self._count_lock = threading.Lock()
        # The server's clock minus ours, in seconds, from the last ``Date`` header (None until
        # one came): recovery compares a record's creation time with a batch written by us.
        self.clock_offset: float | None = None
        self._last_date: str | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._client.close()
        self._anon.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """An absolute URL on this account for ``path``."""
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def is_own_url(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        budgets: Iterable[str] | None = None,
        ok: Iterable[int] = (),
    ) -> httpx.Response:
        """Send one request with pacing and retries; return the response or raise typed.

        ``ok`` lists extra statuses (e.g. 404 for a lookup) that are returned, not raised.
        """
        url = self.url(path)
        if not self.is_own_url(url):
            raise ConfigError(f"{self.what}: refusing to send credentials to {urlsplit(url).hostname}")
        names = tuple(budgets) if budgets is not None else self._choose(method, urlsplit(url).path)
        ok = frozenset(ok)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            stop=(tenacity.stop_after_attempt(self.retry.max_attempts)
                  | tenacity.stop_after_delay(self.retry.max_total_wait)),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._send_once, method, url, names, ok, params=params, json=json,
                            data=data, files=files, content=content, headers=headers)
        except _Retry as exc:
            cls = RateLimitedError if exc.rate_limited else TransientError
            hint = "the state is saved; run the same command again to continue"
            if exc.unreachable:
                hint = ("check `base_url` (or subdomain/domain) in migration.yaml and that the "
                        "host is reachable from here, then run the same command again (the "
                        "state is saved)")
            raise cls(
                f"{self.what}: {method} {urlsplit(url).path} kept failing ({exc.reason}) after "
                f"{self.retry.max_attempts} attempts",
                status=exc.status, hint=hint,
            ) from None

    def _send_once(self, method, url, names, ok, **kw) -> httpx.Response:
        self.budgets.acquire(names)
        if kw.get("files") is not None:
            for item in _iter_file_objects(kw["files"]):
                item.seek(0)  # a retried multipart upload must start from the first byte
        with self._slots:
            try:
                response = self._client.request(method, url, **{k: v for k, v in kw.items()
                                                                if v is not None})
            except (httpx.TransportError,) as exc:
                raise _transport_retry(exc, self.base_url) from None
        with self._count_lock:
            self.request_count += 1
        self._note_clock(response.headers.get("date"))
        self._header_hook(response, self.budgets, names)
        status = response.status_code
        if status < 400 or status in ok:
            if api_warn := response.headers.get("x-zendesk-api-warn"):
                log.warning("%s: %s", self.what, api_warn)
            return response
        if status == 429:
            wait = retry_after_seconds(response, self.retry.default_retry_after)
            for name in names[:1]:
                self.budgets.get(name).throttled(wait)
            raise _Retry("HTTP 429 rate limited", wait=wait, status=429, rate_limited=True)
        if status in RETRY_STATUSES:
            wait = _num(response.headers.get("retry-after"))
            raise _Retry(f"HTTP {status}", wait=wait, status=status)
        self._raise_for(response, method, url)
        raise AssertionError("unreachable")

    def _note_clock(self, date: str | None) -> None:
        """Learn the server's clock from its ``Date`` header (whole seconds: + 0.5 s)."""
        if not date or date == self._last_date:
            return
        self._last_date = date
        try:
            server = email.utils.parsedate_to_datetime(date).timestamp() + 0.5
        except (TypeError, ValueError, IndexError):
            return
        self.clock_offset = server - time.time()

    def _raise_for(self, response: httpx.Response, method: str, url: str) -> None:
        status = response.status_code
        where = f"{method} {urlsplit(url).path}"
        if status == 401:
            raise ConfigError(
                f"{self.what}: the credentials were refused (HTTP 401 on {where})",
                hint="check the credential environment variables named in migration.yaml",
            )
        if status == 403:
            raise ConfigError(
                f"{self.what}: permission denied (HTTP 403 on {where}): {_error_text(response, 200)}",
                hint="the API user needs admin rights, or the plan lacks this feature",
                detail=_error_text(response),
            )
        body = _json_or_none(response)
        err = RecordError(
            f"{self.what} rejected {where} (HTTP {status}): {_error_text(response, 300)}",
            status=status,
        )
        err.body = body
        raise err

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.wait is not None:
            return exc.wait + random.uniform(0, 0.05)
        backoff = self.retry.base_backoff * 2 ** (state.attempt_number - 1)
        return min(self.retry.max_backoff, backoff) * random.uniform(0.5, 1.0)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info("%s: retry %d after %s (sleeping %.2fs)", self.what, state.attempt_number,
                 getattr(exc, "reason", exc), state.upcoming_sleep)

    # -- conveniences ----------------------------------------------------------------------
    def get_json(self, path: str, **kw) -> Any:
        return self.request("GET", path, **kw).json()

    def post_json(self, path: str, body: Any, **kw) -> Any:
        response = self.request("POST", path, json=body, **kw)
        return response.json() if response.content else None

    def download(self, url: str, dest: Path, *, budgets: Iterable[str] | None = None,
                 chunk: int = 1 << 16, _hops: int = 0) -> int:
        """Stream ``url`` to ``dest``; credentials only if the URL is the account's own host.

        Returns the number of bytes written. A foreign host (an attachment CDN, a signed S3
        URL) is fetched with no credentials and may redirect; a redirect from the account's
        host is followed without credentials (attachment URLs point at a CDN that way).
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        own = self.is_own_url(url) and not _hops  # after a redirect: never credentials
        client = self._client if own else self._anon
        names = tuple(budgets) if budgets is not None else (("account",) if own else ())
        tmp = dest.with_suffix(dest.suffix + ".part")

        def once() -> int:
            if names:
                self.budgets.acquire(names)
            try:
                with self._slots, client.stream("GET", url) as response:
                    if response.status_code in RETRY_STATUSES:
                        wait = _num(response.headers.get("retry-after"))
                        raise _Retry(f"HTTP {response.status_code}", wait=wait,
                                     status=response.status_code,
                                     rate_limited=response.status_code == 429)
                    location = response.headers.get("location")
                    if own and response.status_code in REDIRECT_STATUSES and location:
                        # e.g. Zendesk's content_url -> its CDN: follow, without credentials.
                        return _Redirect(urljoin(url, location))
                    if response.status_code >= 300:
                        response.read()
                        self._raise_for(response, "GET", url)
                    size = 0
                    with open(tmp, "wb") as fh:
                        for part in response.iter_bytes(chunk):
                            fh.write(part)
                            size += len(part)
            except httpx.TransportError as exc:
                raise _Retry(f"connection error: {type(exc).__name__}") from None
            tmp.replace(dest)
            return size

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            stop=tenacity.stop_after_attempt(self.retry.max_attempts),
            wait=self._wait, sleep=self._sleep, reraise=True,
        )
        try:
            result = retrying(once)
        except _Retry as exc:
            raise TransientError(f"{self.what}: download kept failing ({exc.reason})",
                                 status=exc.status,
                                 hint="run the same command again to continue") from None
        if isinstance(result, _Redirect):
            return self.download(result.url, dest, budgets=(), chunk=chunk, _hops=_hops + 1)
        return result


def _iter_file_objects(files: Any):
    items = files.values() if isinstance(files, Mapping) else (f[1] for f in files)
    for item in items:
        obj = item[1] if isinstance(item, tuple) else item
        if hasattr(obj, "seek"):
            yield obj
