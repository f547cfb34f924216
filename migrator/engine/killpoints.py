"""Named points where a test may kill the process (SIGKILL), to prove crash safety.

Off unless ``MIGRATOR_KILL_AT`` is set, as ``point:n`` or ``point.entity:n`` (die the n-th
time ``point`` is reached, for any entity or for that one, counting across threads). Points: ``batch.opened`` (written, not sent),
``batch.submitted`` (sent, job id not recorded: between send and record), ``batch.sent``
(marked sent, outcome not recorded), ``batch.finished`` (recorded), ``export.staged``.
"""

from __future__ import annotations

import os
import signal
import threading

__all__ = ["reached", "ENV"]

ENV = "MIGRATOR_KILL_AT"
_lock = threading.Lock()
_seen: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(ENV, "")
    if ":" not in spec:
        return None
    point, _, n = spec.rpartition(":")
    return (point, int(n)) if n.isdigit() else None


def reached(point: str, entity: object = None) -> None:
    """Count ``point``; SIGKILL this process if it is the configured kill point."""
    target = _target()
    if target is None or target[0] not in (point, f"{point}.{entity}"):
        return
    with _lock:
        _seen[target[0]] = _seen.get(target[0], 0) + 1
        if _seen[target[0]] == target[1]:
            os.kill(os.getpid(), signal.SIGKILL)
