"""A sandbox served by its own process, as a real service is.

The budget benchmark measures how full our client keeps the vendor's rate budgets. A sandbox
served by a thread of the benchmark's own process shares the interpreter lock with the client
under test, so on a small machine the client then waits for the *server's* Python, not for the
budget. A real Zendesk or Freshdesk runs elsewhere; so does this one. Its bucket counters are read
over the sandbox's control endpoint ``GET /_sandbox/stats``.

Child entry point: ``python -m bench.remote KIND JSON-KWARGS`` prints ``{"url": ...}`` on one line
and serves until its stdin closes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

__all__ = ["RemoteSandbox"]

ROOT = Path(__file__).resolve().parent.parent


class RemoteSandbox:
    """``start_sandbox(kind, **kwargs)`` in a child: ``.url``, ``.buckets()``, ``.stop()``."""

    def __init__(self, kind: str, **kwargs: Any):
        self.kind = kind
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.remote", kind, json.dumps(kwargs)], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line:
            self.stop()
            raise RuntimeError(f"the {kind} sandbox process did not start")
        self.url = json.loads(line)["url"]
        self._http = httpx.Client(timeout=10)

    def buckets(self) -> dict[str, dict[str, Any]]:
        """bucket -> limit, window, window_start (monotonic), ok, throttled[, credits]."""
        return self._http.get(f"{self.url}/_sandbox/stats").json()["buckets"]

    def stop(self) -> None:
        """Close the child's stdin (it stops serving and exits); kill it if it hangs."""
        if self._proc.poll() is None:
            try:
                if self._proc.stdin:
                    self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if hasattr(self, "_http"):
            self._http.close()


def main(argv: list[str] | None = None) -> None:
    """Serve one sandbox until stdin closes."""
    from connectors.sandbox.run import start_sandbox
    kind, kwargs = (argv or sys.argv[1:])[:2]
    box = start_sandbox(kind, **json.loads(kwargs))
    print(json.dumps({"url": box.url}), flush=True)
    try:
        sys.stdin.read()
    finally:
        box.stop()


if __name__ == "__main__":
    main()
