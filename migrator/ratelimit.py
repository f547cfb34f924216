"""Request budgets: one token bucket per vendor rate-limit bucket, shared by every thread.

A :class:`Budget` paces requests so that a bucket's per-minute limit is used almost fully but not
exceeded. It adapts to what the server announces (limit, remaining, reset) and to 429s: a
``Retry-After`` pauses every request on that bucket, not just the one that was refused.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

__all__ = ["Budget", "BudgetSet", "BudgetStats"]


@dataclass
class BudgetStats:
    """Counters for one bucket, for ``migrator status`` and the benchmarks."""

    requests: int = 0
    throttled: int = 0  # 429 answers
    waited_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self, per_minute: float) -> dict:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.requests / elapsed * 60
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "waited_seconds": round(self.waited_seconds, 3),
            "per_minute_limit": per_minute,
            "per_minute_observed": round(rate, 1),
        }


class Budget:
    """A thread-safe token bucket refilled at ``per_minute`` tokens per ``window`` seconds.

    Args:
        name: the bucket name (``account``, ``incremental``, ``tickets_list``...).
        per_minute: requests allowed per window; ``None`` or ``0`` means unlimited.
        window: the length of the vendor's window in seconds (60 for every vendor we know).
        safety: the share of the limit we aim for, so clock skew never costs a 429.
        burst: how many tokens may accumulate. By default the room the safety share leaves
            (``per_minute * (1 - safety)``, at least one): any server window then sees at most
            ``burst + rate * window <= per_minute`` of our requests, and a token that is not taken
            the moment it is due (threads wake late, the interpreter lock) is not lost.
    """

    def __init__(
        self,
        name: str,
        per_minute: float | None,
        *,
        window: float = 60.0,
        safety: float = 0.97,
        burst: float | None = None,
    ):
        self.name = name
        self.window = window
        self.safety = safety
        self._lock = threading.Lock()
        self._burst_override = burst
        self.stats = BudgetStats()
        self._paused_until = 0.0
        self._set_limit(per_minute)
        self._tokens = self._burst

    def _set_limit(self, per_minute: float | None) -> None:
        self.per_minute = per_minute or 0
        if not self.per_minute:
            self._rate = 0.0  # unlimited
            self._burst = 1.0
            return
        # Any server window of length W sees at most burst + rate * W of our requests: the rate
        # leaves room for a burst of at least one even on tiny limits (10/min), and the burst is
        # that room (21 requests at 700/min), so tokens due while no thread was awake to take
        # them are still there a moment later.
        safety = min(self.safety, 1.0 - 1.0 / self.per_minute) if self.per_minute > 1 else 0.5
        self._rate = self.per_minute * safety / self.window
        self._burst = self._burst_override or max(1.0, float(int(self.per_minute * (1 - safety))))

    @property
    def unlimited(self) -> bool:
        return not self.per_minute

    def acquire(self, cost: float = 1.0) -> float:
        """Block until ``cost`` tokens are available; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                if now < self._paused_until:
                    delay = self._paused_until - now
                elif self.unlimited:
                    self.stats.requests += 1
                    self.stats.waited_seconds += waited
                    return waited
                else:
                    elapsed = now - getattr(self, "_last", now)
                    self._last = now
                    self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
                    if self._tokens >= min(cost, self._burst):
                        self._tokens -= cost
                        self.stats.requests += 1
                        self.stats.waited_seconds += waited
                        return waited
                    delay = (min(cost, self._burst) - self._tokens) / self._rate
            time.sleep(delay)
            waited += delay

    def observe(self, *, limit: float | None = None, remaining: float | None = None,
                reset: float | None = None) -> None:
        """Adapt to what the server announced for this bucket."""
        with self._lock:
            if limit and limit != self.per_minute:
                self._set_limit(limit)
                self._tokens = min(self._tokens, self._burst)
            if remaining is not None and remaining <= 0 and reset:
                self._paused_until = max(self._paused_until, time.monotonic() + reset)

    def throttled(self, retry_after: float) -> None:
        """A 429 was answered: pause the whole bucket for ``retry_after`` seconds."""
        with self._lock:
            self.stats.throttled += 1
            self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
            self._tokens = 0.0


class BudgetSet:
    """The named budgets of one account; a request draws from one or more of them."""

    def __init__(self, limits: dict[str, float | None], **budget_kw):
        self._budgets = {name: Budget(name, limit, **budget_kw) for name, limit in limits.items()}
        self._lock = threading.Lock()
        self._budget_kw = budget_kw

    def get(self, name: str) -> Budget:
        with self._lock:
            budget = self._budgets.get(name)
            if budget is None:  # a bucket the server told us about that we did not know
                budget = self._budgets[name] = Budget(name, None, **self._budget_kw)
            return budget

    def names(self) -> list[str]:
        return list(self._budgets)

    def acquire(self, names: tuple[str, ...] | list[str], cost: float = 1.0) -> float:
        return sum(self.get(name).acquire(cost) for name in names)

    def stats(self) -> dict[str, dict]:
        return {name: b.stats.as_dict(b.per_minute) for name, b in self._budgets.items()}
