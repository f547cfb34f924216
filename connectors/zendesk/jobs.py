"""Zendesk background jobs: the queued-job cap, polling, and per-item results.

Bulk endpoints answer with a ``job_status`` (reference §5.4). The account may hold only a limited
number of queued or running jobs (30 per limits.md §1.1), so :meth:`JobQueue.submit` waits for a
free slot. Statuses are polled for many jobs at once with ``job_statuses/show_many``.

Results differ by resource: tickets and imports carry ``index``; users and organizations carry
``{"id", "status": "Created"}`` in item order with no index; failures carry ``error`` and
``details``, and a completed job can still hold failed items (or an empty ``{}``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Sequence

from migrator.errors import RateLimitedError, TransientError
from migrator.http import HttpClient, retry_after_seconds
from migrator.models import Outcome
from migrator.state import RecordOutcome

__all__ = ["JobQueue", "job_outcomes", "result_reason", "FINISHED"]

log = logging.getLogger("connectors.zendesk")

FINISHED = frozenset({"completed", "failed", "killed"})


class JobQueue:
    """Submits bulk requests under the job cap and waits for their statuses.

    Slots are reserved before a request is sent, so threads submitting at once never exceed
    the cap. Polls are shared: a thread that wakes after another one polled takes its results
    instead of sending another ``show_many``. A 429 on a submission that is not the per-minute
    limit (the body names jobs, or the rate headers still show requests left) means the
    account's queue is full, with jobs of other clients or a lower cap than ``cap``: the queue
    then allows as many jobs as it has open (at least one) and waits for one of them; the
    learnt cap is raised by one again after ``relearn_after`` seconds without such a 429.
    """

    def __init__(self, client: HttpClient, *, cap: int = 30, poll_interval: float = 1.0,
                 timeout: float = 3600.0, sleep: Callable[[float], None] = time.sleep,
                 relearn_after: float = 60.0, first_poll: float = 0.1):
        self.client = client
        self.cap = cap
        self.poll_interval = poll_interval
        self.first_poll = first_poll
        self.timeout = timeout
        self.relearn_after = relearn_after
        self.refused = 0  # 429s on submissions because the account's job queue was full
        self._sleep = sleep
        self._open: set[str] = set()
        self._done: dict[str, dict] = {}
        self._reserved = 0
        self._learned: int | None = None
        self._learned_at = 0.0
        self._generation = 0  # completed polls, so waiters can share one
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()

    def submit(self, method: str, path: str, *, json: Any = None,
               params: dict[str, Any] | None = None,
               send: Callable[..., Any] | None = None) -> str:
        """Send a bulk request once a job slot is free; return the job id.

        ``send`` replaces ``client.request`` (creating requests use a no-retry client).
        """
        deadline = time.monotonic() + self.timeout
        for attempt in itertools.count():
            self._reserve(deadline)
            try:
                response = (send or self.client.request)(method, path, json=json,
                                                         params=params, ok=(429,))
                if response.status_code != 429:
                    return self._accepted(path, response.json())
            finally:
                with self._lock:
                    self._reserved -= 1
            self._refused(response, attempt, deadline, f"{method} {path}")
        raise AssertionError("unreachable")  # pragma: no cover

    def wait(self, job_id: str) -> dict:
        """The finished ``job_status`` of ``job_id`` (polling every open job at once)."""
        deadline = time.monotonic() + self.timeout
        seen = -1
        # Short jobs are seen soon (a step waits for its last job before the next one starts):
        # the first polls come after first_poll, then twice as late, up to poll_interval.
        delay = min(self.first_poll, self.poll_interval)
        while True:
            with self._lock:
                if job_id in self._done:
                    return self._done.pop(job_id)
                self._open.add(job_id)  # e.g. a job id recovered from the state store
            seen = self._shared_poll(seen)
            with self._lock:
                if job_id in self._done:
                    return self._done.pop(job_id)
            if time.monotonic() > deadline:
                raise TransientError(
                    f"{self.client.what}: job {job_id} did not finish in {self.timeout:.0f}s",
                    hint="run the same command again; the batch is reconciled by external_id")
            self._sleep(delay)
            delay = min(delay * 2, self.poll_interval)

    def poll(self) -> None:
        """Refresh every open job (100 ids per ``show_many`` call)."""
        with self._lock:
            ids = sorted(self._open)
        for i in range(0, len(ids), 100):
            chunk = ids[i:i + 100]
            body = self.client.get_json("/api/v2/job_statuses/show_many",
                                        params={"ids": ",".join(chunk)})
            seen = set()
            for job in body.get("job_statuses") or []:
                seen.add(job.get("id"))
                if job.get("status") in FINISHED:
                    with self._lock:
                        self._open.discard(job["id"])
                        self._done[job["id"]] = job
            for gone in set(chunk) - seen:  # expired (statuses live ~1 h): outcome unknown
                with self._lock:
                    self._open.discard(gone)
                    self._done[gone] = {"id": gone, "status": "expired", "results": None}

    @property
    def open_jobs(self) -> int:
        """Jobs submitted and not known to be finished."""
        with self._lock:
            return len(self._open)

    @property
    def effective_cap(self) -> int:
        """The configured cap, or the lower one learnt from the account's refusals."""
        with self._lock:
            if self._learned is not None and \
                    time.monotonic() - self._learned_at > self.relearn_after:
                self._learned += 1
                self._learned_at = time.monotonic()
                if self._learned >= self.cap:
                    self._learned = None
            return min(self.cap, self._learned) if self._learned is not None else self.cap

    # -- internals -------------------------------------------------------------------------
    def _shared_poll(self, seen: int) -> int:
        """Poll, unless another thread polled since generation ``seen``; the new generation."""
        with self._poll_lock:
            if seen != -1 and self._generation != seen:
                return self._generation
            self.poll()
            self._generation += 1
            return self._generation

    def _reserve(self, deadline: float) -> None:
        seen = -1
        while True:
            with self._lock:
                if len(self._open) + self._reserved < self.effective_cap:
                    self._reserved += 1
                    return
            seen = self._shared_poll(seen)
            with self._lock:
                if len(self._open) + self._reserved < self.effective_cap:
                    continue
            if time.monotonic() > deadline:
                raise TransientError(f"{self.client.what}: the job queue stayed full")
            self._sleep(self.poll_interval)

    def _accepted(self, path: str, body: dict) -> str:
        job = body.get("job_status") or {}
        if not job.get("id"):
            raise TransientError(f"{self.client.what}: {path} answered without a job_status")
        with self._lock:
            if job.get("status") in FINISHED:
                self._done[job["id"]] = job
            else:
                self._open.add(job["id"])
        return job["id"]

    def _refused(self, response: Any, attempt: int, deadline: float, what: str) -> None:
        """A 429 on a submission: learn the queue's cap, or respect the per-minute limit."""
        wait = retry_after_seconds(response, 1.0)
        if time.monotonic() + wait > deadline or attempt > 1000:
            raise RateLimitedError(f"{self.client.what}: {what} kept being refused (HTTP 429)",
                                   status=429, hint="run the same command again later")
        if not _job_limit(response):
            self.client.budgets.get("account").throttled(wait)  # the per-minute limit
            return
        with self._lock:
            self.refused += 1
            mine = len(self._open)
            self._learned = max(1, mine)
            self._learned_at = time.monotonic()
        log.info("%s: the account's job queue is full (%d of ours open); waiting for a slot",
                 self.client.what, mine)
        if not mine:  # only other clients' jobs: nothing of ours to wait for
            self._sleep(wait)


def _job_limit(response: Any) -> bool:
    """A 429 caused by the job queue rather than the per-minute request limit."""
    if "job" in (response.text or "").lower():
        return True
    remaining = (response.headers.get("x-rate-limit-remaining")
                 or response.headers.get("ratelimit-remaining"))
    try:
        return remaining is not None and float(remaining) > 0
    except ValueError:
        return False


def result_reason(result: dict) -> str:
    """Zendesk's own words for a failed item."""
    parts = [str(result.get(k)) for k in ("error", "details", "message") if result.get(k)]
    return ": ".join(parts) or "Zendesk returned an empty result for this record"


def _ok(result: dict) -> bool:
    return (bool(result.get("id")) and result.get("success") is not False
            and not result.get("error")
            and str(result.get("status", "")).lower() not in ("failed", "error"))


def job_outcomes(job: dict, source_ids: Sequence[str], *,
                 keys: Sequence[str | None] | None = None) -> list[RecordOutcome]:
    """One outcome per submitted item from a finished job.

    Args:
        job: the finished ``job_status``.
        source_ids: the items' source ids, in submission order.
        keys: per item, the ``external_id`` it was sent with, to match results that carry one.
    """
    results = job.get("results")
    status = job.get("status")
    matched: list[dict | None] = [None] * len(source_ids)
    if isinstance(results, list):
        by_key = {str(k).lower(): i for i, k in enumerate(keys or []) if k}
        for pos, res in enumerate(results):
            if not isinstance(res, dict):
                continue
            if isinstance(res.get("index"), int):
                idx = res["index"]
            elif res.get("external_id") and str(res["external_id"]).lower() in by_key:
                idx = by_key[str(res["external_id"]).lower()]
            else:
                idx = pos  # users/organizations: results in item order, no index
            if 0 <= idx < len(matched) and matched[idx] is None:
                matched[idx] = res
    out = []
    for sid, res in zip(source_ids, matched):
        if res is None:
            why = ("job status expired before it was read; reconcile by external_id"
                   if status == "expired" else
                   f"job {job.get('id')} {status}: "
                   f"{job.get('message') or 'no result for this record'}")
            out.append(RecordOutcome(sid, Outcome.FAILED, reason=why))
        elif _ok(res):
            updated = str(res.get("status", "")).lower() == "updated"
            out.append(RecordOutcome(sid, Outcome.UPDATED if updated else Outcome.CREATED,
                                     target_id=str(res["id"])))
        else:
            out.append(RecordOutcome(sid, Outcome.FAILED, reason=result_reason(res)))
    return out
