"""Canonical records -> Zendesk request bodies. Pure functions: no HTTP, no state.

Every record carries its source id in ``external_id`` (the marker :meth:`reconcile` looks for).
References in the records are already *target* ids (the engine resolved them); Zendesk wants
them as integers. Bodies validate against the official OAS request schemas (tests).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from migrator.models import (
    STATUSES, Agent, Comment, EndUser, Group, Membership, Organization, Ticket, TicketField,
)

__all__ = ["zid", "render_organization", "render_user", "render_group", "render_membership",
           "render_ticket_field", "render_field_option", "render_ticket", "render_comment",
           "ticket_status", "is_builtin_status", "TICKET_TYPES", "FIELD_TYPES"]

TICKET_TYPES = frozenset({"problem", "incident", "question", "task"})
# canonical TicketField.type -> Zendesk type (reference §4.9)
FIELD_TYPES = {"dropdown": "tagger", "multiselect": "multiselect", "text": "text",
               "textarea": "textarea", "checkbox": "checkbox", "date": "date",
               "integer": "integer", "decimal": "decimal", "regexp": "regexp"}
EMPTY_BODY = "(no text)"  # Zendesk rejects a blank comment (422 BlankValue)


def zid(value: Any) -> int | None:
    """A target id as the integer Zendesk expects (``None`` and non-numeric -> ``None``)."""
    if value is None:
        return None
    text = str(value)
    return int(text) if text.isdigit() else None


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    # Never send "id": null and friends (zenpy#578: 400 "must be an integer").
    return {k: v for k, v in data.items() if v is not None and v != [] and v != {}}


def render_organization(org: Organization, source_id: str) -> dict[str, Any]:
    """An organization for ``organizations/create_many``."""
    return _clean({"name": org.name.strip(), "external_id": source_id,
                   "domain_names": list(org.domains) or None, "notes": org.notes,
                   "tags": list(org.tags) or None, "details": org.extra.get("details")})


def render_user(user: Agent | EndUser, source_id: str, *, custom_role_id: int | None = None,
                ) -> dict[str, Any]:
    """An agent or end user for ``users/create_or_update_many`` (matched by external_id)."""
    body: dict[str, Any] = {"name": user.name or (user.email or source_id),
                            "email": user.email or None, "external_id": source_id,
                            "tags": list(user.tags) or None, "skip_verify_email": True}
    if isinstance(user, Agent):
        role = (user.role or "agent").lower()
        body["role"] = "admin" if role == "admin" else "agent"
        if custom_role_id and body["role"] == "agent":
            body["custom_role_id"] = custom_role_id
        body["suspended"] = user.suspended or None
    else:
        body.update(role="end-user", phone=user.phone,
                    organization_id=zid(user.organization_id),
                    suspended=user.blocked or None, verified=True)
    return _clean(body)


def render_group(group: Group) -> dict[str, Any]:
    """A group for ``POST /groups``."""
    return {"group": _clean({"name": group.name.strip(), "description": group.description})}


def render_membership(m: Membership) -> dict[str, Any]:
    """A membership for ``group_memberships/create_many``."""
    body = {"user_id": zid(m.agent_id), "group_id": zid(m.group_id)}
    if m.default:
        body["default"] = True
    return body


def tagify(value: Any) -> str:
    """A value as a Zendesk tag: lower case, no spaces (option values are tags, §4.9)."""
    return re.sub(r"[^\w\-:/.]+", "_", str(value).strip().lower()).strip("_") or "_"


def render_field_option(label: str, value: str) -> dict[str, Any]:
    """A drop-down option; its ``value`` is the tag Zendesk stores on tickets."""
    return {"name": label or str(value), "value": tagify(value)}


def render_ticket_field(field: TicketField) -> dict[str, Any]:
    """A custom ticket field for ``POST /ticket_fields``."""
    ztype = field.extra.get("zendesk_type") or FIELD_TYPES.get(field.type, "text")
    body: dict[str, Any] = {"type": ztype, "title": field.title, "required": field.required,
                            "active": field.active}
    if ztype in ("tagger", "multiselect"):
        body["custom_field_options"] = [render_field_option(o.label, o.value)
                                        for o in field.options]
    if ztype == "regexp":
        body["regexp_for_validation"] = field.extra.get("regexp_for_validation") or ".*"
    return {"ticket_field": body}


def render_comment(c: Comment, *, author_id: int, uploads: Iterable[str] = ()
                   ) -> dict[str, Any]:
    """A comment inside a Ticket Import: author, original time, public flag, uploads."""
    body: dict[str, Any] = {"author_id": author_id, "public": bool(c.public)}
    if c.html_body:
        body["html_body"] = c.html_body
    else:
        body["body"] = c.body if c.body and c.body.strip() else EMPTY_BODY
    if c.created_at:
        body["created_at"] = c.created_at
    tokens = list(uploads)
    if tokens:
        body["uploads"] = tokens
    return body


def render_ticket(t: Ticket, source_id: str, *, placeholder_id: int | None,
                  field_ids: dict[str, int], uploads: dict[str, list[str]],
                  tags: Iterable[str] = (), tag_fields: frozenset[int] = frozenset(),
                  custom_statuses: Mapping[str, dict] | None = None,
                  ) -> tuple[dict[str, Any], list[str]]:
    """A ticket for the Ticket Import API, with every comment inline.

    ``custom_statuses`` (active label, lower case -> the target's custom status) is needed only
    when the status is not a built-in one (:func:`ticket_status`).
    Returns the body and notes on what had to change (placeholder authors, unknown fields).
    """
    notes: list[str] = []
    requester = zid(t.requester_id)
    status, custom_status_id, status_note = ticket_status(t.status, custom_statuses)
    body: dict[str, Any] = {
        "subject": t.subject or "(no subject)", "status": status,
        "custom_status_id": custom_status_id,
        "priority": t.priority if t.priority in ("low", "normal", "high", "urgent") else None,
        "type": (t.type or "").lower() if (t.type or "").lower() in TICKET_TYPES else None,
        "assignee_id": zid(t.assignee_id), "group_id": zid(t.group_id),
        "organization_id": zid(t.organization_id), "external_id": source_id,
        "tags": sorted(set(t.tags) | set(tags)) or None,
        "created_at": t.created_at, "updated_at": t.updated_at,
        # Zendesk keeps solved_at only for solved or closed tickets
        "solved_at": t.solved_at if status in ("solved", "closed") else None,
    }
    if requester is not None:
        body["requester_id"] = requester
    elif t.extra.get("requester_email"):
        # Zendesk creates the user inline; concurrent imports may answer 409 (reference §5.3).
        body["requester"] = _clean({"email": t.extra["requester_email"],
                                    "name": t.extra.get("requester_name")})
    elif placeholder_id is not None:
        body["requester_id"] = placeholder_id
        notes.append("requester unknown in the target: placeholder user used")
    if t.type and body["type"] is None:
        notes.append(f"type {t.type!r} is not a Zendesk ticket type: left empty")
    if status_note:
        notes.append(status_note)
    body["custom_fields"], missing = _fields(t.custom_fields, field_ids, tag_fields)
    if missing:
        notes.append("custom fields not in the target, dropped: " + ", ".join(sorted(missing)))
    body["comments"] = []
    for c in sorted(t.comments, key=lambda c: (c.created_at or "", c.id)):
        author = zid(c.author_id)
        if author is None:
            author = placeholder_id
            notes.append(f"comment {c.id}: author has no target user, placeholder agent used")
        body["comments"].append(render_comment(c, author_id=author,
                                               uploads=uploads.get(c.id, ())))
    return _clean(body), notes


def _status(status: str | None) -> str:
    return status if status in STATUSES else "open"


def is_builtin_status(status: str | None) -> bool:
    """True for Zendesk's own statuses: no custom status needs to be looked up."""
    return status in STATUSES


def ticket_status(status: str | None, custom_statuses: Mapping[str, dict] | None
                  ) -> tuple[str, int | None, str | None]:
    """The ``status`` to send, the ``custom_status_id`` (or ``None``) and a note on any loss.

    A status that is not a built-in one is matched to an active custom status of the target by
    its agent label, case-insensitively; Zendesk then wants the status's category as ``status``
    (reference §4.1). Anything else is imported as open, and the note says what the target has.
    """
    if is_builtin_status(status):
        return _status(status), None, None
    if not status:
        return "open", None, "the ticket has no status: imported as open"
    found = (custom_statuses or {}).get(str(status).strip().lower())
    if found and found.get("status_category") in STATUSES and zid(found.get("id")):
        return found["status_category"], zid(found["id"]), None
    labels = sorted({s.get("agent_label") or k for k, s in (custom_statuses or {}).items()})
    has = (f"the target's custom statuses are: {', '.join(labels)}" if labels
           else "the target has no custom statuses")
    return "open", None, (f"status {status!r} is not a Zendesk status nor a custom status of the "
                          f"target ({has}): imported as open")


def _fields(values: dict[str, Any], field_ids: dict[str, int], tag_fields: frozenset[int]
            ) -> tuple[list[dict[str, Any]], set[str]]:
    out, missing = [], set()
    for key, value in values.items():
        fid = field_ids.get(str(key)) or field_ids.get(str(key).strip().lower())
        if fid is None:
            missing.add(str(key))
        elif value is not None and value != []:
            if fid in tag_fields:  # drop-downs and multi-selects hold option tags
                value = [tagify(v) for v in value] if isinstance(value, list) else tagify(value)
            out.append({"id": fid, "value": value})
    return out, missing
