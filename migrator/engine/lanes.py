"""Several page readers at once, one writer: the export's lanes.

A lane is a thread that runs jobs one after another; a job is a stream name and a function that
returns that stream's page iterator. Jobs are added with :meth:`Lane.add` (a lane can be fed
while it runs, as the comments passes are) and :meth:`Lane.close` says no more will come. Every
page any lane reads goes into one bounded queue that the caller, the only thread that writes
the state store, empties with :meth:`Lanes.take`. Streams on different rate buckets therefore
read at the same time while staging stays serial (SQLite has one writer).

Stop and errors, as :mod:`migrator.engine.prefetch` has them: after the stop flag is set a lane
reads nothing more and a page it read after the stop is dropped, so exactly the pages read
before the stop are handed out; a reader's error is handed out after its pages (as an
``error`` event) and the other lanes stop after their current request (:meth:`Lanes.halt`).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

__all__ = ["Event", "Lane", "Lanes"]

PAGE, END, ERROR = "page", "end", "error"


@dataclass
class Event:
    """One thing a lane reports: a page read, a job finished (``end``), or an error."""

    kind: str
    stream: str
    page: Any = None
    error: BaseException | None = None
    tag: Any = None
    ready: Any = None  # what ``Lanes.prepare`` returned for the page (e.g. a downloads future)


class Lane:
    """One reader thread running its jobs in order."""

    def __init__(self, owner: "Lanes", name: str, depth: int):
        self.owner, self.name = owner, name
        self.slots = threading.Semaphore(max(1, depth))  # pages read and not yet taken
        self.inbox: queue.Queue = queue.Queue()
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"export-{name}")

    def add(self, stream: str, pages: Callable[[], Iterable[Any]], tag: Any = None) -> None:
        """Run ``pages()`` after the jobs already added; its pages are tagged with ``stream``."""
        self.inbox.put((stream, pages, tag))

    def close(self) -> None:
        """No more jobs: the thread ends after the ones it has."""
        if not self.closed:
            self.closed = True
            self.inbox.put(None)

    def _run(self) -> None:
        while not self.owner.stopped():
            try:
                job = self.inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if job is None or not self._job(*job):
                return

    def _job(self, stream: str, pages: Callable[[], Iterable[Any]], tag: Any) -> bool:
        owner, it = self.owner, None
        try:
            it = iter(pages())
            for page in it:
                if owner.stopped():
                    return False  # read after the stop: never handed out
                ready = owner.prepare(page) if owner.prepare is not None else None
                if not owner.put(Event(PAGE, stream, page, tag=tag, ready=ready), self):
                    return False
            return owner.put(Event(END, stream, tag=tag))
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, raised there
            owner.put(Event(ERROR, stream, error=exc, tag=tag))
            owner.halt()
            return False
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # a source's generator cleans up in this thread, where it runs


class Lanes:
    """The lanes of one export and the queue their pages go through."""

    def __init__(self, depth: int, stop: Any = None,
                 prepare: Callable[[Any], Any] | None = None):
        """``prepare(page)`` runs in the reader as soon as a page is read (the export starts
        the page's attachment downloads there, so they overlap the staging of earlier pages)."""
        self.prepare = prepare
        self.depth = max(1, depth)
        self.queue: queue.Queue = queue.Queue()  # bounded per lane (Lane.slots)
        self.halted = threading.Event()  # the writer failed, or a reader did: stop reading
        self.stop = stop
        self.lanes: list[Lane] = []

    def lane(self, name: str, depth: int | None = None) -> Lane:
        """A new lane (started by :meth:`start`) reading up to ``depth`` pages ahead."""
        lane = Lane(self, name, depth or self.depth)
        self.lanes.append(lane)
        return lane

    def start(self) -> "Lanes":
        for lane in self.lanes:
            lane.thread.start()
        return self

    def stopped(self) -> bool:
        return self.halted.is_set() or (self.stop is not None and self.stop.is_set)

    def halt(self) -> None:
        """Readers stop after their current request; queued pages can still be taken."""
        self.halted.set()
        for lane in self.lanes:
            lane.close()

    def put(self, event: Event, lane: Lane | None = None) -> bool:
        """Queue ``event``; a page waits for a free slot of its lane (False once halted)."""
        if lane is not None:
            while not lane.slots.acquire(timeout=0.1):
                if self.halted.is_set():
                    return False
            event.tag = (lane, event.tag)
        self.queue.put(event)
        return True

    def _taken(self, event: Event) -> Event:
        if event.kind == PAGE and isinstance(event.tag, tuple) and isinstance(event.tag[0], Lane):
            lane, event.tag = event.tag
            lane.slots.release()
        return event

    def alive(self) -> bool:
        return any(lane.thread.is_alive() for lane in self.lanes)

    def take(self, most: int) -> list[Event]:
        """The events waiting (at least one, unless every lane ended and none is left)."""
        out: list[Event] = []
        while not out:
            try:
                out.append(self._taken(self.queue.get(timeout=0.05)))
            except queue.Empty:
                if not self.alive() and self.queue.empty():
                    return []
        while len(out) < most:
            try:
                out.append(self._taken(self.queue.get_nowait()))
            except queue.Empty:
                break
        return out

    def events(self, most: int) -> Iterator[list[Event]]:
        """Batches of events until every lane ended and the queue is empty."""
        while True:
            batch = self.take(most)
            if not batch:
                return
            yield batch

    def shutdown(self) -> None:
        """Stop and join every lane (after the writer is done or failed)."""
        self.halt()
        for lane in self.lanes:
            if lane.thread.is_alive():
                lane.thread.join(timeout=30)
