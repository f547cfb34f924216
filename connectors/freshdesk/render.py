"""Canonical records -> Freshdesk request bodies. Pure functions: no HTTP, no state.

Freshdesk cannot set ``created_at`` (reference §5.2), so history is carried in text and fields:
the description starts with a header naming the original requester, created and resolved dates;
every later comment becomes a note whose first line names its original author and time and the
source comment id (the marker that recovery counts); ``cf_original_created`` /
``cf_original_resolved`` hold the dates (custom date fields take ``YYYY-MM-DD``).

Inline images travel as attachments of their ticket/note; the body's ``<img>`` becomes the marker
``[inline image: <name>]`` (:mod:`connectors.freshdesk.inline` says why).
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable, Mapping

from migrator.models import (Agent, Comment, EndUser, Group, Organization, Ticket, TicketField,
                             TimeEntry)

from connectors.freshdesk.inline import rewrite_inline

__all__ = [
    "SOURCE_ID_FIELD", "CREATED_FIELD", "RESOLVED_FIELD", "SYSTEM_FIELDS", "MAX_TICKET_BYTES",
    "UNASSIGNED_FOR", "status_code", "priority_code", "source_code", "render_contact",
    "render_company", "render_group", "render_agent", "render_field", "render_ticket",
    "render_note", "ticket_header", "satisfaction_text", "note_header", "note_markers",
    "render_leftover_note", "render_time_entry",
    "form_fields",
]

SOURCE_ID_FIELD = "cf_migration_source_id"
CREATED_FIELD = "cf_original_created"
RESOLVED_FIELD = "cf_original_resolved"
# key -> (label, Freshdesk type): the fields every migrated ticket carries.
SYSTEM_FIELDS = {
    SOURCE_ID_FIELD: ("Migration source id", "custom_text"),
    CREATED_FIELD: ("Original created", "custom_date"),
    RESOLVED_FIELD: ("Original resolved", "custom_date"),
}
MAX_TICKET_BYTES = 20 * 1024 * 1024  # all attachments of a ticket, notes included (§5.1)
UNASSIGNED_FOR = ("30m", "1h", "2h", "4h", "8h", "12h", "1d", "2d", "3d")
STATUS_CODES = {"new": 2, "open": 2, "pending": 3, "hold": 3, "solved": 4, "closed": 5}
PRIORITY_CODES = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
SOURCE_CODES = {"email": 1, "web": 2, "portal": 2, "phone": 3, "voice": 3, "chat": 7,
                "feedback_widget": 9, "web_widget": 9, "outbound_email": 10}
TYPE_NAMES = {"text": "custom_text", "textarea": "custom_paragraph",
              "checkbox": "custom_checkbox", "integer": "custom_number",
              "decimal": "custom_decimal", "date": "custom_date", "dropdown": "custom_dropdown",
              "multiselect": "custom_dropdown", "regexp": "custom_text"}
SCOPE_CODES = {"global": 1, "group": 2, "restricted": 3}
CSAT_SCORES = ("good", "neutral", "bad")
_MARKER = re.compile(r"Migrated comment #([\w.:-]+)")
TIME_MARKER = re.compile(r"Migrated time entry #([\w.:-]+)")


def status_code(status: str | None, custom: Mapping[str, int] | None = None) -> int:
    """Canonical status -> Freshdesk code; a custom label maps through the target's choices."""
    if status in STATUS_CODES:
        return STATUS_CODES[status]
    lowered = {k.lower(): v for k, v in (custom or {}).items()}
    return lowered.get(str(status).lower(), 2)


def priority_code(priority: str | None) -> int:
    """low/normal/high/urgent -> 1..4 (low when unset, Freshdesk's default)."""
    return PRIORITY_CODES.get(priority or "low", 1)


def source_code(channel: str | None) -> int:
    """Canonical channel -> Freshdesk ticket source (portal when unknown)."""
    return SOURCE_CODES.get(channel or "", 2)


def _day(value: str | None) -> str | None:
    return value[:10] if value else None


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, [], {})}


def render_contact(user: EndUser) -> dict[str, Any]:
    """``POST /contacts``: one of email/phone is required, else a unique external id."""
    body = _clean({"name": user.name, "email": user.email, "phone": user.phone,
                   "company_id": _int(user.organization_id), "tags": list(user.tags) or None,
                   "time_zone": None, "unique_external_id": user.external_id})
    if not body.get("email") and not body.get("phone") and not body.get("unique_external_id"):
        body["unique_external_id"] = f"migrated-{user.id}"
    return body


def render_company(org: Organization) -> dict[str, Any]:
    """``POST /companies`` (custom company fields are not assumed to exist in the target)."""
    return _clean({"name": org.name, "domains": list(org.domains) or None,
                   "note": org.notes, "description": org.extra.get("description")})


def render_group(group: Group) -> tuple[dict[str, Any], str | None]:
    """``POST/PUT /groups`` with the escalation path; returns (body, warning)."""
    warning = None
    unassigned = group.unassigned_for
    if unassigned is not None and unassigned not in UNASSIGNED_FOR:
        warning = (f"unassigned_for {unassigned!r} is not one of {', '.join(UNASSIGNED_FOR)}; "
                   "Freshdesk's default (30m) applies")
        unassigned = None
    body = {"name": group.name, "description": group.description,
            "escalate_to": _int(group.escalate_to), "unassigned_for": unassigned}
    return _clean(body), warning


def render_agent(agent: Agent, role_id: int) -> dict[str, Any]:
    """``POST /agents`` / ``PUT /agents/{id}``: role, ticket scope (group ids come later)."""
    return _clean({"email": agent.email, "name": agent.name, "role_ids": [role_id],
                   "ticket_scope": SCOPE_CODES.get(agent.ticket_scope or "global", 1)})


def render_field(field: TicketField, position: int = 1) -> dict[str, Any]:
    """``POST /admin/ticket_fields`` for a field the mapping needs."""
    body: dict[str, Any] = {"label": field.title, "label_for_customers": field.title,
                            "type": TYPE_NAMES.get(field.type, "custom_text"),
                            "customers_can_edit": False, "displayed_to_customers": False,
                            "required_for_agents": False}
    if field.options:
        body["choices"] = [{"value": o.value, "position": i + 1}
                           for i, o in enumerate(field.options)]
    return body


def _person(extra: Mapping[str, Any], prefix: str, fallback: str | None) -> str:
    name, email = extra.get(f"{prefix}_name"), extra.get(f"{prefix}_email")
    if name and email:
        return f"{name} <{email}>"
    return str(name or email or (f"user {fallback}" if fallback else "unknown author"))


def ticket_header(ticket: Ticket) -> str:
    """First line of the description: source id, original requester, created/resolved dates."""
    who = _person(ticket.extra, "requester", ticket.requester_id)
    parts = [f"Migrated ticket #{ticket.id}", f"originally created by {who} on {ticket.created_at}"]
    if ticket.solved_at:
        parts.append(f"resolved on {ticket.solved_at}")
    if ticket.closed_at:
        parts.append(f"closed on {ticket.closed_at}")
    csat = satisfaction_text(ticket.extra.get("satisfaction_rating"))
    if csat:
        parts.append(csat)
    return " — ".join(parts)


def satisfaction_text(rating: Any) -> str | None:
    """``satisfaction: good ("Quick help") on <date>`` for a rated ticket, else None.

    Freshdesk's ``POST /tickets/{id}/satisfaction_ratings`` (reference §4.6) records a rating
    *now*, from the requester: historical scores would land in today's CSAT reports. So the
    original score is kept as text in the ticket's description header instead.
    """
    if not isinstance(rating, Mapping) or rating.get("score") not in CSAT_SCORES:
        return None  # offered or unoffered surveys carry no score
    text = f"satisfaction: {rating['score']}"
    if rating.get("comment"):
        text += f" (\u201c{rating['comment']}\u201d)"
    if rating.get("created_at"):
        text += f" on {rating['created_at']}"
    return text


def note_header(comment: Comment) -> str:
    """First line of a note: the marker with the source comment id, the author and the time."""
    who = _person(comment.extra, "author", comment.author_id)
    kind = "public" if comment.public else "private"
    return f"Migrated comment #{comment.id} — {kind}, originally by {who} on {comment.created_at}"


def note_markers(bodies: Iterable[str]) -> set[str]:
    """Source comment ids already present as notes (recovery adds only the missing ones)."""
    return {m.group(1) for body in bodies for m in _MARKER.finditer(body or "")}


def _html(header: str, comment: Comment | None) -> str:
    body = ""
    if comment is not None:
        body = (rewrite_inline(comment.html_body, comment.attachments)
                or html.escape(comment.body or "").replace("\n", "<br>"))
    return f"<p><em>{html.escape(header)}</em></p>\n{body}"


def render_ticket(ticket: Ticket, *, fields: Mapping[str, str], tags: Iterable[str],
                  custom_statuses: Mapping[str, int] | None = None) -> dict[str, Any]:
    """``POST /tickets`` body; ``fields`` maps wanted field keys to the target's real names."""
    first = ticket.comments[0] if ticket.comments else None
    custom = {fields.get(k, k): v for k, v in ticket.custom_fields.items() if v is not None}
    custom[fields.get(SOURCE_ID_FIELD, SOURCE_ID_FIELD)] = ticket.id
    custom[fields.get(CREATED_FIELD, CREATED_FIELD)] = _day(ticket.created_at)
    custom[fields.get(RESOLVED_FIELD, RESOLVED_FIELD)] = _day(ticket.solved_at or ticket.closed_at)
    body: dict[str, Any] = {
        "subject": ticket.subject or "(no subject)",
        "description": _html(ticket_header(ticket), first),
        "status": status_code(ticket.status, custom_statuses),
        "priority": priority_code(ticket.priority), "source": source_code(ticket.channel),
        "type": ticket.type, "tags": list(dict.fromkeys([*ticket.tags, *tags])),
        "group_id": _int(ticket.group_id), "responder_id": _int(ticket.assignee_id),
        "custom_fields": {k: v for k, v in custom.items() if v is not None},
    }
    if ticket.requester_id:
        body["requester_id"] = _int(ticket.requester_id)
    else:
        body["email"] = ticket.extra.get("requester_email")
        body["name"] = ticket.extra.get("requester_name")
    return _clean(body)


def render_note(comment: Comment) -> dict[str, Any]:
    """``POST /tickets/{id}/notes``: private unless public; never the reply endpoint."""
    body: dict[str, Any] = {"body": _html(note_header(comment), comment),
                            "private": not comment.public,
                            "incoming": comment.extra.get("author_kind") == "end_user"}
    if comment.author_id:
        body["user_id"] = _int(comment.author_id)
    return body


def render_time_entry(entry: TimeEntry) -> dict[str, Any]:
    """``POST /tickets/{id}/time_entries``: ``executed_at`` keeps the original date (§4.6)."""
    minutes = max(0, int(entry.seconds or 0)) // 60
    body: dict[str, Any] = {"time_spent": f"{minutes // 60:02d}:{minutes % 60:02d}",
                            "billable": bool(entry.billable),
                            "note": "\n".join(filter(None, (entry.note,
                                                             f"Migrated time entry #{entry.id}")))}
    if entry.executed_at:
        body["executed_at"] = entry.executed_at
    if entry.agent_id:
        body["agent_id"] = _int(entry.agent_id)
    return body


LEFTOVER = " not migrated"  # after "Attachments of source ticket #N" in the leftover note
LEFTOVER_HEAD = "Attachments of source ticket #"
OVER_LIMIT = f"over the {MAX_TICKET_BYTES // (1024 * 1024)} MB of attachments Freshdesk allows " \
             "per ticket"
NOT_DOWNLOADED = "not downloaded at export (attachments turned off, or the download failed)"


_LEFTOVER_RE = re.compile(re.escape(LEFTOVER_HEAD) + r"[^\s<]+" + re.escape(LEFTOVER) + ":")


def is_leftover_note(body: str) -> bool:
    """Is this the note the loader writes listing the files a ticket could not carry? (Its
    first words, as this release and older ones wrote them: "Attachments of source ticket #N
    not migrated:".)"""
    return bool(_LEFTOVER_RE.search(body or ""))


def render_leftover_note(ticket_id: str, left: list[tuple[str, str, int, str]]
                         ) -> dict[str, Any]:
    """A private note listing attachments that were not uploaded, each with why."""
    items = "".join(f"<li>{html.escape(name)} ({size} bytes, comment #{html.escape(cid)}): "
                    f"{html.escape(why)}</li>" for cid, name, size, why in left)
    text = f"{LEFTOVER_HEAD}{html.escape(ticket_id)}{LEFTOVER}:"
    return {"body": f"<p>{text}</p><ul>{items}</ul>", "private": True}


def form_fields(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A JSON body as multipart form fields: arrays as ``name[]``, ``custom_fields[name]``."""
    out: list[tuple[str, str]] = []
    for key, value in body.items():
        if isinstance(value, list):
            out.extend((f"{key}[]", str(v)) for v in value)
        elif isinstance(value, dict):
            out.extend((f"{key}[{k}]", _form_value(v)) for k, v in value.items())
        else:
            out.append((key, _form_value(value)))
    return out


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int(value: Any) -> Any:
    if value is None:
        return None
    text = str(value)
    return int(text) if text.isdigit() else value
