"""Per-window budget use read from a running sandbox, aligned to the sandbox's own windows.

The sandboxes count fixed windows (``connectors.sandbox.common.Bucket``); a sampler thread reads
the cumulative counters just after each window boundary, so the difference between two samples is
exactly what one server window saw. Credits (Freshdesk) or accepted calls (Zendesk) per window
divided by the bucket's limit is the share used.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WindowSampler", "bucket_use"]


def bucket_stats(sandbox: Any) -> dict[str, dict[str, Any]]:
    """bucket -> limit, window, window_start, ok, throttled[, credits], from a sandbox served in
    this process (``start_sandbox``) or by its own (:class:`bench.remote.RemoteSandbox`)."""
    if hasattr(sandbox, "buckets"):
        return sandbox.buckets()
    state = sandbox.app.state
    out = state.limiter.stats()
    credits = getattr(state, "credits", None)  # Freshdesk counts include costs
    for name, row in out.items():
        if credits is not None:
            row["credits"] = credits[name]
    return out


def _counters(sandbox: Any) -> dict[str, tuple[int, int, int]]:
    """bucket -> (credits used, accepted calls, 429s) so far (credits: Freshdesk's include costs;
    Zendesk counts calls)."""
    return {name: (int(b.get("credits", b["ok"])), int(b["ok"]), int(b["throttled"]))
            for name, b in bucket_stats(sandbox).items()}


@dataclass
class Sample:
    """Counters read at ``at`` (time.monotonic)."""

    at: float
    counters: dict[str, tuple[int, int, int]]


@dataclass
class WindowSampler:
    """Reads a sandbox's counters once per server window, in a daemon thread."""

    sandbox: Any
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        buckets = bucket_stats(self.sandbox)
        first = next(iter(buckets.values()))
        self.window = first["window"]
        self.origin = first["window_start"]  # time.monotonic(): one clock for every process
        self.limits = {n: b["limit"] for n, b in buckets.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-sampler")

    def start(self) -> "WindowSampler":
        """Take a first sample now and one after every window boundary."""
        zero = {n: (0, 0, 0) for n in self.limits}  # a fresh sandbox: nothing counted yet
        first = _counters(self.sandbox)
        self.samples.append(Sample(self.origin, zero if not any(
            v[1] + v[2] for v in first.values()) else first))
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            k = int((now - self.origin) // self.window) + 1
            boundary = self.origin + k * self.window + 0.02  # just past the server's roll-over
            if self._stop.wait(boundary - now):
                break
            self.samples.append(Sample(time.monotonic(), _counters(self.sandbox)))

    def stop(self) -> None:
        """Stop sampling (a last partial window is not taken)."""
        self._stop.set()
        self._thread.join(timeout=2 * self.window)

    def windows(self, start: float, end: float) -> list[dict[str, tuple[int, int, int]]]:
        """Per-window deltas for the windows that lie between ``start`` and ``end``."""
        pts = self.samples
        out = []
        for a, b in zip(pts, pts[1:]):
            if a.at >= start - self.window and b.at <= end + self.window:
                out.append({n: tuple(y - x for x, y in zip(a.counters[n], b.counters[n]))
                            for n in b.counters})
        return out


def bucket_use(sampler: WindowSampler, start: float, end: float) -> dict[str, dict[str, Any]]:
    """Per bucket over one phase: steady share of the limit, peak share, 429 share."""
    wins = sampler.windows(start, end)
    out: dict[str, dict[str, Any]] = {}
    for name, limit in sampler.limits.items():
        used = [w[name][0] for w in wins]
        calls = sum(w[name][1] for w in wins)
        throttled = sum(w[name][2] for w in wins)
        active = [i for i, u in enumerate(used) if u > 0]
        if not active or not limit:
            if calls:
                out[name] = {"limit": limit, "calls": calls, "throttled": throttled}
            continue
        # Steady state: the windows between the first and the last active one, both excluded
        # (ramp-up and tail are partial windows by nature).
        inner = used[active[0] + 1:active[-1]]
        shares = [u / limit for u in inner]
        out[name] = {
            "limit": limit, "window_s": sampler.window, "calls": calls, "credits": sum(used),
            "throttled": throttled,
            "share_429": throttled / (calls + throttled) if calls + throttled else 0.0,
            "steady_windows": len(inner),
            "steady_share": statistics.mean(shares) if shares else None,
            "peak_share": max(u / limit for u in used),
            "series": used,  # credits per server window, to see where a bucket idled
        }
    return out
