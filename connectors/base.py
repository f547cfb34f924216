"""What every connector offers: a :class:`Source` to export from and a :class:`Target` to load into.

Both speak only the canonical model (:mod:`migrator.models`). Vendor JSON never leaves a
connector package. The migration engine owns the state store; connectors never touch it.

Source contract
    ``export(entity, cursor)`` yields :class:`Page` objects. The engine stages each page's
    records and saves ``page.cursor`` in the same transaction, so a crash repeats at most one
    page. Calling ``export`` again with the saved cursor continues where it stopped; with the
    cursor of a finished export it returns only what changed since (delta). Records may repeat
    across pages (the engine dedupes by id).

Target contract
    ``submit(entity, items)`` sends one batch and returns a :class:`Submission`; the engine has
    written the batch to the state store before the call and marks it sent after it. ``collect``
    waits for the outcome of every item (job polling for Zendesk). ``reconcile`` finds records
    a previous, interrupted attempt already created, by the source-id marker the loader writes
    (Zendesk ``external_id``, a Freshdesk custom field...), so nothing is created twice.
    Items reach the target with every reference already translated to *target* ids by the
    engine (see :class:`LoadItem`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from migrator.models import Attachment, Entity
from migrator.state import RecordOutcome

__all__ = [
    "Page",
    "CheckItem",
    "LoadItem",
    "Submission",
    "Helper",
    "TargetCapabilities",
    "Source",
    "Target",
]


@dataclass
class Page:
    """One page of exported records and the cursor that resumes after it."""

    records: list[Any]
    cursor: str | None = None
    done: bool = False


@dataclass(frozen=True)
class CheckItem:
    """One line of ``migrator check``: what was checked, whether it passed, what to do."""

    name: str
    ok: bool
    detail: str = ""
    hint: str | None = None
    warning: bool = False  # passed, but with something the user should know


@dataclass
class LoadItem:
    """One record to create in the target.

    ``record`` is a canonical record whose references (requester, assignee, group, author,
    organisation...) already hold *target* ids, resolved by the engine through the id map.
    ``source_id`` is the id in the source, which the loader writes as its marker.
    ``recovering`` is set when a previous attempt may have created it partly: the loader must
    complete it (e.g. add the notes that are missing) rather than create it again.
    """

    source_id: str
    record: Any
    recovering: bool = False
    attachments_dir: Path | None = None


@dataclass(frozen=True)
class Helper:
    """A record a target created for its own needs, not from any source record (a placeholder
    agent for unknown authors, a field holding source ids). Reported through the target's
    optional ``helpers()`` so the engine can record it with the run and a rollback removes it."""

    entity: Entity
    key: str  # stable name of the helper, unique per entity ("placeholder-agent")
    target_id: str


@dataclass(frozen=True)
class Change:
    """A record that existed in the target and that the run changed (a reused agent's role and
    ticket scope, a reused group's escalation settings), with the values it had before.

    Reported through the target's optional ``changes()``; the engine keeps them with the run and
    ``migrator rollback`` hands each back to the target's ``restore(entity, target_id, before)``,
    so a demo leaves the account as it found it."""

    entity: Entity
    target_id: str
    before: dict[str, Any]


class ChangeLog:
    """Where a target notes the existing records it is about to change (:class:`Change`).

    A change is noted *before* the write that makes it. While the engine watches
    (:meth:`watch`, during ``migrate``) it goes straight to the engine's sink, so a process
    killed right after the write has kept what to put back; otherwise it waits for
    :meth:`drain` (the target's ``changes()``). Thread-safe: batches may be in flight together.
    """

    def __init__(self) -> None:
        self._pending: list[Change] = []
        self._sink: Callable[[list[Change]], None] | None = None
        self._lock = threading.Lock()

    def note(self, change: Change) -> None:
        """One change, before its write."""
        if self._sink is not None:
            self._sink([change])
            return
        with self._lock:
            self._pending.append(change)

    def watch(self, sink: Callable[[list[Change]], None] | None) -> None:
        """Hand each change to ``sink`` as it is noted (``None``: queue them again)."""
        self._sink = sink

    def drain(self) -> list[Change]:
        """The queued changes, once each."""
        with self._lock:
            out, self._pending = self._pending, []
        return out


@dataclass
class Submission:
    """A sent batch: the job id where the target is asynchronous, or the results directly."""

    entity: Entity
    items: list[LoadItem]
    job_id: str | None = None
    outcomes: list[RecordOutcome] | None = None  # filled now by synchronous targets
    data: dict[str, Any] = field(default_factory=dict)  # connector-private


class RecentIds:
    """Source id -> target id of what this process created lately, thread-safe and bounded:
    a batch sent again in the same process (after a transient error) finds its records here;
    older ones are in the state store's id map, so memory does not grow with the account."""

    def __init__(self, limit: int = 50_000):
        self.limit = limit
        self._ids: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __setitem__(self, source_id: str, target_id: str) -> None:
        with self._lock:
            self._ids[source_id] = target_id
            self._ids.move_to_end(source_id)
            while len(self._ids) > self.limit:
                self._ids.popitem(last=False)

    def get(self, source_id: str) -> str | None:
        with self._lock:
            return self._ids.get(source_id)

    def pick(self, source_ids: Iterable[str]) -> dict[str, str]:
        """Those of ``source_ids`` known here (one lookup each, never a scan)."""
        with self._lock:
            return {s: self._ids[s] for s in source_ids if s in self._ids}

    def __len__(self) -> int:
        return len(self._ids)


# ``Comment.extra`` key a target's ``fetch`` sets on a note its loader added (not history from
# the source, e.g. Freshdesk's list of attachments a ticket could not carry); says what it is.
MIGRATOR_NOTE = "migrator_note"


@dataclass(frozen=True)
class TeamGroup:
    """A group as the target holds it now, for ``verify``: its members (agent target ids) and,
    where the target has escalation settings, whom it escalates to (``None`` otherwise)."""

    id: str
    name: str
    members: frozenset[str] = frozenset()
    escalate_to: str | None = None


@dataclass(frozen=True)
class TargetCapabilities:
    """What the target can and cannot represent; the plan and the report say it to the user."""

    sets_timestamps: bool  # can the original created/updated/solved dates be written?
    creates_agents: bool  # can agents be created through the API (and at what cost)?
    writable_roles: bool  # can roles be created (else a tier maps onto an existing role)?
    async_jobs: bool  # are bulk writes queued jobs?
    max_attachment_bytes: int | None  # per ticket or per comment, None if unlimited
    batch_size: int = 100
    notes: tuple[str, ...] = ()
    time_entries: bool = False  # can logged time (with its date and agent) be written?
    # is a ticket created with all its comments in one request? Then a ticket recovery finds by
    # its marker after a crash is whole: it keeps the digest it was sent with, and is not sent
    # again unless the staging changed since
    atomic_tickets: bool = False
    # does a group carry an escalation path (Freshdesk: escalate_to after unassigned_for)?
    group_escalation: bool = False


@runtime_checkable
class Source(Protocol):
    """A help desk we export from."""

    name: str

    def check(self) -> list[CheckItem]:
        """Credentials, permissions, plan features and rate limits, without changing anything."""

    def entities(self) -> Sequence[Entity]:
        """The entities this source exports, in the order they should be exported."""

    def export(self, entity: Entity, cursor: str | None = None, *,
               since: str | None = None) -> Iterator[Page]:
        """Pages of canonical records of ``entity``, resuming after ``cursor``."""

    def download(self, attachment: Attachment, dest: Path) -> int:
        """Stream one attachment to ``dest``; return its size in bytes."""

    def stats(self) -> dict[str, dict]:
        """Request counters per rate-limit bucket."""

    def close(self) -> None: ...


@runtime_checkable
class Target(Protocol):
    """A help desk we load into."""

    name: str
    capabilities: TargetCapabilities

    def check(self) -> list[CheckItem]: ...

    def existing(self, entity: Entity) -> Iterator[Any]:
        """Records already in the target (agents, groups, roles, ticket fields, ...), canonical
        with *target* ids, so the engine can reuse them by name or e-mail instead of creating."""

    def submit(self, entity: Entity, items: list[LoadItem]) -> Submission: ...

    def collect(self, submission: Submission) -> list[RecordOutcome]:
        """Wait for the batch and return one outcome per item (``source_id`` = item's)."""

    def reconcile(self, entity: Entity, source_ids: Sequence[str]) -> dict[str, str]:
        """Source id -> target id for records of ``entity`` that already exist in the target."""

    def fetch(self, entity: Entity, target_id: str) -> Any | None:
        """One record as the target holds it (tickets with comments), for ``migrator verify``."""

    def delete(self, entity: Entity, target_ids: Sequence[str]) -> list[str]:
        """Delete records (rollback); return the ids actually gone (already-absent count as gone).

        Optional extras: ``helpers()`` (records the target created for itself, see
        :class:`Helper`), ``changes()`` and ``restore(entity, target_id, before)`` (existing
        records the run changed and how to put them back, see :class:`Change`), and
        ``watch_changes(sink)``: hand each change to ``sink`` *before* the write that makes it,
        so a process killed inside ``submit`` has already kept what to put back."""

    def stats(self) -> dict[str, dict]: ...

    def close(self) -> None: ...
