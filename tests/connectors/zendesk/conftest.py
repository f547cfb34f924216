"""Fixtures for the Zendesk connector tests: a routed pytest-httpx mock and connectors on it."""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx
import pytest

import connectors.zendesk as zendesk
from migrator.config import EndpointConfig, Options

BASE = "https://acme.zendesk.com"


class Router:
    """Answers mocked requests by (method, path); records every request it saw."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response] | list] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *responses: Any) -> None:
        """Queue responses (dicts -> 200 JSON, httpx.Response, or a callable of the request)."""
        self.routes[(method.upper(), path)] = list(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        queue = self.routes.get(key)
        if queue is None:
            return httpx.Response(404, json={"error": "RecordNotFound",
                                             "description": f"no route {key}"})
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(item):
            return item(request)
        if isinstance(item, httpx.Response):
            return item
        return httpx.Response(200, json=item)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)


@pytest.fixture
def router(httpx_mock) -> Router:
    r = Router()
    # Every account lists its users; an account with no agents unless a test says otherwise.
    r.on("GET", "/api/v2/users", {"users": [], "meta": {"has_more": False}})
    httpx_mock.add_callback(r, is_reusable=True, is_optional=True)
    return r


@pytest.fixture
def cfg(monkeypatch) -> EndpointConfig:
    monkeypatch.setenv("ZD_TEST_TOKEN", "zd-secret-token-123")
    return EndpointConfig(type="zendesk", subdomain="acme", email="admin@acme.test",
                          token="${ZD_TEST_TOKEN}")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def source(cfg, tmp_path, router, sleeps):
    src = zendesk.make_source(cfg, workdir=tmp_path, options=Options(max_in_flight=4),
                              sleep=sleeps.append)
    yield src
    src.close()


@pytest.fixture
def target(cfg, tmp_path, router, sleeps):
    tgt = zendesk.make_target(cfg, workdir=tmp_path, options=Options(max_in_flight=4),
                              sleep=sleeps.append)
    tgt.jobs._sleep = sleeps.append
    tgt._sleep = sleeps.append
    yield tgt
    tgt.close()
