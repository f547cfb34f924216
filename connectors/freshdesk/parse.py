"""Freshdesk JSON -> canonical records. Pure functions: no HTTP, no state.

Every vendor field without a canonical slot is kept in ``extra`` so nothing the user had is
lost. Enums are treated as open (gotcha 13): unknown codes keep a readable placeholder.
"""

from __future__ import annotations

from typing import Any, Mapping

from migrator.models import (
    Agent, Attachment, Comment, EndUser, FieldOption, Group, Membership, Organization,
    Product, Role, SatisfactionRating, Ticket, TicketField, TimeEntry, iso,
)

__all__ = [
    "STATUS", "PRIORITY", "SOURCE", "SCOPE", "parse_agent", "parse_role", "parse_group",
    "parse_memberships", "parse_contact", "parse_company", "parse_ticket_field",
    "parse_product", "parse_ticket", "parse_description", "parse_conversation",
    "parse_attachment", "parse_rating", "parse_time_entry", "status_labels",
    "description_id", "time_spent_seconds",
]

STATUS = {2: "open", 3: "pending", 4: "solved", 5: "closed"}
PRIORITY = {1: "low", 2: "normal", 3: "high", 4: "urgent"}
# Ticket `source` codes (reference §4.1); unknown codes stay opaque as "source_<n>".
SOURCE = {1: "email", 2: "web", 3: "phone", 4: "forum", 5: "twitter", 6: "facebook", 7: "chat",
          8: "mobihelp", 9: "feedback_widget", 10: "outbound_email", 15: "web_chat"}
# Conversation `source` codes (reference §4.2 and recordings/README.md).
CONVERSATION_SOURCE = {0: "reply", 1: "email", 2: "note", 3: "phone", 5: "twitter",
                       6: "feedback", 7: "facebook", 8: "forward", 9: "phone", 10: "mobihelp",
                       11: "ecommerce"}
SCOPE = {1: "global", 2: "group", 3: "restricted"}
FIELD_TYPES = {
    "custom_text": "text", "custom_paragraph": "textarea", "custom_checkbox": "checkbox",
    "custom_number": "integer", "custom_decimal": "decimal", "custom_date": "date",
    "custom_dropdown": "dropdown", "nested_field": "dropdown", "custom_phone_number": "text",
    "custom_url": "text",
}


def _sid(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _rest(data: Mapping[str, Any], used: set[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in used}


def description_id(ticket_id: Any) -> str:
    """The comment id of a ticket's description (conversation ids are numeric, so no clash)."""
    return f"desc-{ticket_id}"


def status_labels(fields: list[Mapping[str, Any]]) -> dict[int, str]:
    """Status code -> agent label, from the `status` ticket field's choices (custom ≥ 6)."""
    for f in fields:
        if f.get("name") == "status" and isinstance(f.get("choices"), Mapping):
            out = {}
            for code, labels in f["choices"].items():
                label = labels[0] if isinstance(labels, list) and labels else labels
                if str(code).isdigit() and label:
                    out[int(code)] = str(label)
            return out
    return {}


def parse_status(code: Any, labels: Mapping[int, str] | None = None) -> str:
    """2-5 -> canonical; a custom status keeps its label (lowercase words, as the model wants)."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        return "open"
    if code in STATUS:
        return STATUS[code]
    label = (labels or {}).get(code)
    return label if label else f"status_{code}"


def parse_agent(data: Mapping[str, Any], roles: Mapping[str, Role] | None = None) -> Agent:
    """An agent from ``GET /agents/{id}`` (the list lacks role_ids and group_ids, §4.3)."""
    contact = data.get("contact") or {}
    role_ids = [str(r) for r in data.get("role_ids") or []]
    role_objs = [roles[r] for r in role_ids if roles and r in roles]
    role_name = role_objs[0].name if role_objs else "agent"
    custom = next((r.name for r in role_objs if not r.builtin), None)
    used = {"id", "contact", "role_ids", "group_ids", "ticket_scope", "created_at", "updated_at"}
    extra = _rest(data, used)
    extra.update({f"contact_{k}": v for k, v in contact.items()
                  if k not in ("name", "email", "active", "time_zone", "last_login_at")})
    if role_objs:
        extra["role_names"] = [r.name for r in role_objs]
    return Agent(
        id=str(data["id"]), name=contact.get("name") or contact.get("email") or str(data["id"]),
        email=contact.get("email") or "", role=role_name, role_ids=role_ids, custom_role=custom,
        group_ids=[str(g) for g in data.get("group_ids") or []],
        active=bool(contact.get("active", True)),
        ticket_scope=SCOPE.get(data.get("ticket_scope"), None),
        time_zone=contact.get("time_zone"), created_at=iso(data.get("created_at")),
        updated_at=iso(data.get("updated_at")), last_login_at=iso(contact.get("last_login_at")),
        extra=extra,
    )


def parse_role(data: Mapping[str, Any]) -> Role:
    """A role; ``default`` marks the built-in ones."""
    return Role(id=str(data["id"]), name=data.get("name") or str(data["id"]),
                description=data.get("description"), builtin=bool(data.get("default")),
                extra=_rest(data, {"id", "name", "description", "default"}))


def parse_group(data: Mapping[str, Any]) -> Group:
    """A group with its escalation settings (``agent_ids`` become memberships)."""
    used = {"id", "name", "description", "escalate_to", "unassigned_for", "created_at",
            "updated_at"}
    return Group(id=str(data["id"]), name=data.get("name") or str(data["id"]),
                 description=data.get("description"), escalate_to=_sid(data.get("escalate_to")),
                 unassigned_for=data.get("unassigned_for"), created_at=iso(data.get("created_at")),
                 updated_at=iso(data.get("updated_at")), extra=_rest(data, used))


def parse_memberships(group: Mapping[str, Any]) -> list[Membership]:
    """One membership per agent id of a group's detail view."""
    gid = str(group["id"])
    return [Membership(id=f"{a}@{gid}", agent_id=str(a), group_id=gid)
            for a in group.get("agent_ids") or []]


def parse_contact(data: Mapping[str, Any], *, state: str | None = None) -> EndUser:
    """A contact; ``state`` is the list filter it came from (blocked/deleted are not flagged)."""
    used = {"id", "name", "email", "phone", "company_id", "unique_external_id", "active",
            "deleted", "blocked", "tags", "time_zone", "language", "custom_fields",
            "created_at", "updated_at"}
    return EndUser(
        id=str(data["id"]), name=data.get("name") or data.get("email") or str(data["id"]),
        email=data.get("email"), phone=_sid(data.get("phone") or data.get("mobile")),
        organization_id=_sid(data.get("company_id")),
        external_id=_sid(data.get("unique_external_id")), active=bool(data.get("active", True)),
        blocked=bool(data.get("blocked")) or state == "blocked",
        deleted=bool(data.get("deleted")) or state == "deleted",
        tags=list(data.get("tags") or []), time_zone=data.get("time_zone"),
        locale=data.get("language"), custom_fields=dict(data.get("custom_fields") or {}),
        created_at=iso(data.get("created_at")), updated_at=iso(data.get("updated_at")),
        extra=_rest(data, used),
    )


def parse_company(data: Mapping[str, Any]) -> Organization:
    """A company (``description`` and account fields stay in ``extra``)."""
    used = {"id", "name", "domains", "note", "custom_fields", "created_at", "updated_at"}
    return Organization(
        id=str(data["id"]), name=data.get("name") or str(data["id"]),
        domains=list(data.get("domains") or []), notes=data.get("note"),
        custom_fields=dict(data.get("custom_fields") or {}),
        created_at=iso(data.get("created_at")), updated_at=iso(data.get("updated_at")),
        extra=_rest(data, used),
    )


def _options(choices: Any) -> list[FieldOption]:
    if isinstance(choices, list):
        out = []
        for c in choices:
            value = c.get("value") if isinstance(c, Mapping) else c
            out.append(FieldOption(value=str(value), label=str(value)))
        return out
    if isinstance(choices, Mapping):  # nested fields: top-level keys are the first level
        return [FieldOption(value=str(k), label=str(k)) for k in choices]
    return []


def parse_ticket_field(data: Mapping[str, Any]) -> TicketField | None:
    """A custom ticket field keyed by its internal ``cf_`` name; system fields give None."""
    if data.get("default") or not str(data.get("name", "")).startswith("cf_"):
        return None
    vtype = str(data.get("type") or "")
    used = {"id", "name", "label", "type", "choices", "required_for_agents"}
    extra = _rest(data, used)
    extra["vendor_type"] = vtype
    return TicketField(
        id=str(data["id"]), key=str(data["name"]), title=data.get("label") or data["name"],
        type=FIELD_TYPES.get(vtype, "text"),  # unknown types map to text (gotcha 19)
        options=_options(data.get("choices")), required=bool(data.get("required_for_agents")),
        extra=extra,
    )


def parse_product(data: Mapping[str, Any]) -> Product:
    """A product (read-only in the API)."""
    return Product(id=str(data["id"]), name=data.get("name") or str(data["id"]),
                   description=data.get("description"))


def parse_attachment(data: Mapping[str, Any]) -> Attachment:
    """An attachment; ``attachment_url`` is a signed URL that expires in minutes (gotcha 5)."""
    size = data.get("size", data.get("file_size"))
    return Attachment(id=str(data["id"]), file_name=data.get("name") or str(data["id"]),
                      content_type=data.get("content_type"),
                      size=int(size) if size is not None else None,
                      url=data.get("attachment_url"))


TICKET_USED = {
    "id", "subject", "status", "priority", "type", "requester_id", "responder_id", "group_id",
    "company_id", "product_id", "source", "tags", "custom_fields", "created_at", "updated_at",
    "due_by", "deleted", "spam", "stats", "description", "description_text", "attachments",
}


def parse_ticket(data: Mapping[str, Any], status_names: Mapping[int, str] | None = None) -> Ticket:
    """A ticket from the list (with ``include=description,stats``) or the view."""
    stats = data.get("stats") or {}
    extra = _rest(data, TICKET_USED)
    extra["source"] = data.get("source")
    extra["status_code"] = data.get("status")
    for key in ("reopened_at", "pending_since", "agent_responded_at", "requester_responded_at",
                "status_updated_at"):
        if stats.get(key):
            extra[key] = stats[key]
    source = data.get("source")
    return Ticket(
        id=str(data["id"]), subject=data.get("subject"),
        status=parse_status(data.get("status"), status_names),
        priority=PRIORITY.get(data.get("priority")), type=data.get("type"),
        requester_id=_sid(data.get("requester_id")), assignee_id=_sid(data.get("responder_id")),
        group_id=_sid(data.get("group_id")), organization_id=_sid(data.get("company_id")),
        product_id=_sid(data.get("product_id")),
        channel=SOURCE.get(source, f"source_{source}") if source is not None else None,
        tags=list(data.get("tags") or []), custom_fields=dict(data.get("custom_fields") or {}),
        created_at=iso(data.get("created_at")), updated_at=iso(data.get("updated_at")),
        solved_at=iso(stats.get("resolved_at")), closed_at=iso(stats.get("closed_at")),
        first_responded_at=iso(stats.get("first_responded_at")), due_at=iso(data.get("due_by")),
        deleted=bool(data.get("deleted")), spam=bool(data.get("spam")), extra=extra,
    )


def parse_description(data: Mapping[str, Any]) -> Comment | None:
    """The ticket's description as its first comment, authored by the requester."""
    if data.get("description") is None and data.get("description_text") is None:
        return None
    html = data.get("description")
    source = data.get("source")
    return Comment(
        id=description_id(data["id"]), ticket_id=str(data["id"]),
        author_id=_sid(data.get("requester_id")), body=data.get("description_text") or "",
        html_body=html, public=True, created_at=iso(data.get("created_at")),
        attachments=[parse_attachment(a) for a in data.get("attachments") or []],
        channel=SOURCE.get(source, f"source_{source}") if source is not None else None,
        extra={"description": True, "incoming": True},
    )


def parse_conversation(data: Mapping[str, Any]) -> Comment:
    """A conversation: ``private`` -> not public; ``incoming`` and ``source`` kept (§4.2)."""
    used = {"id", "ticket_id", "user_id", "body", "body_text", "private", "created_at",
            "attachments"}
    source = data.get("source")
    return Comment(
        id=str(data["id"]), ticket_id=str(data.get("ticket_id")),
        author_id=_sid(data.get("user_id")), body=data.get("body_text") or "",
        html_body=data.get("body"), public=not bool(data.get("private")),
        created_at=iso(data.get("created_at")),
        attachments=[parse_attachment(a) for a in data.get("attachments") or []],
        channel=CONVERSATION_SOURCE.get(source, f"source_{source}") if source is not None else None,
        extra=_rest(data, used),
    )


def _score(value: Any) -> str:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return "offered"
    if n >= 100:  # new surveys: 103..101 happy, 100 neutral, -101..-103 unhappy
        return "good" if n > 100 else "neutral"
    if n <= -100:
        return "bad"
    return {1: "good", 2: "neutral", 3: "bad"}.get(n, "offered")  # classic survey


def parse_rating(data: Mapping[str, Any]) -> SatisfactionRating:
    """A satisfaction rating: the default question's score decides good/neutral/bad."""
    ratings = data.get("ratings") or {}
    value = ratings.get("default_question", next(iter(ratings.values()), None))
    used = {"id", "ticket_id", "feedback", "user_id", "agent_id", "group_id", "created_at"}
    return SatisfactionRating(
        id=str(data["id"]), ticket_id=str(data.get("ticket_id")), score=_score(value),
        comment=data.get("feedback"), requester_id=_sid(data.get("user_id")),
        assignee_id=_sid(data.get("agent_id")), group_id=_sid(data.get("group_id")),
        created_at=iso(data.get("created_at")), extra=_rest(data, used),
    )


def time_spent_seconds(value: Any) -> int:
    """``"hh:mm"`` -> seconds (``"01:30"`` is 5400)."""
    if isinstance(value, (int, float)):
        return int(value)
    try:
        hours, minutes = str(value or "0:0").split(":")[:2]
        return int(hours) * 3600 + int(minutes) * 60
    except ValueError:
        return 0


def parse_time_entry(data: Mapping[str, Any]) -> TimeEntry:
    """A time entry (handling time for the KPI report)."""
    return TimeEntry(id=str(data["id"]), ticket_id=str(data.get("ticket_id")),
                     agent_id=_sid(data.get("agent_id")),
                     seconds=time_spent_seconds(data.get("time_spent")),
                     billable=bool(data.get("billable")),
                     executed_at=iso(data.get("executed_at") or data.get("start_time")),
                     note=data.get("note") or None)
