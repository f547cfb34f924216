"""Zendesk client setup: account URL, credentials, and what errors say (never the secret)."""

from __future__ import annotations

import base64

import httpx
import pytest

import connectors.zendesk as zendesk
from migrator.config import EndpointConfig, Options
from migrator.errors import ConfigError
from migrator.models import Entity


def _make(tmp_path, **kw):
    cfg = EndpointConfig(type="zendesk", **kw)
    return zendesk.make_source(cfg, workdir=tmp_path, options=Options())


@pytest.mark.parametrize("kw,match", [
    ({"subdomain": "acme.zendesk.com", "email": "a@b.c", "token": "${ZD_TEST_TOKEN}"},
     "not a Zendesk subdomain"),
    ({"base_url": "http://zendesk.example.com", "email": "a@b.c", "token": "${ZD_TEST_TOKEN}"},
     "plain http is allowed only for loopback"),
    ({"subdomain": "acme", "token": "${ZD_TEST_TOKEN}"}, "needs `email`"),
    ({"subdomain": "acme", "email": "a@b.c"}, "no credentials"),
    ({"subdomain": "acme", "email": "a@b.c", "token": "${ZD_MISSING_TOKEN}"},
     "ZD_MISSING_TOKEN is not set"),
])
def test_bad_settings_are_config_errors_with_a_hint(tmp_path, monkeypatch, kw, match):
    monkeypatch.setenv("ZD_TEST_TOKEN", "t0ken-value")
    monkeypatch.delenv("ZD_MISSING_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=match) as info:
        _make(tmp_path, **kw)
    assert info.value.hint


def test_token_and_oauth_headers(tmp_path, monkeypatch, httpx_mock):
    monkeypatch.setenv("ZD_TEST_TOKEN", "t0ken-value")
    monkeypatch.setenv("ZD_TEST_OAUTH", "oauth-value-1")
    httpx_mock.add_response(json={"user": {"id": 1, "role": "admin"}}, is_reusable=True)
    src = _make(tmp_path, subdomain="acme", email="a@b.c", token="${ZD_TEST_TOKEN}")
    src.client.get_json("/api/v2/users/me")
    oauth = _make(tmp_path, subdomain="acme", oauth_token="${ZD_TEST_OAUTH}")
    oauth.client.get_json("/api/v2/users/me")
    basic, bearer = [r.headers["authorization"] for r in httpx_mock.get_requests()]
    assert basic == "Basic " + base64.b64encode(b"a@b.c/token:t0ken-value").decode()
    assert bearer == "Bearer oauth-value-1"
    assert str(httpx_mock.get_requests()[0].url).startswith("https://acme.zendesk.com/api/v2/")
    src.close()
    oauth.close()


def test_refused_credentials_say_what_to_do_and_hide_the_token(source, router):
    router.on("GET", "/api/v2/users/me",
              httpx.Response(401, json={"error": "Couldn't authenticate you"}))
    (item,) = source.check()
    assert not item.ok and "401" in item.detail and item.hint
    router.on("GET", "/api/v2/groups", httpx.Response(403, json={
        "error": "Forbidden", "description": "token zd-secret-token-123 lacks scope"}))
    with pytest.raises(ConfigError) as info:
        list(source.export(Entity.GROUPS))
    assert "zd-secret-token-123" not in str(info.value) and "403" in str(info.value)
