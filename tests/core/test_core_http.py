"""The HTTP module: what is retried, what is not, how errors are typed, where credentials go."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from migrator.errors import ConfigError, RateLimitedError, RecordError, TransientError, redact
from migrator.http import (HostOnlyAuth, HttpClient, RetryPolicy, check_base_url, parse_rate_headers,
                           retry_policy_for)
from migrator.ratelimit import Budget, BudgetSet

BASE = "https://acme.zendesk.com"


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    auth = HostOnlyAuth("Basic c2VjcmV0LXRva2VuLXZhbHVl", BASE)
    c = HttpClient(BASE, auth=auth, what="Zendesk source", sleep=sleeps.append,
                   retry=RetryPolicy(max_attempts=4))
    yield c
    c.close()


def test_429_waits_exactly_retry_after_then_succeeds(httpx_mock, client, sleeps):
    httpx_mock.add_response(url=f"{BASE}/api/v2/users", status_code=429,
                            headers={"Retry-After": "0.05"}, text="Too Many Requests")
    httpx_mock.add_response(url=f"{BASE}/api/v2/users", json={"users": []})
    assert client.get_json("/api/v2/users") == {"users": []}
    assert len(sleeps) == 1 and 0.05 <= sleeps[0] < 0.11
    assert client.budgets.get("account").stats.throttled == 1


def test_5xx_is_retried_then_fails_cleanly(httpx_mock, client, sleeps):
    for _ in range(4):
        httpx_mock.add_response(url=f"{BASE}/api/v2/tickets", status_code=503)
    with pytest.raises(TransientError) as info:
        client.get_json("/api/v2/tickets")
    assert "4 attempts" in info.value.message and "run the same command again" in info.value.hint
    assert len(sleeps) == 3
    assert len(httpx_mock.get_requests()) == 4


def test_429_past_all_retries_is_rate_limited(httpx_mock, client):
    for _ in range(4):
        httpx_mock.add_response(status_code=429, headers={"Retry-After": "0"})
    with pytest.raises(RateLimitedError):
        client.get_json("/api/v2/tickets")


def test_connection_errors_are_retried(httpx_mock, client, sleeps):
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_exception(httpx.RemoteProtocolError("peer closed connection"))
    httpx_mock.add_response(json={"ok": True})
    assert client.get_json("/api/v2/x") == {"ok": True}
    assert len(sleeps) == 2


def test_401_is_a_config_error_without_retry(httpx_mock, client, sleeps):
    httpx_mock.add_response(status_code=401, json={"error": "Couldn't authenticate you"})
    with pytest.raises(ConfigError) as info:
        client.get_json("/api/v2/users/me")
    assert "credentials were refused" in info.value.message
    assert sleeps == [] and len(httpx_mock.get_requests()) == 1


def test_403_is_a_config_error_with_vendor_reason(httpx_mock, client):
    httpx_mock.add_response(status_code=403, json={"error": "Forbidden", "description": "bulk import disabled"})
    with pytest.raises(ConfigError, match="bulk import disabled"):
        client.post_json("/api/v2/users/create_many", {"users": []})


def test_422_is_a_record_error_with_body(httpx_mock, client, sleeps):
    body = {"error": "RecordInvalid", "description": "Record validation errors",
            "details": {"requester": [{"description": "Requester: cannot be blank", "error": "BlankValue"}]}}
    httpx_mock.add_response(status_code=422, json=body)
    with pytest.raises(RecordError) as info:
        client.post_json("/api/v2/imports/tickets", {"ticket": {}})
    assert info.value.status == 422 and info.value.body == body
    assert "cannot be blank" in info.value.message
    assert sleeps == []


def test_ok_statuses_are_returned(httpx_mock, client):
    httpx_mock.add_response(status_code=404, json={"error": "RecordNotFound"})
    assert client.request("GET", "/api/v2/tickets/9", ok=[404]).status_code == 404


def test_credentials_go_only_to_the_account_host(httpx_mock, client, tmp_path):
    httpx_mock.add_response(url="https://cdn.example.net/files/a.png", content=b"PNG" * 10)
    httpx_mock.add_response(url=f"{BASE}/attachments/token/x", content=b"own")
    size = client.download("https://cdn.example.net/files/a.png", tmp_path / "a.png")
    assert size == 30 and (tmp_path / "a.png").read_bytes() == b"PNG" * 10
    client.download(f"{BASE}/attachments/token/x", tmp_path / "own")
    foreign, own = httpx_mock.get_requests()
    assert "authorization" not in foreign.headers
    assert own.headers["authorization"].startswith("Basic ")
    with pytest.raises(ConfigError, match="refusing to send credentials"):
        client.get_json("https://evil.example.com/api/v2/users")


def test_download_retries_and_leaves_no_partial_file(httpx_mock, client, tmp_path):
    httpx_mock.add_response(url="https://cdn.example.net/f", status_code=503)
    httpx_mock.add_response(url="https://cdn.example.net/f", content=b"x" * 1000)
    assert client.download("https://cdn.example.net/f", tmp_path / "f") == 1000
    assert not (tmp_path / "f.part").exists()


def test_secret_never_appears_in_error_messages(httpx_mock, client):
    httpx_mock.add_response(status_code=400, text="bad header Basic c2VjcmV0LXRva2VuLXZhbHVl")
    with pytest.raises(RecordError) as info:
        client.get_json("/api/v2/x")
    assert "c2VjcmV0LXRva2VuLXZhbHVl" not in str(info.value)
    assert "token=***" in redact("url?token=abc123&x=1")


def test_base_url_rules():
    assert check_base_url("http://127.0.0.1:8000/", what="t") == "http://127.0.0.1:8000"
    assert check_base_url("https://acme.freshdesk.com", what="t")
    with pytest.raises(ConfigError, match="plain http is allowed only for loopback"):
        check_base_url("http://acme.zendesk.com", what="t")
    with pytest.raises(ConfigError, match="not an http"):
        check_base_url("ftp://x", what="t")


def test_rate_headers_both_spellings():
    a = parse_rate_headers(httpx.Headers({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"}))
    b = parse_rate_headers(httpx.Headers({"ratelimit-limit": "400", "ratelimit-remaining": "0",
                                          "ratelimit-reset": "12"}))
    c = parse_rate_headers(httpx.Headers({"X-Ratelimit-Total": "200", "X-Ratelimit-Remaining": "5"}))
    assert (a.limit, a.remaining) == (700, 699)
    assert (b.limit, b.remaining, b.reset) == (400, 0, 12)
    assert (c.limit, c.remaining) == (200, 5)


def test_budget_learns_the_announced_limit(httpx_mock, client):
    httpx_mock.add_response(headers={"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "650"}, json={})
    client.get_json("/api/v2/x")
    assert client.budgets.get("account").per_minute == 700


def test_budget_paces_to_the_limit_across_threads():
    budget = Budget("account", per_minute=600, window=1.0)  # 600 per second, burst 1 second
    budget.acquire(budget._burst)  # drain the initial burst
    start = time.monotonic()
    threads = [threading.Thread(target=lambda: [budget.acquire() for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    # 200 tokens at 600 * 0.97 per second need about 0.34 s; never much faster.
    assert elapsed >= 0.30
    assert budget.stats.requests == 201


def test_budget_pause_applies_to_every_request():
    budgets = BudgetSet({"account": 0})
    budgets.get("account").throttled(0.2)
    start = time.monotonic()
    budgets.acquire(["account"])
    assert time.monotonic() - start >= 0.19


@pytest.mark.parametrize("text,secret,kept", [
    ("GET /x?token=abc123&page=2", "abc123", "page=2"),
    ("Authorization: Basic ZW1haWw6dG9r", "ZW1haWw6dG9r", "Basic"),
    ('{"password": "hunter22"}', "hunter22", "password"),
    ("zendesk.token: environment variable ZD_TOKEN is not set", None, "environment variable ZD_TOKEN"),
    ("export ZENDESK_TOKEN=... before running", None, "ZENDESK_TOKEN=..."),
])
def test_redact_masks_credentials_but_not_prose(text, secret, kept):
    out = redact(text)
    assert kept in out
    if secret:
        assert secret not in out and "***" in out
    else:
        assert out == text


def test_retry_backoff_comes_from_the_endpoint_settings():
    assert retry_policy_for({}) == RetryPolicy()
    once = retry_policy_for({"retry_backoff": "0.05"}, RetryPolicy(max_attempts=1))
    assert (once.base_backoff, once.max_attempts) == (0.05, 1)
    for bad in ("soon", -1, 31):
        with pytest.raises(ConfigError, match="retry_backoff must be a number of seconds"):
            retry_policy_for({"retry_backoff": bad})


def test_the_servers_clock_offset_comes_from_its_date_header(httpx_mock, client):
    from email.utils import formatdate
    assert client.clock_offset is None  # nothing heard yet
    ahead = time.time() + 120
    httpx_mock.add_response(url=f"{BASE}/api/v2/a",
                            headers={"Date": formatdate(ahead, usegmt=True)})
    client.request("GET", "/api/v2/a")
    assert 118 < client.clock_offset < 122
    httpx_mock.add_response(url=f"{BASE}/api/v2/b", headers={"Date": "garbage"})
    client.request("GET", "/api/v2/b")
    assert 118 < client.clock_offset < 122  # an unreadable header changes nothing


def test_unreachable_host_names_the_url_and_the_setting(httpx_mock, client, sleeps):
    for _ in range(4):
        httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(TransientError) as info:
        client.get_json("/api/v2/users/me")
    message = info.value.message
    assert BASE in message and "Connection refused" in message and "4 attempts" in message
    assert "base_url" in info.value.hint and "migration.yaml" in info.value.hint
