"""A target that answers at once and keeps nothing: the engine's own cost, no network wait."""

from __future__ import annotations

import itertools
import threading
import time
from types import SimpleNamespace
from typing import Any, Sequence

from connectors.base import CheckItem, LoadItem, Submission, TargetCapabilities
from migrator.models import Entity, Outcome, iso
from migrator.state import RecordOutcome

__all__ = ["NullTarget"]


class NullTarget:
    """Creates every item (a counter as target id); stores nothing so memory stays flat."""

    name = "null"

    def __init__(self, batch_size: int = 100, on_submit: Any = None, ledger: Any = None,
                 found: set[tuple[str, str]] | None = None):
        self.capabilities = TargetCapabilities(
            sets_timestamps=True, creates_agents=True, writable_roles=True, async_jobs=False,
            max_attachment_bytes=None, batch_size=batch_size, atomic_tickets=True)
        self.sent: dict[str, int] = {}
        self.sent_ids: dict[str, set[str]] = {}
        self.keep_ids = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._on_submit = on_submit
        # The resume benchmark plays a target that keeps source-id markers: what it created is
        # appended to ``ledger`` (a line-buffered file) and a later process finds ``found``.
        self._ledger, self._found = ledger, found or set()

    def check(self) -> list[CheckItem]:
        """Always fine."""
        return [CheckItem("null target", True)]

    def existing(self, entity: Entity) -> list[Any]:
        """An empty account."""
        return []

    def submit(self, entity: Entity, items: list[LoadItem]) -> Submission:
        """Answer every item ``created``."""
        if self._on_submit is not None:
            self._on_submit(entity, items)
        with self._lock:
            self.sent[entity.value] = self.sent.get(entity.value, 0) + len(items)
            if self.keep_ids:
                self.sent_ids.setdefault(entity.value, set()).update(i.source_id for i in items)
            # a recovering item an earlier process created is found by its marker, not made
            # again (as Zendesk and Freshdesk do); everything else is created
            held = {i.source_id for i in items
                    if i.recovering and (entity.value, i.source_id) in self._found}
            outcomes = [
                RecordOutcome(i.source_id, Outcome.UNCHANGED, target_id=f"found-{i.source_id}")
                if i.source_id in held else
                RecordOutcome(i.source_id, Outcome.CREATED, target_id=str(next(self._ids)))
                for i in items]
            if self._ledger is not None:
                self._ledger.write("".join(f"{entity.value}\t{i.source_id}\n" for i in items
                                           if i.source_id not in held))
        return Submission(entity, items, outcomes=outcomes)

    def collect(self, submission: Submission) -> list[RecordOutcome]:
        """The outcomes given at submit."""
        return submission.outcomes or []

    def reconcile(self, entity: Entity, source_ids: Sequence[str]) -> dict[str, str]:
        """What an earlier process created (its ledger), as a real target finds its markers;
        without a ledger nothing is found and recovery resends open batches."""
        return {sid: f"found-{sid}" for sid in source_ids if (entity.value, sid) in self._found}

    def fetch(self, entity: Entity, target_id: str) -> Any | None:
        """A record an earlier process of the run created (found by its marker), made after
        its batch was written, as recovery asks of users; nothing else is kept."""
        if entity in (Entity.END_USERS, Entity.AGENTS) and str(target_id).startswith("found-"):
            return SimpleNamespace(id=str(target_id), created_at=iso(time.time()))
        return None

    def delete(self, entity: Entity, target_ids: Sequence[str]) -> list[str]:
        """Everything is already gone."""
        return list(target_ids)

    def stats(self) -> dict[str, dict]:
        """No buckets."""
        return {}

    def close(self) -> None:
        """Nothing to close."""
