"""Ticket batches for the Ticket Import API: uploads, bodies, placeholder authors, one-by-one.

Kept apart from :mod:`connectors.zendesk.load` because tickets carry the most rules (§5.3):
attachments are uploaded right before their batch (tokens expire), authors with no target user
become the placeholder agent (reported), recovering items are looked up by external_id first.
A status that is not one of Zendesk's own is sent as the target's custom status of that label
(``custom_status_id`` and its category); the custom statuses are listed once, when first needed.
"""

from __future__ import annotations

import dataclasses
import html
import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from connectors.zendesk import admin, render
from connectors.zendesk.uploads import upload_ticket_attachments
from connectors.zendesk.writes import Unknown
from migrator.errors import RecordError, TransientError
from migrator.models import Entity, Outcome, Ticket
from migrator.state import RecordOutcome

if TYPE_CHECKING:
    from connectors.base import LoadItem
    from connectors.zendesk.load import ZendeskTarget

__all__ = ["prepare_tickets", "import_one", "needs_placeholder", "complete_ticket"]

COLLISION_RETRIES = 5
UPLOAD_WORKERS = 4


def needs_placeholder(ticket: Ticket) -> bool:
    """True when a comment author or the requester has no target user."""
    no_requester = ticket.requester_id is None and not ticket.extra.get("requester_email")
    return no_requester or any(c.author_id is None for c in ticket.comments)


def prepare_tickets(target: "ZendeskTarget", items: list["LoadItem"]
                    ) -> tuple[dict[int, RecordOutcome], dict[int, dict], dict[int, list[str]]]:
    """Outcomes decided now (already imported), bodies to send, and notes per item."""
    pre: dict[int, RecordOutcome] = {}
    bodies: dict[int, dict] = {}
    notes: dict[int, list[str]] = {}
    recovering = [i.source_id for i in items if i.recovering]
    known = admin.reconcile(target.client, "tickets", recovering) if recovering else {}
    field_ids = target.lookups.field_ids()
    tag_fields = target.lookups.tag_fields()

    def prepare(i: int) -> None:
        """Upload one ticket's files and render its body (or complete it when recovering)."""
        item = items[i]
        if item.source_id in known:
            pre[i] = complete_ticket(target, item, known[item.source_id])
            return
        ticket: Ticket = item.record
        placeholder = target.placeholder_id() if needs_placeholder(ticket) else None
        tokens, upload_notes = upload_ticket_attachments(
            target.client, ticket, roots=[item.attachments_dir, target.workdir],
            max_bytes=target.capabilities.max_attachment_bytes)
        statuses = (None if render.is_builtin_status(ticket.status) or not ticket.status
                    else target.lookups.custom_statuses())
        bodies[i], render_notes = render.render_ticket(
            ticket, item.source_id, placeholder_id=placeholder, field_ids=field_ids,
            uploads=tokens, tags=target.options.tags, tag_fields=tag_fields,
            custom_statuses=statuses)
        if upload_notes or render_notes:
            notes[i] = upload_notes + render_notes

    # Uploads are one request per file: a batch's files go up UPLOAD_WORKERS at a time, so a
    # batch is ready sooner (the client's in-flight limit still bounds the whole account).
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS, thread_name_prefix="zd-upload") as pool:
        list(pool.map(prepare, range(len(items))))
    return pre, bodies, notes


def import_one(target: "ZendeskTarget", source_id: str, body: dict[str, Any],
               params: dict | None, notes: list[str] | None) -> RecordOutcome:
    """``POST /imports/tickets`` for one ticket; 409 requester collisions are retried (§5.3)."""
    for attempt in range(COLLISION_RETRIES):
        try:
            created = target.send("POST", "/api/v2/imports/tickets", json={"ticket": body},
                                  params=params).json()
        except Unknown:  # answer lost: a synchronous import shows at once if it happened
            found = admin.reconcile(target.client, Entity.TICKETS, [source_id])
            if source_id in found:
                return RecordOutcome(source_id, Outcome.CREATED, target_id=found[source_id],
                                     reason="; ".join(notes) if notes else None)
            continue
        except RecordError as exc:
            if exc.status == 409 and attempt + 1 < COLLISION_RETRIES:
                target._sleep(0.5 * 2 ** attempt)
                continue
            return RecordOutcome(source_id, Outcome.FAILED, reason=admin.reason_of(exc))
        return RecordOutcome(source_id, Outcome.CREATED, target_id=str(created["ticket"]["id"]),
                             reason="; ".join(notes) if notes else None)
    raise TransientError(f"{target.client.what}: importing ticket {source_id} kept losing its "
                         "answer", hint="run the same command again; it is looked up first")


def complete_ticket(target: "ZendeskTarget", item: "LoadItem", target_id: str) -> RecordOutcome:
    """A ticket an earlier attempt (or run) imported: append the comments it lacks.

    The Import API only creates tickets, so missing comments (a crash between attempts, or new
    comments in a delta) are added with ``PUT /tickets/{id}``; Zendesk dates them now. Closed
    tickets cannot be updated at all (reference §7.4): the loss is reported.
    """
    ticket: Ticket = item.record
    current = admin.fetch(target.client, Entity.TICKETS, target_id)
    if current is None:  # deleted in between: nothing to complete
        return RecordOutcome(item.source_id, Outcome.FAILED, target_id=target_id,
                             reason=f"ticket {target_id} found by external_id is gone")
    missing = _missing_comments(ticket.comments, current.comments)
    if not missing:
        return RecordOutcome(item.source_id, Outcome.UNCHANGED, target_id=target_id)
    if current.status == "closed":
        return RecordOutcome(item.source_id, Outcome.UNCHANGED, target_id=target_id, reason=(
            f"closed in Zendesk: {len(missing)} newer comments cannot be added"))
    partial = dataclasses.replace(ticket, comments=missing)
    tokens, notes = upload_ticket_attachments(
        target.client, partial, roots=[item.attachments_dir, target.workdir],
        max_bytes=target.capabilities.max_attachment_bytes)
    placeholder = target.placeholder_id() if any(c.author_id is None for c in missing) else None
    for c in missing:
        comment = render.render_comment(c, author_id=render.zid(c.author_id) or placeholder,
                                        uploads=tokens.get(c.id, ()))
        comment.pop("created_at", None)  # not settable on an update
        try:
            _append(target, target_id, comment)
        except RecordError as exc:
            return RecordOutcome(item.source_id, Outcome.FAILED, target_id=target_id,
                                 reason=f"appending comment {c.id}: {admin.reason_of(exc)}")
    notes.append(f"{len(missing)} comments appended to the existing ticket (dated now: "
                 "Zendesk cannot backdate comments on an existing ticket)")
    return RecordOutcome(item.source_id, Outcome.UPDATED, target_id=target_id,
                         reason="; ".join(notes))


def _missing_comments(wanted: list, have: list) -> list:
    """Source comments the target ticket lacks, matched by original time or by text.

    Imported comments keep their time; comments appended by an earlier completion are dated
    when they were added, so they are recognised by their public flag and text.
    """
    at = [(c.created_at, c.public) for c in have]
    text = [(c.public, _text_key(c)) for c in have]
    missing = []
    for c in sorted(wanted, key=lambda c: (c.created_at or "", c.id)):
        if (c.created_at, c.public) in at:
            at.remove((c.created_at, c.public))
        elif (c.public, _text_key(c)) in text:
            text.remove((c.public, _text_key(c)))
        else:
            missing.append(c)
    return missing


def _text_key(c: Any) -> str:
    raw = re.sub(r"<[^>]+>", " ", c.html_body) if c.html_body else (c.body or "")
    return re.sub(r"\s+", " ", html.unescape(raw)).strip()[:500]


def _append(target: "ZendeskTarget", target_id: str, comment: dict) -> None:
    """One comment added to a ticket; a lost answer is checked before sending again."""
    probe = _Probe(comment)
    for _ in range(3):
        try:
            target.send("PUT", f"/api/v2/tickets/{target_id}",
                        json={"ticket": {"comment": comment}})
            return
        except Unknown:
            now = admin.fetch(target.client, Entity.TICKETS, target_id)
            if now and any((c.public, _text_key(c)) == (probe.public, _text_key(probe))
                           for c in now.comments):
                return
    raise TransientError(f"{target.client.what}: adding a comment to ticket {target_id} kept "
                         "losing its answer", hint="run the same command again later")


class _Probe:
    """A rendered comment seen as a record, for :func:`_text_key`."""

    def __init__(self, comment: dict):
        self.html_body = comment.get("html_body")
        self.body = comment.get("body")
        self.public = comment.get("public", True)
