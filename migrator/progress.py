"""Progress reporting: the engine calls a tiny protocol; the CLI plugs in rich progress bars."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Progress", "NullProgress", "RichProgress"]


class Progress(Protocol):
    """What the engine reports while it works."""

    def start(self, name: str, total: int | None = None) -> None: ...

    def advance(self, name: str, n: int = 1) -> None: ...

    def finish(self, name: str) -> None: ...

    def note(self, message: str) -> None: ...


class NullProgress:
    """Reports nothing (library use, tests)."""

    def start(self, name: str, total: int | None = None) -> None:
        """Begin a task."""

    def advance(self, name: str, n: int = 1) -> None:
        """Count ``n`` more done."""

    def finish(self, name: str) -> None:
        """End a task."""

    def note(self, message: str) -> None:
        """Say something worth a line."""


class RichProgress:
    """rich progress bars with counts, rate and ETA; use as a context manager."""

    def __init__(self, console=None, *, transient: bool = False):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as _P, SpinnerColumn,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)
        self.console = console or Console(stderr=True)
        self._bar = _P(SpinnerColumn(), TextColumn("{task.description:<22}"), BarColumn(),
                       MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                       console=self.console, transient=transient)
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> "RichProgress":
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def start(self, name: str, total: int | None = None) -> None:
        """Begin (or restart) a bar."""
        if name in self._tasks:  # a new pass over the same thing starts from zero
            self._bar.reset(self._tasks[name], total=total)
            return
        self._tasks[name] = self._bar.add_task(name, total=total)

    def advance(self, name: str, n: int = 1) -> None:
        """Move a bar by ``n``."""
        if name not in self._tasks:
            self.start(name)
        self._bar.advance(self._tasks[name], n)

    def finish(self, name: str) -> None:
        """Mark a bar complete."""
        if name in self._tasks:
            tid = self._tasks[name]
            done = next(t.completed for t in self._bar.tasks if t.id == tid)
            self._bar.update(tid, total=done, completed=done)

    def note(self, message: str) -> None:
        """Print a line above the bars."""
        self._bar.console.print(message)
