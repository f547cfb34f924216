"""What both sandbox emulators share: rate-limit buckets, fault injection, stats, and a runner
that serves an ASGI app on loopback in a background thread.

Rate limits are fixed windows, as the vendors count them: each bucket allows ``limit`` requests
per ``window`` seconds; past that a request gets 429 with the exact seconds to the window's end in
``Retry-After``. Faults are drawn from a seeded RNG so a failing test can be replayed.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import uvicorn

__all__ = ["Bucket", "Limiter", "Faults", "DropConnection", "ServerThread", "serve_in_thread",
           "free_port", "SandboxKnobs"]


@dataclass
class Bucket:
    """A fixed-window counter: ``limit`` requests per ``window`` seconds (0 = unlimited)."""

    name: str
    limit: int
    window: float = 60.0
    used: int = 0
    window_start: float = field(default_factory=time.monotonic)
    ok: int = 0
    throttled: int = 0

    def _roll(self, now: float) -> None:
        if now - self.window_start >= self.window:
            elapsed_windows = int((now - self.window_start) // self.window)
            self.window_start += elapsed_windows * self.window
            self.used = 0

    def try_take(self, cost: int = 1) -> float | None:
        """Take ``cost`` requests; None if allowed, else the seconds until the window resets."""
        now = time.monotonic()
        self._roll(now)
        if self.limit and self.used + cost > self.limit:
            self.throttled += 1
            return max(0.001, self.window - (now - self.window_start))
        self.used += cost
        self.ok += 1
        return None

    def remaining(self) -> int:
        self._roll(time.monotonic())
        return max(0, self.limit - self.used) if self.limit else 1_000_000

    def resets_in(self) -> int:
        return max(1, int(round(self.window - (time.monotonic() - self.window_start))))

    def stats(self) -> dict[str, Any]:
        return {"limit": self.limit, "window": self.window, "ok": self.ok,
                "throttled": self.throttled, "window_start": self.window_start}


class Limiter:
    """The buckets of one emulated account (thread-safe)."""

    def __init__(self, limits: dict[str, int], window: float = 60.0):
        self.buckets = {name: Bucket(name, limit, window) for name, limit in limits.items()}
        self._lock = threading.Lock()

    def take(self, names: list[str] | tuple[str, ...], cost: int = 1) -> tuple[str, float] | None:
        """Draw from every named bucket; on refusal return (bucket, retry_after) and take none."""
        with self._lock:
            for name in names:
                bucket = self.buckets[name]
                bucket._roll(time.monotonic())
                if bucket.limit and bucket.used + cost > bucket.limit:
                    return name, bucket.try_take(cost) or 0.001
            for name in names:
                self.buckets[name].try_take(cost)
            return None

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: b.stats() for name, b in self.buckets.items()}

    def reset_stats(self) -> None:
        with self._lock:
            for b in self.buckets.values():
                b.ok = b.throttled = 0


class DropConnection(Exception):
    """Raised after the response has started: the server closes the socket mid-response."""


@dataclass
class Faults:
    """Injected failures: shares of requests answered 429 or 503, or dropped.

    ``drop_after_rate`` drops the connection *after* the request was processed (the client cannot
    know whether it took effect), the hardest case for idempotency.
    """

    rate_429: float = 0.0
    rate_503: float = 0.0
    drop_rate: float = 0.0
    drop_after_rate: float = 0.0
    seed: int = 0
    # Retry-After of an injected 429/503. Real services send whole seconds (1 here); tests that
    # inject many faults may shorten it so a full run stays quick.
    retry_after: float = 1.0
    rng: random.Random = field(init=False)
    counts: dict[str, int] = field(default_factory=lambda: {"429": 0, "503": 0, "drop": 0,
                                                            "drop_after": 0})

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._lock = threading.Lock()

    @property
    def retry_after_header(self) -> str:
        """The ``Retry-After`` value of an injected fault ("1", or "0.2" when shortened)."""
        return f"{self.retry_after:g}"

    def draw(self) -> str | None:
        """Which fault (if any) this request gets: '429', '503', 'drop', 'drop_after'."""
        with self._lock:
            x = self.rng.random()
            for kind, share in (("429", self.rate_429), ("503", self.rate_503),
                                ("drop", self.drop_rate), ("drop_after", self.drop_after_rate)):
                if x < share:
                    self.counts[kind] += 1
                    return kind
                x -= share
        return None


@dataclass
class SandboxKnobs:
    """How an emulated account behaves. Every sandbox app factory takes one.

    Args:
        plan: the vendor plan whose limits apply (``enterprise``, ``growth``, ``pro``...);
            ``None`` means unlimited (the demo and most tests).
        limits: bucket -> requests per window, overriding the plan's.
        window: seconds per rate-limit window (60 like the vendors; shorter in tests).
        latency: seconds added to every response (emulates the network and the vendor).
        faults: injected 429/503/dropped connections.
        page_cap: Freshdesk's 300-page cap per list query (scaled down in tests).
        job_seconds: how long a Zendesk background job stays queued/working.
        max_jobs: Zendesk's cap of queued-or-running jobs per account.
        attachment_url_ttl: seconds before a Freshdesk attachment URL expires.
        agent_seats: paid agent seats (Freshdesk: creating an agent past them is a 403);
            ``None`` means unlimited.
        requester_collision_rate: share of Zendesk imports with a new inline requester answered
            409 "Requester creation collision" (a real race, reference §5.3).
        search_lag: seconds a Freshdesk record stays invisible to ``/search/*`` after its
            last write (the real index lags writes by seconds to minutes, reference §2.5).
    """

    plan: str | None = None
    limits: dict[str, int] = field(default_factory=dict)
    window: float = 60.0
    latency: float = 0.0
    faults: Faults = field(default_factory=Faults)
    page_cap: int = 300
    job_seconds: float = 0.0
    max_jobs: int = 30
    attachment_url_ttl: float = 300.0
    requester_collision_rate: float = 0.0
    agent_seats: int | None = None
    search_lag: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """An ASGI app served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Callable[..., Awaitable[Any]], port: int = 0, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        config = uvicorn.Config(app, host=host, port=self.port, log_level="critical",
                                access_log=False, lifespan="off", timeout_keep_alive=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"sandbox:{self.port}")

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_in_thread(app, port: int = 0) -> ServerThread:
    """Start ``app`` on loopback and return the running server (``.url``, ``.stop()``)."""
    return ServerThread(app, port=port).start()
