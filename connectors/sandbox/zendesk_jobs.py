"""Background jobs of the Zendesk emulator (bulk creates, imports, deletes).

A job is ``queued`` for the first half of ``knobs.job_seconds``, ``working`` for the second half,
then ``completed``; its work runs when it completes, so records appear only then, as on the real
service. At most ``knobs.max_jobs`` jobs may be queued or running (reference §3.3, limits.md:
"700 calls and 30 jobs"); past that the submit gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import datetime, timezone
from typing import Any, Callable

from .common import SandboxKnobs
from .zendesk_http import ZendeskError
from .zendesk_render import BASE

__all__ = ["JobQueue"]

Work = Callable[[], list[dict[str, Any]] | dict[str, Any]]


class JobQueue:
    """The account's background jobs."""

    def __init__(self, store: Any, knobs: SandboxKnobs):
        self.store, self.knobs = store, knobs
        self.jobs: dict[str, dict[str, Any]] = {}
        self._work: dict[str, Work] = {}
        self._started: dict[str, float] = {}
        self._counter = 0
        self.rejected = 0

    def active(self) -> int:
        """Jobs still queued or running."""
        return sum(1 for j in self.jobs.values() if j["status"] in ("queued", "working"))

    def submit(self, job_type: str, total: int, work: Work) -> dict[str, Any]:
        """Queue a job (429 past the cap) and return its public status."""
        with self.store.lock:
            self.settle()
            if self.active() >= self.knobs.max_jobs:
                self.rejected += 1
                oldest = min(self._started[j] for j, v in self.jobs.items()
                             if v["status"] in ("queued", "working"))
                wait = max(1, math.ceil(oldest + self.knobs.job_seconds - time.monotonic()))
                raise ZendeskError(429, {"error": "TooManyJobs", "description":
                                         f"Number of queued or running jobs is over the limit "
                                         f"of {self.knobs.max_jobs}. Try again later."},
                                   {"Retry-After": str(wait)})
            self._counter += 1
            job_id = "V3-" + hashlib.md5(f"job{self._counter}".encode()).hexdigest()
            self.jobs[job_id] = {"id": job_id, "url": f"{BASE}/api/v2/job_statuses/{job_id}.json",
                                 "job_type": job_type, "total": total, "progress": None,
                                 "status": "queued", "message": None, "results": None}
            self._work[job_id] = work
            self._started[job_id] = time.monotonic()
            self.settle()
            return dict(self.jobs[job_id])

    def settle(self) -> None:
        """Advance every job whose time has come (called on each request)."""
        with self.store.lock:
            now = time.monotonic()
            for job_id, job in self.jobs.items():
                if job["status"] not in ("queued", "working"):
                    continue
                elapsed = now - self._started[job_id]
                if elapsed >= self.knobs.job_seconds:
                    self._complete(job)
                elif elapsed >= self.knobs.job_seconds / 2:
                    job.update(status="working", progress=job["total"] // 2)

    def _complete(self, job: dict[str, Any]) -> None:
        try:
            results = self._work.pop(job["id"])()
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")
            job.update(status="completed", progress=job["total"], results=results,
                       message=f"Completed at {stamp}")
        except Exception as exc:  # noqa: BLE001 - a crashed job is reported like Zendesk does
            job.update(status="failed", message=f"Failed: {type(exc).__name__}", results=[])

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The public status of one job."""
        with self.store.lock:
            self.settle()
            job = self.jobs.get(job_id)
            return dict(job) if job else None
