"""In-memory Source, Target and RestructurePlan for engine tests (no HTTP, no threads of their own)."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from connectors.base import (CheckItem, LoadItem, Page, Submission, TargetCapabilities,
                             TeamGroup)
from migrator.errors import RecordError, TransientError
from migrator.models import (Agent, Attachment, Comment, EndUser, Entity, Group, Membership,
                             Organization, Outcome, Ticket, TicketField, iso)
from migrator.state import RecordOutcome


class Crash(BaseException):
    """Simulates the process dying at a point (not an Exception: nothing may swallow it)."""


# -- source ---------------------------------------------------------------------------------
class FakeSource:
    name = "fake"

    def __init__(self, data: dict[Entity, list], files: dict[str, bytes] | None = None,
                 page_size: int = 2):
        self.data = data
        self.files = files or {}
        self.page_size = page_size
        self.calls: list[tuple] = []
        self.downloads: list[str] = []

    def check(self) -> list[CheckItem]:
        return [CheckItem("credentials", True, "fake ok")]

    def entities(self):
        return [e for e in (Entity.ORGANIZATIONS, Entity.END_USERS, Entity.AGENTS, Entity.GROUPS,
                            Entity.TICKET_FIELDS, Entity.TICKETS, Entity.COMMENTS,
                            Entity.TIME_ENTRIES) if e in self.data]

    @staticmethod
    def _key(r) -> list:
        return [getattr(r, "updated_at", None) or "", str(r.id)]

    def export(self, entity, cursor=None, *, since=None, ticket_ids=None):
        self.calls.append((entity, cursor, tuple(ticket_ids or ())))
        if entity is Entity.COMMENTS:  # the cursor counts positions in ticket_ids
            ids = list(ticket_ids)
            start = json.loads(cursor)["index"] if cursor else 0
            for i in range(start, len(ids)):
                yield Page([copy.deepcopy(c) for c in self.data[entity] if c.ticket_id == ids[i]],
                           cursor=json.dumps({"index": i + 1}), done=i + 1 == len(ids))
            return
        after = json.loads(cursor) if cursor else None
        rows = sorted((r for r in self.data[entity] if after is None or self._key(r) > after),
                      key=self._key)
        for i in range(0, len(rows), self.page_size):
            page = rows[i:i + self.page_size]
            yield Page([copy.deepcopy(r) for r in page], cursor=json.dumps(self._key(page[-1])),
                       done=i + self.page_size >= len(rows))

    def download(self, attachment: Attachment, dest: Path) -> int:
        self.downloads.append(attachment.id)
        if attachment.id not in self.files:
            raise RecordError(f"attachment {attachment.id}: 404 not found", status=404)
        dest.write_bytes(self.files[attachment.id])
        return len(self.files[attachment.id])

    def stats(self):
        return {}

    def close(self):
        pass


# -- target ---------------------------------------------------------------------------------
@dataclass
class Stored:
    marker: str | None
    record: Any
    notes: int = 0


class FakeTarget:
    name = "faketarget"

    def __init__(self, *, async_jobs: bool = False, batch_size: int = 3,
                 atomic_tickets: bool = False):
        self.capabilities = TargetCapabilities(
            sets_timestamps=True, creates_agents=True, writable_roles=True,
            async_jobs=async_jobs, max_attachment_bytes=None, batch_size=batch_size,
            time_entries=True, atomic_tickets=atomic_tickets, group_escalation=True)
        self.store: dict[Entity, dict[str, Stored]] = {e: {} for e in Entity}
        self.clock = 0.0  # this account's clock minus ours, in seconds
        self.fail: dict[tuple[Entity, str], str] = {}
        self.transient_on: Callable[[Entity, list[LoadItem]], bool] = lambda e, items: False
        self.crash_at: Callable[[str, Entity, list[LoadItem]], bool] = lambda p, e, i: False
        self.submitted: list[tuple[Entity, list[str], list[bool]]] = []
        self.pending_changes: list = []  # Change records the next changes() reports
        self.restored: list[tuple] = []
        self._ids = itertools.count(1000)
        self._jobs: dict[str, list[RecordOutcome]] = {}
        self._lock = threading.Lock()

    def preexisting(self, entity: Entity, record: Any) -> str:
        tid = str(next(self._ids))
        self.store[entity][tid] = Stored(None, dataclasses.replace(record, id=tid))
        return tid

    def count(self, entity: Entity) -> int:
        return len(self.store[entity])

    def markers(self, entity: Entity) -> list[str]:
        return sorted(s.marker for s in self.store[entity].values() if s.marker)

    def check(self):
        return [CheckItem("credentials", True, "fake ok"), CheckItem("plan", True, "warn", warning=True)]

    def existing(self, entity):
        return [dataclasses.replace(s.record, id=tid) for tid, s in self.store[entity].items()]

    def clock_offset(self) -> float:
        return self.clock

    def team_structure(self):
        members: dict[str, set[str]] = {}
        for s in self.store[Entity.MEMBERSHIPS].values():
            members.setdefault(str(s.record.group_id), set()).add(str(s.record.agent_id))
        return {tid: TeamGroup(tid, s.record.name, frozenset(members.get(tid, ())),
                               s.record.escalate_to)
                for tid, s in self.store[Entity.GROUPS].items()}

    def _find(self, entity: Entity, sid: str) -> str | None:
        return next((t for t, s in self.store[entity].items() if s.marker == sid), None)

    def _one(self, entity: Entity, item: LoadItem) -> RecordOutcome:
        reason = self.fail.get((entity, item.source_id))
        if reason:
            return RecordOutcome(item.source_id, Outcome.FAILED, reason=reason)
        found = self._find(entity, item.source_id)
        notes = len(getattr(item.record, "comments", []) or [])
        if found is not None:
            stored = self.store[entity][found]
            if item.recovering and notes > stored.notes:  # complete: append what is missing
                stored.notes, stored.record = notes, item.record
                return RecordOutcome(item.source_id, Outcome.UPDATED, target_id=found)
            return RecordOutcome(item.source_id, Outcome.UNCHANGED, target_id=found)
        tid = str(next(self._ids))
        record = item.record
        if entity is not Entity.TICKETS and hasattr(record, "created_at"):
            # A help desk stamps what it creates (imported tickets keep their own dates).
            record = dataclasses.replace(record, created_at=iso(time.time() + self.clock))
        self.store[entity][tid] = Stored(item.source_id, record, notes)
        return RecordOutcome(item.source_id, Outcome.CREATED, target_id=tid)

    def submit(self, entity, items):
        with self._lock:
            self.submitted.append((entity, [i.source_id for i in items], [i.recovering for i in items]))
            if self.transient_on(entity, items):
                raise TransientError("faketarget: 503 kept coming back", status=503,
                                     hint="run the same command again")
            if self.crash_at("before_send", entity, items):
                raise Crash("before send")
            outcomes = [self._one(entity, i) for i in items]
            if self.crash_at("after_send", entity, items):
                raise Crash("after send, before mark_sent")
            if self.capabilities.async_jobs:
                job = f"job-{next(self._ids)}"
                self._jobs[job] = outcomes
                return Submission(entity, items, job_id=job)
            return Submission(entity, items, outcomes=outcomes)

    def collect(self, submission):
        if self.crash_at("collect", submission.entity, submission.items):
            raise Crash("after send, before finish")
        if submission.job_id:
            return self._jobs[submission.job_id]
        return submission.outcomes

    def reconcile(self, entity, source_ids):
        return {sid: t for sid in source_ids if (t := self._find(entity, sid)) is not None}

    def changes(self):
        made, self.pending_changes = self.pending_changes, []
        return made

    def restore(self, entity, target_id, before):
        self.restored.append((entity, target_id, before))

    def fetch(self, entity, target_id):
        stored = self.store[entity].get(str(target_id))
        return None if stored is None else dataclasses.replace(stored.record, id=str(target_id))

    def delete(self, entity, target_ids):
        gone = []
        for tid in target_ids:
            self.store[entity].pop(str(tid), None)
            gone.append(str(tid))
        return gone

    def stats(self):
        return {}

    def close(self):
        pass


# -- plan -----------------------------------------------------------------------------------
@dataclass
class FakePlan:
    agents: list[Agent]
    groups: list[Group]
    memberships: list[Membership]
    ticket_fields: list[TicketField]
    route_to: str = "support/l1"

    def map_ticket(self, ticket: Ticket) -> Ticket:
        status = "closed" if ticket.status == "closed" else ticket.status
        return dataclasses.replace(ticket, group_id=self.route_to, status=status,
                                   tags=[*ticket.tags, "migrated"],
                                   extra={**ticket.extra, "team": "support", "tier": "l1"})

    def route(self, ticket):
        return ("support", "l1")


# -- a small company --------------------------------------------------------------------------
def company(n_tickets: int = 6) -> tuple[dict[Entity, list], dict[str, bytes], FakePlan]:
    orgs = [Organization(id="o1", name="Acme"), Organization(id="o2", name="Globex")]
    users = [EndUser(id=f"u{i}", name=f"User {i}", email=f"u{i}@ex.test",
                     organization_id="o1" if i % 2 else "o2", updated_at=f"2024-01-0{i}T00:00:00Z")
             for i in range(1, 5)]
    agents = [Agent(id="a1", name="Lead", email="lead@ex.test", updated_at="2024-01-01T00:00:00Z"),
              Agent(id="a2", name="Ann", email="ann@ex.test", updated_at="2024-01-01T00:00:00Z")]
    tickets, comments, files = [], [], {}
    for i in range(1, n_tickets + 1):
        tickets.append(Ticket(id=str(i), subject=f"Ticket {i} – café", status="closed" if i == 2 else "open",
                              requester_id=f"u{1 + i % 4}", assignee_id="a2" if i % 2 else None,
                              organization_id="o1", custom_fields={"cf_x": "v"} if i == 3 else {},
                              updated_at=f"2024-02-{i:02d}T00:00:00Z", created_at="2024-01-01T00:00:00Z"))
        for j in range(1 + i % 3):
            atts = []
            if i == 1 and j == 0:
                atts = [Attachment(id="f1", file_name="log.txt", size=5),
                        Attachment(id="f2", file_name="../../evil.png", inline=True, size=3)]
                files.update({"f1": b"hello", "f2": b"png"})
            comments.append(Comment(id=f"c{i}-{j}", ticket_id=str(i),
                                    author_id="a2" if j else f"u{1 + i % 4}", body=f"body {j}",
                                    created_at=f"2024-01-01T0{j}:00:00Z", attachments=atts))
    data = {Entity.ORGANIZATIONS: orgs, Entity.END_USERS: users, Entity.AGENTS: agents,
            Entity.TICKETS: tickets, Entity.COMMENTS: comments}
    plan = FakePlan(
        agents=[dataclasses.replace(a, group_ids=["support/l1"]) for a in agents],
        groups=[Group(id="support/l1", name="Support · L1", escalate_to="a1"),
                Group(id="support/l2", name="Support · L2", escalate_to="a1")],
        memberships=[Membership(id="a1@support/l1", agent_id="a1", group_id="support/l1"),
                     Membership(id="a2@support/l1", agent_id="a2", group_id="support/l1")],
        ticket_fields=[TicketField(id="cf_x", key="cf_x", title="X", type="text")])
    return data, files, plan
