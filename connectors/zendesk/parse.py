"""Zendesk JSON -> canonical records. Pure functions: no HTTP, no state.

Field names follow the reference (``zendesk-api.md`` §4) and the real recordings. Anything the
canonical model has no slot for but a user may want back goes to ``extra``.
"""

from __future__ import annotations

from typing import Any, Iterable

from migrator.models import (
    Agent, Attachment, Comment, EndUser, FieldOption, Group, Membership, Organization, Role,
    SatisfactionRating, Ticket, TicketEvent, TicketField, iso,
)

__all__ = [
    "sid", "is_agent", "parse_agent", "parse_end_user", "parse_user", "parse_role",
    "builtin_roles", "parse_group", "parse_membership", "parse_organization",
    "parse_ticket_field", "parse_ticket", "parse_comment", "parse_attachment",
    "parse_satisfaction_rating", "parse_ticket_events", "comments_from_events", "channel_of",
    "SYSTEM_FIELD_TYPES", "TRACKED_FIELDS",
]

# Ticket fields Zendesk lists alongside custom ones (reference §4.9, `removable: false`).
SYSTEM_FIELD_TYPES = frozenset({"subject", "description", "status", "tickettype", "priority",
                                "group", "assignee", "brand", "custom_status", "requester"})
# Field changes kept as TicketEvent, for the KPI report.
TRACKED_FIELDS = frozenset({"status", "group_id", "assignee_id", "priority"})
_FIELD_TYPES = {"tagger": "dropdown", "partialcreditcard": "text", "lookup": "text"}


def sid(value: Any) -> str | None:
    """A vendor id as the canonical string id (``None`` stays ``None``)."""
    return None if value is None or value == "" else str(value)


def _ids(values: Iterable[Any] | None) -> list[str]:
    return [str(v) for v in values or [] if v is not None]


def channel_of(via: dict | None) -> str | None:
    """The channel of a ``via`` object (a string, or an int in some old payloads)."""
    if not via:
        return None
    channel = via.get("channel")
    return None if channel is None else str(channel)


def is_agent(user: dict) -> bool:
    """Agents and admins are staff; everyone else is an end user."""
    return user.get("role") in ("agent", "admin")


def parse_agent(user: dict, *, role_names: dict[str, str] | None = None,
                group_ids: Iterable[str] = ()) -> Agent:
    """A Zendesk agent/admin user; ``role_names`` maps custom role id -> name."""
    custom_role_id = sid(user.get("custom_role_id"))
    custom_role = (role_names or {}).get(custom_role_id) if custom_role_id else None
    restriction = user.get("ticket_restriction")
    return Agent(
        id=str(user["id"]), name=user.get("name") or "", email=user.get("email") or "",
        role=user.get("role") or "agent",
        role_ids=[custom_role_id] if custom_role_id else [],
        custom_role=custom_role, group_ids=list(group_ids),
        active=bool(user.get("active", True)), suspended=bool(user.get("suspended")),
        ticket_scope={None: "global", "groups": "group", "assigned": "restricted",
                      "organization": "restricted", "requested": "restricted"}.get(restriction),
        tags=list(user.get("tags") or []), time_zone=user.get("time_zone"),
        created_at=iso(user.get("created_at")), updated_at=iso(user.get("updated_at")),
        last_login_at=iso(user.get("last_login_at")),
        extra=_pick(user, "role_type", "custom_role_id", "default_group_id", "external_id",
                    "ticket_restriction", "phone", "locale", "organization_id", "alias",
                    "signature", "user_fields"),
    )


def parse_end_user(user: dict) -> EndUser:
    """A Zendesk end user (customer)."""
    return EndUser(
        id=str(user["id"]), name=user.get("name") or "", email=user.get("email"),
        phone=user.get("phone"), organization_id=sid(user.get("organization_id")),
        external_id=user.get("external_id"), active=bool(user.get("active", True)),
        blocked=bool(user.get("suspended")), deleted=user.get("active") is False,
        tags=list(user.get("tags") or []), time_zone=user.get("time_zone"),
        locale=user.get("locale"), custom_fields=dict(user.get("user_fields") or {}),
        created_at=iso(user.get("created_at")), updated_at=iso(user.get("updated_at")),
        extra=_pick(user, "verified", "notes", "details", "alias", "shared", "role"),
    )


def parse_user(user: dict, **kw: Any) -> Agent | EndUser:
    """An agent or an end user, by role."""
    return parse_agent(user, **kw) if is_agent(user) else parse_end_user(user)


def parse_role(role: dict) -> Role:
    """A custom role (Enterprise plans)."""
    return Role(id=str(role["id"]), name=role.get("name") or "",
                description=role.get("description"), builtin=False,
                extra=_pick(role, "role_type", "configuration", "team_member_count"))


def builtin_roles() -> list[Role]:
    """The roles every plan has, used when custom roles are not available."""
    return [Role(id="agent", name="agent", description="Zendesk agent", builtin=True),
            Role(id="admin", name="admin", description="Zendesk administrator", builtin=True)]


def parse_group(group: dict) -> Group:
    """A group, deleted ones included (``deleted`` set)."""
    return Group(id=str(group["id"]), name=group.get("name") or "",
                 description=group.get("description") or None,
                 deleted=bool(group.get("deleted")), created_at=iso(group.get("created_at")),
                 updated_at=iso(group.get("updated_at")),
                 extra=_pick(group, "is_public", "default"))


def parse_membership(m: dict) -> Membership:
    """An agent's membership of a group, with the default flag."""
    return Membership(id=str(m["id"]), agent_id=str(m["user_id"]), group_id=str(m["group_id"]),
                      default=bool(m.get("default")),
                      extra=_pick(m, "created_at", "updated_at"))


def parse_organization(org: dict) -> Organization:
    """An organization."""
    return Organization(
        id=str(org["id"]), name=org.get("name") or "",
        domains=list(org.get("domain_names") or []), external_id=org.get("external_id"),
        notes=org.get("notes") or None, tags=list(org.get("tags") or []),
        custom_fields=dict(org.get("organization_fields") or {}),
        created_at=iso(org.get("created_at")), updated_at=iso(org.get("updated_at")),
        extra=_pick(org, "details", "group_id", "shared_tickets", "shared_comments"),
    )


def parse_ticket_field(field: dict) -> TicketField | None:
    """A custom ticket field (key = its id as text); system fields give ``None``."""
    ftype = field.get("type") or "text"
    if ftype in SYSTEM_FIELD_TYPES or field.get("removable") is False:
        return None
    options = [FieldOption(value=str(o.get("value")), label=o.get("name") or str(o.get("value")))
               for o in field.get("custom_field_options") or []]
    return TicketField(
        id=str(field["id"]), key=str(field["id"]), title=field.get("title") or "",
        type=_FIELD_TYPES.get(ftype, ftype), options=options,
        required=bool(field.get("required")), active=bool(field.get("active", True)),
        extra=_pick(field, "description", "regexp_for_validation", "tag", "position",
                    "required_in_portal", "visible_in_portal", "editable_in_portal") |
        ({"zendesk_type": ftype} if ftype in _FIELD_TYPES else {}),
    )


def parse_ticket(t: dict, *, metrics: dict | None = None,
                 custom_statuses: dict[str, dict] | None = None) -> Ticket:
    """A ticket; ``metrics`` is its ``metric_set`` (solved time) when side-loaded.

    ``custom_statuses`` (id -> ``/custom_statuses`` row): a ticket in a custom status that is
    not one of the five category defaults is staged with the status's agent label as its status
    (what the consultant maps) and the category in ``extra["status_category"]``."""
    status = t.get("status") or "open"
    deleted = status == "deleted"
    custom = (custom_statuses or {}).get(str(t.get("custom_status_id")))
    category = None
    if custom and not custom.get("default") and custom.get("agent_label") and not deleted:
        category, status = status, str(custom["agent_label"])
    fields = t.get("custom_fields") or t.get("fields") or []
    metrics = metrics or {}
    return Ticket(
        id=str(t["id"]), subject=t.get("subject") or t.get("raw_subject"),
        status="closed" if deleted else status, priority=t.get("priority"), type=t.get("type"),
        requester_id=sid(t.get("requester_id")), submitter_id=sid(t.get("submitter_id")),
        assignee_id=sid(t.get("assignee_id")), group_id=sid(t.get("group_id")),
        organization_id=sid(t.get("organization_id")), product_id=sid(t.get("brand_id")),
        channel=channel_of(t.get("via")), tags=list(t.get("tags") or []),
        custom_fields={str(f["id"]): f.get("value") for f in fields
                       if isinstance(f, dict) and "id" in f and f.get("value") is not None},
        created_at=iso(t.get("created_at")), updated_at=iso(t.get("updated_at")),
        solved_at=iso(metrics.get("solved_at") or t.get("solved_at")),
        first_responded_at=iso(metrics.get("first_responded_at")),
        due_at=iso(t.get("due_at")), external_id=t.get("external_id"), deleted=deleted,
        comment_count=t.get("comment_count"),
        extra=_pick(t, "description", "collaborator_ids", "follower_ids", "email_cc_ids",
                    "problem_id", "ticket_form_id", "custom_status_id", "is_public",
                    "generated_timestamp", "recipient", "support_type") |
        _pick(metrics, "reopens", "replies", "assigned_at", "initially_assigned_at",
              "status_updated_at", "latest_comment_added_at", "reply_time_in_minutes",
              "full_resolution_time_in_minutes") | _rating_of(t) |
        ({"status_category": category} if category else {}),
    )


def _rating_of(t: dict) -> dict:
    """The ticket's own CSAT as ``extra["satisfaction_rating"]`` (the shape both sources use),
    so a target that cannot re-create ratings can still keep the score with the ticket."""
    rating = t.get("satisfaction_rating")
    if not isinstance(rating, dict) or rating.get("score") not in ("good", "bad"):
        return {}
    return {"satisfaction_rating": {"id": sid(rating.get("id")), "score": rating["score"],
                                    "comment": rating.get("comment") or None,
                                    "created_at": iso(rating.get("created_at"))}}


def parse_attachment(a: dict, *, inline: bool | None = None) -> Attachment:
    """An attachment; ``url`` is its ``content_url`` (may live on another host)."""
    return Attachment(id=str(a["id"]), file_name=a.get("file_name") or f"attachment-{a['id']}",
                      content_type=a.get("content_type"), size=a.get("size"),
                      url=a.get("content_url") or a.get("mapped_content_url"),
                      inline=bool(a.get("inline")) if inline is None else inline)


def parse_comment(c: dict, ticket_id: str, *, created_at: Any = None) -> Comment:
    """A comment (or a ``Comment`` child event of the events stream)."""
    body = c.get("plain_body") or c.get("body") or ""
    return Comment(
        id=str(c["id"]), ticket_id=str(ticket_id), author_id=_author(c.get("author_id")),
        body=body, html_body=c.get("html_body"), public=bool(c.get("public", True)),
        created_at=iso(c.get("created_at") or created_at),
        attachments=[parse_attachment(a) for a in c.get("attachments") or []
                     if not a.get("deleted")],
        channel=channel_of(c.get("via")),
        extra=_pick(c, "type", "audit_id") | ({"raw_body": c["body"]} if c.get("body")
                                              and c.get("body") != body else {}),
    )


def _author(value: Any) -> str | None:
    # -1 is Zendesk itself (system comments, reference §4.2): no user to map.
    return None if value in (None, -1, "-1") else str(value)


def parse_satisfaction_rating(r: dict) -> SatisfactionRating:
    """A CSAT rating (carried as data; Zendesk cannot re-create them, reference §4.10)."""
    return SatisfactionRating(
        id=str(r["id"]), ticket_id=str(r.get("ticket_id")), score=r.get("score") or "unoffered",
        comment=r.get("comment") or None, requester_id=sid(r.get("requester_id")),
        assignee_id=sid(r.get("assignee_id")), group_id=sid(r.get("group_id")),
        created_at=iso(r.get("created_at")), extra=_pick(r, "reason", "reason_code",
                                                         "updated_at"),
    )


def parse_ticket_events(event: dict) -> list[TicketEvent]:
    """Field changes of one audit or incremental ticket event (status, group, assignee...)."""
    ticket_id = str(event.get("ticket_id"))
    created = iso(event.get("created_at") or event.get("timestamp"))
    author = _author(event.get("updater_id") or event.get("author_id"))
    out = []
    for child in event.get("child_events") or event.get("events") or []:
        name = child.get("field_name")
        if name not in TRACKED_FIELDS or child.get("type", child.get("event_type")) not in (
                "Create", "Change"):
            continue
        out.append(TicketEvent(id=str(child["id"]), ticket_id=ticket_id, field=name,
                               previous=_text(child.get("previous_value")),
                               value=_text(child.get("value", child.get(name))),
                               author_id=author, created_at=created))
    return out


def comments_from_events(event: dict) -> list[Comment]:
    """The comments inside one ``incremental/ticket_events?include=comment_events`` event."""
    ticket_id = event.get("ticket_id")
    created = event.get("created_at") or event.get("timestamp")
    return [parse_comment(c, str(ticket_id), created_at=created)
            for c in event.get("child_events") or event.get("events") or []
            if c.get("event_type", c.get("type")) in ("Comment", "VoiceComment") and "id" in c]


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _pick(data: dict, *keys: str) -> dict[str, Any]:
    return {k: data[k] for k in keys if data.get(k) not in (None, "", [], {})}
