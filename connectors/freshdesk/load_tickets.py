"""Creating one ticket with its history, idempotently.

A ticket is ``POST /tickets`` (description = first comment, with its files as multipart
``attachments[]``) followed by one ``POST /tickets/{id}/notes`` per later comment. The reply
endpoint is never used: a reply e-mails the requester (gotcha 9). Files count against 20 MB per
ticket across all notes (gotcha 6); what does not fit is listed in a private note and in the
outcome's reason. The source id goes into ``cf_migration_source_id``; a recovering item is looked
up by it and completed: notes whose header marker is already there are not sent again.
Creating requests are never retried blindly: when the answer to ``POST /tickets`` or a note is
lost, the ticket is looked up by its source id and the note by its marker before sending again.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping

from migrator.errors import RecordError
from migrator.http import HttpClient
from migrator.models import Attachment, Comment, Outcome, Ticket
from migrator.state import RecordOutcome

from connectors.base import LoadItem, RecentIds
from connectors.freshdesk import render as R
from connectors.freshdesk.client import API, iter_pages

__all__ = ["TicketLoader", "plan_files", "record_error_reason"]

Planned = dict[str, list[Attachment]]  # comment id -> attachments that fit
UPDATABLE = ("status", "priority", "type", "tags", "group_id", "responder_id", "custom_fields")


def _differs(key: str, value: Any, current: Mapping[str, Any]) -> bool:
    have = current.get(key)
    if key == "tags":
        return set(value) != set(have or [])
    if key == "custom_fields":
        return any((have or {}).get(k) != v for k, v in value.items())
    return have != value


def _description_first(ticket: Ticket) -> Ticket:
    """The description comment leads even when a conversation shares its timestamp."""
    flagged = [c for c in ticket.comments if c.extra.get("description")]
    if not flagged or ticket.comments[0] is flagged[0]:
        return ticket
    rest = [c for c in ticket.comments if c is not flagged[0]]
    return dataclasses.replace(ticket, comments=[flagged[0], *rest])


def record_error_reason(exc: RecordError) -> str:
    """Freshdesk's validation errors as one line: ``field: message (code)`` each (§5.5)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and body.get("errors"):
        parts = [f"{e.get('field') or 'request'}: {e.get('message')} ({e.get('code')})"
                 for e in body["errors"] if isinstance(e, dict)]
        return f"{body.get('description') or 'rejected'}: " + "; ".join(parts)
    return exc.message


def plan_files(ticket: Ticket, base: Path | None,
               limit: int = R.MAX_TICKET_BYTES) -> tuple[Planned, list[tuple[str, str, int]]]:
    """Files that fit the per-ticket budget, in comment order; the rest as (comment, name,
    size, why): not downloaded at export, or over the limit."""
    used, planned, left = 0, {}, []
    for comment in ticket.comments:
        for att in comment.attachments:
            path = (base / att.local_path) if base and att.local_path else None
            size = att.size or (path.stat().st_size if path and path.exists() else 0)
            if path is None or not path.exists():
                left.append((comment.id, att.file_name, size, R.NOT_DOWNLOADED))
                continue
            if used + size > limit:
                left.append((comment.id, att.file_name, size, R.OVER_LIMIT))
                continue
            used += size
            planned.setdefault(comment.id, []).append(att)
    return planned, left


class TicketLoader:
    """Creates (or completes) tickets in a Freshdesk account."""

    def __init__(self, client: HttpClient, *, fields: Callable[[], Mapping[str, str]],
                 statuses: Callable[[], Mapping[str, int]], tags: list[str], workdir: Path,
                 types: Callable[[], Mapping[str, str]] = dict,
                 create: Callable[..., Any] | None = None,
                 find: Callable[[str], dict | None] | None = None,
                 awake: Callable[[list], ContextManager[None]] | None = None):
        self.client = client
        # awake(user ids): deleted contacts among them are restored while the block runs.
        self._awake = awake or (lambda ids: nullcontext())
        # create(path, find, **kw): a POST sent once, looked up when its answer is lost.
        self._create_request = create or (
            lambda path, find_, **kw: client.request("POST", path, **kw))
        self._find_ticket = find or (lambda source_id: None)
        self.fields = fields
        self.statuses = statuses
        self.types = types
        self.tags = tags
        self.workdir = workdir
        self.created = RecentIds()  # source id -> target id, made lately by this process

    def load(self, item: LoadItem, existing_id: str | None = None) -> RecordOutcome:
        """Create one ticket and its notes, or complete it when it already exists."""
        ticket: Ticket = item.record
        with self._awake([ticket.requester_id, *(c.author_id for c in ticket.comments)]):
            return self._load(item, existing_id)

    def _load(self, item: LoadItem, existing_id: str | None) -> RecordOutcome:
        ticket, type_note = self._with_type(_description_first(item.record))
        target_id = existing_id or self.created.get(item.source_id)
        base = item.attachments_dir or self.workdir
        planned, left = plan_files(ticket, base)
        try:
            if target_id:
                return self._completed(item, ticket, target_id, planned, base, left)
            target_id = self._create(ticket, planned, base)
            self.created[item.source_id] = target_id
            self._notes(target_id, ticket.comments[1:], planned, base, set())
            if left:
                self._leftover(target_id, ticket, left)
        except RecordError as exc:
            where = (f" (ticket {target_id} was created; run again to complete it)"
                     if target_id else "")
            return RecordOutcome(item.source_id, Outcome.FAILED, target_id,
                                 record_error_reason(exc) + where)
        return self._outcome(item, target_id, left, type_note)

    def _with_type(self, ticket: Ticket) -> tuple[Ticket, str | None]:
        """The type in the target's spelling; a type Freshdesk lacks is left out and said."""
        types = self.types()
        if not ticket.type or not types:
            return ticket, None
        match = types.get(ticket.type.lower())
        if match:
            return dataclasses.replace(ticket, type=match), None
        note = (f"type {ticket.type!r} is not a Freshdesk ticket type ({', '.join(types.values())}"
                "); created without a type: add it in Admin > Ticket Fields or map it")
        return dataclasses.replace(ticket, type=None), note

    def _completed(self, item: LoadItem, ticket: Ticket, target_id: str, planned: Planned,
                   base: Path, left: list) -> RecordOutcome:
        """An existing ticket (recovery or delta): update its fields, add the missing notes."""
        changed, problem = self._update(target_id, ticket)
        added = self._complete(target_id, ticket, planned, base, left)
        outcome = Outcome.UPDATED if added or changed else Outcome.UNCHANGED
        reason = f"existing ticket completed: {added} missing note(s) added" + (
            f", fields updated: {', '.join(changed)}" if changed else "") + (
            f"; fields not updated: {problem}" if problem else "")
        return RecordOutcome(item.source_id, outcome, target_id, reason)

    def _update(self, target_id: str, ticket: Ticket) -> tuple[list[str], str | None]:
        """PUT the mapped fields that differ from the target's (delta); (changed, problem)."""
        body = R.render_ticket(ticket, fields=self.fields(), tags=self.tags,
                               custom_statuses=self.statuses())
        current = self.client.get_json(f"{API}/tickets/{target_id}")
        update = {k: v for k, v in body.items() if k in UPDATABLE and _differs(k, v, current)}
        if not update:
            return [], None
        try:
            self.client.request("PUT", f"{API}/tickets/{target_id}", json=update)
        except RecordError as exc:  # e.g. 405 on a ticket deleted in the target meanwhile
            return [], record_error_reason(exc)
        return sorted(update), None

    def _outcome(self, item: LoadItem, target_id: str, left: list, note: str | None
                 ) -> RecordOutcome:
        reasons = [note] if note else []
        for why in (R.OVER_LIMIT, R.NOT_DOWNLOADED):
            names = ", ".join(f"{name} ({size} B)" for _, name, size, w in left if w == why)
            if names:
                reasons.append(f"attachment(s) {why}, listed in a private note, not uploaded: "
                               f"{names}")
        authorless = [c.id for c in item.record.comments[1:] if not c.author_id]
        status = item.record.status
        if status not in R.STATUS_CODES and str(status).lower() not in self.statuses():
            reasons.append(f"status {status!r} does not exist in Freshdesk; created as Open "
                           "(add it in Admin > Ticket Fields > Status to keep it)")
        if authorless:
            reasons.append(f"{len(authorless)} note(s) without a target author were posted by "
                           "the API key's agent (author named in the note header)")
        return RecordOutcome(item.source_id, Outcome.CREATED, target_id,
                             "; ".join(reasons) or None)

    def _create(self, ticket: Ticket, planned: Planned, base: Path) -> str:
        body = R.render_ticket(ticket, fields=self.fields(), tags=self.tags,
                               custom_statuses=self.statuses())
        first = ticket.comments[0].id if ticket.comments else None
        data = self._send(f"{API}/tickets", body, planned.get(first or "", []), base,
                          lambda: self._find_ticket(ticket.id))
        return str(data["id"])

    def _notes(self, target_id: str, comments: list[Comment], planned: Planned, base: Path,
               present: set[str]) -> int:
        added = 0
        for comment in comments:
            if comment.id in present:
                continue
            self._send(f"{API}/tickets/{target_id}/notes", R.render_note(comment),
                       planned.get(comment.id, []), base, lambda cid=comment.id: self._conversation(
                           target_id, lambda b: cid in R.note_markers([b])))
            added += 1
        return added

    def _complete(self, target_id: str, ticket: Ticket, planned: Planned, base: Path,
                  left: list) -> int:
        bodies = [c.get("body_text") or c.get("body") or "" for page, _ in iter_pages(
            self.client, f"{API}/tickets/{target_id}/conversations") for c in page]
        present = R.note_markers(bodies)
        added = self._notes(target_id, ticket.comments[1:], planned, base, present)
        if left and not any(R.is_leftover_note(b) for b in bodies):
            self._leftover(target_id, ticket, left)
        return added

    def _conversation(self, target_id: str, marked: Callable[[str], bool]) -> dict | None:
        """The ticket's first conversation whose text ``marked`` accepts."""
        for page, _ in iter_pages(self.client, f"{API}/tickets/{target_id}/conversations"):
            for c in page:
                if marked(c.get("body_text") or c.get("body") or ""):
                    return c
        return None

    def _leftover(self, target_id: str, ticket: Ticket, left: list) -> None:
        self._create_request(f"{API}/tickets/{target_id}/notes",
                             lambda: self._conversation(target_id, R.is_leftover_note),
                             json=R.render_leftover_note(ticket.id, left))

    def _send(self, path: str, body: dict[str, Any], files: list[Attachment], base: Path,
              find: Callable[[], dict | None]) -> Any:
        if not files:
            return self._create_request(path, find, json=body).json()
        with ExitStack() as stack:  # multipart: no JSON content type, arrays as name[] (§5.1)
            parts = [("attachments[]", (a.file_name, stack.enter_context(
                open(base / a.local_path, "rb")), a.content_type or "application/octet-stream"))
                for a in files]
            data: dict[str, list[str]] = {}
            for key, value in R.form_fields(body):
                data.setdefault(key, []).append(value)
            response = self._create_request(path, find, data=data, files=parts)
            return response.json()
