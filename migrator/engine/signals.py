"""Ctrl-C and SIGTERM during a run: finish the batch in flight, save state, exit 130.

The first signal only asks the run to stop: no new batch is opened, batches already sent are
collected and recorded. A second signal abandons them at once (they stay open in the state
store and the next run reconciles them against the target before sending anything).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

from migrator.errors import InterruptedRun

__all__ = ["StopFlag", "handle_signals"]


class StopFlag:
    """A thread-safe 'please stop' shared by the engine and its workers."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def set(self, reason: str = "interrupted") -> None:
        """Ask the run to stop after the batches in flight."""
        self.reason = reason
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`InterruptedRun` if a stop was asked for."""
        if self.is_set:
            raise InterruptedRun(
                f"{self.reason}: the batches in flight were recorded and the state is saved",
                hint="run the same command again to continue where it stopped")


@contextmanager
def handle_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """Install SIGINT/SIGTERM handlers for the duration of a run (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def _handler(signum, _frame):
        if flag.is_set:  # second signal: abandon the batches in flight
            raise KeyboardInterrupt
        flag.set(f"stopped by {signal.Signals(signum).name}")

    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, _handler)
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)
