"""Canonical records -> Freshdesk API v2 JSON, as the real service shapes it (pure functions).

Shapes follow the recorded bodies in ``../shared/recordings/freshdesk/`` and the reference
(``../shared/reference/freshdesk-api.md`` §4). Ids are integers; references are resolved by the
``ref(kind, canonical_id) -> int | None`` callable the store passes in. Code tables (status,
priority, source, ticket scope) are the documented ones (reference §4.1, §4.3).
"""

from __future__ import annotations

import html
import re
from typing import Any, Callable

from migrator.models import (Agent, Attachment, Comment, EndUser, Group, Organization, Product,
                             SatisfactionRating, Ticket, TicketField, TimeEntry)

__all__ = ["STATUS_CODES", "PRIORITY_CODES", "SOURCE_CODES", "SCOPE_CODES", "STATUS_LABELS",
           "BUILTIN_ROLES", "INLINE_PREFIX", "Ref", "field_name", "text_of", "html_of", "hhmm",
           "render_role", "render_agent", "render_contact", "render_company", "render_group",
           "render_product", "render_ticket_field", "default_ticket_fields", "render_ticket",
           "render_conversation", "render_attachment", "render_rating", "render_time_entry",
           "stats_of"]

Ref = Callable[[str, "str | None"], "int | None"]

# hold has no Freshdesk twin; accounts model it with a custom status (reference §4.1: 6/7).
STATUS_CODES = {"new": 2, "open": 2, "pending": 3, "hold": 7, "solved": 4, "closed": 5}
STATUS_LABELS = {2: ("Open", "Being Processed"), 3: ("Pending", "Awaiting your Reply"),
                 4: ("Resolved", "This ticket has been Resolved"),
                 5: ("Closed", "This ticket has been Closed"),
                 6: ("Waiting on Customer", "Awaiting your Reply"),
                 7: ("Waiting on Third Party", "Being Processed")}
PRIORITY_CODES = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
SOURCE_CODES = {"email": 1, "portal": 2, "web": 2, "api": 2, "phone": 3, "voice": 3, "chat": 7,
                "feedback": 9, "feedback_widget": 9, "outbound_email": 10}
SCOPE_CODES = {"global": 1, "group": 2, "restricted": 3}
RATING_SCORES = {"good": 103, "neutral": 100, "bad": -103}
# name, description, agent_type (1 support, 3 collaborator) — reference §4.4
BUILTIN_ROLES = [("Account Administrator", "Has complete control over the help desk", 1),
                 ("Administrator", "Can configure all features through the Admin tab", 1),
                 ("Supervisor", "Can perform all agent related activities", 1),
                 ("Agent", "Can log, view, reply, update and resolve tickets", 1),
                 ("Ticket Collaborator", "Can view and collaborate on shared tickets", 3)]
ROLE_ALIASES = {"admin": "Administrator", "agent": "Agent", "supervisor": "Supervisor",
                "account_admin": "Account Administrator"}
_TAG = re.compile(r"<[^>]+>")
DEFAULT_EPOCH = "2023-01-02T09:00:00Z"
SUPPORT_EMAIL = "support@sandbox.freshdesk.com"
# Inline image URLs depend on the host a client reached; stored with this prefix, rewritten
# to ``<cdn>/inline/attachment?token=...`` in every response.
INLINE_PREFIX = "sandbox-inline:"


def field_name(title: str, key: str) -> str:
    """The ``cf_`` internal name Freshdesk gives a custom field with this label."""
    if key.startswith("cf_"):
        return key
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") or f"field_{key}"
    return f"cf_{slug}"


def text_of(body_html: str | None) -> str:
    """``body_text`` / ``description_text``: the HTML with tags stripped."""
    return html.unescape(_TAG.sub("", body_html or "")).strip()


def html_of(comment: Comment) -> str:
    """A comment's HTML body (plain text escaped when there is none)."""
    if comment.html_body:
        return comment.html_body
    return "<div>" + html.escape(comment.body or "").replace("\n", "<br>") + "</div>"


def render_role(role_id: int, name: str, description: str | None, default: bool,
                agent_type: int = 1, at: str = DEFAULT_EPOCH) -> dict[str, Any]:
    """A role as ``GET /roles`` shows it."""
    return {"id": role_id, "name": name, "description": description, "default": default,
            "agent_type": agent_type, "created_at": at, "updated_at": at}


def role_names_of(agent: Agent, custom_names: dict[str, str]) -> list[str]:
    """The Freshdesk role names an agent holds: the base role plus any custom role."""
    names = [ROLE_ALIASES.get(agent.role, agent.role)]
    names += [custom_names[r] for r in agent.role_ids if r in custom_names]
    if agent.custom_role and agent.custom_role not in names:
        names.append(agent.custom_role)
    return list(dict.fromkeys(n for n in names if n))


def render_agent(agent: Agent, agent_id: int, role_ids: list[int],
                 group_ids: list[int]) -> dict[str, Any]:
    """An agent as ``GET /agents/{id}`` shows it (the list view drops role/group ids)."""
    at = agent.created_at or DEFAULT_EPOCH
    return {
        "available": agent.active, "occasional": False, "signature": None, "id": agent_id,
        "ticket_scope": SCOPE_CODES.get(agent.ticket_scope or "global", 1),
        "type": "support_agent", "skill_ids": [], "focus_mode": True,
        "role_ids": role_ids, "group_ids": group_ids,
        "created_at": at, "updated_at": agent.updated_at or at, "available_since": None,
        "last_active_at": agent.last_login_at,
        "contact": {"active": agent.active and not agent.suspended, "email": agent.email,
                    "job_title": None, "language": "en", "last_login_at": agent.last_login_at,
                    "mobile": None, "name": agent.name, "phone": None,
                    "time_zone": agent.time_zone, "created_at": at,
                    "updated_at": agent.updated_at or at},
    }


def render_contact(user: EndUser, contact_id: int, company_id: int | None) -> dict[str, Any]:
    """A contact as ``GET /contacts/{id}`` shows it; ``deleted`` only on deleted ones."""
    at = user.created_at or DEFAULT_EPOCH
    body = {
        "active": user.active, "address": None, "company_id": company_id,
        "view_all_tickets": False, "description": None, "email": user.email, "id": contact_id,
        "job_title": None, "language": (user.locale or "en").split("-")[0],
        "mobile": None, "name": user.name, "phone": user.phone, "time_zone": user.time_zone,
        "twitter_id": None, "unique_external_id": user.external_id, "other_emails": [],
        "other_companies": [], "created_at": at, "updated_at": user.updated_at or at,
        "custom_fields": dict(user.custom_fields), "tags": list(user.tags), "avatar": None,
    }
    if user.deleted:
        body["deleted"] = True
    return body


def render_company(org: Organization, company_id: int) -> dict[str, Any]:
    """A company as ``GET /companies/{id}`` shows it."""
    at = org.created_at or DEFAULT_EPOCH
    return {"id": company_id, "name": org.name, "description": None,
            "domains": list(org.domains), "note": org.notes,
            "custom_fields": dict(org.custom_fields), "created_at": at,
            "updated_at": org.updated_at or at, "health_score": None, "account_tier": None,
            "renewal_date": None, "industry": None}


def render_group(group: Group, group_id: int, agent_ids: list[int],
                 escalate_to: int | None) -> dict[str, Any]:
    """A group as ``GET /groups/{id}`` shows it (the list view drops ``agent_ids``)."""
    at = group.created_at or DEFAULT_EPOCH
    return {"id": group_id, "name": group.name, "description": group.description,
            "business_hour_id": None, "escalate_to": escalate_to,
            "unassigned_for": group.unassigned_for or "30m", "agent_ids": agent_ids,
            "auto_ticket_assign": 0, "group_type": "support_agent_group",
            "created_at": at, "updated_at": group.updated_at or at}


def render_product(product: Product, product_id: int) -> dict[str, Any]:
    """A product (read-only in the API)."""
    return {"id": product_id, "name": product.name, "description": product.description,
            "created_at": DEFAULT_EPOCH, "updated_at": DEFAULT_EPOCH}


_FIELD_TYPES = {"text": "custom_text", "textarea": "custom_paragraph", "regexp": "custom_text",
                "dropdown": "custom_dropdown", "checkbox": "custom_checkbox",
                "date": "custom_date", "integer": "custom_number", "decimal": "custom_decimal",
                # Freshdesk's classic fields have no multi-select: the values are joined text.
                "multiselect": "custom_text"}


def _field(field_id: int, name: str, label: str, ftype: str, position: int, default: bool,
           required: bool = False, choices: Any = None) -> dict[str, Any]:
    body = {"id": field_id, "name": name, "label": label, "description": None,
            "position": position, "required_for_closure": False,
            "required_for_agents": required, "type": ftype, "default": default,
            "customers_can_edit": True, "label_for_customers": label,
            "required_for_customers": False, "displayed_to_customers": True,
            "created_at": DEFAULT_EPOCH, "updated_at": DEFAULT_EPOCH}
    if choices is not None:
        body["choices"] = choices
    return body


def render_ticket_field(tf: TicketField, field_id: int, name: str, position: int) -> dict:
    """A custom ticket field; dropdown ``choices`` are the option labels."""
    ftype = _FIELD_TYPES.get(tf.type, "custom_text")
    choices = [o.label for o in tf.options] if ftype == "custom_dropdown" else None
    return _field(field_id, name, tf.title, ftype, position, False, tf.required, choices)


def default_ticket_fields(next_id: Callable[[], int]) -> list[dict[str, Any]]:
    """The built-in fields every account has, with their ``choices`` shapes (reference §4.6)."""
    status = {str(code): list(labels) for code, labels in STATUS_LABELS.items()}
    return [
        _field(next_id(), "requester", "Search a requester", "default_requester", 1, True, True),
        _field(next_id(), "subject", "Subject", "default_subject", 2, True, True),
        _field(next_id(), "ticket_type", "Type", "default_ticket_type", 3, True, False,
               ["Question", "Incident", "Problem", "Task"]),
        _field(next_id(), "source", "Source", "default_source", 4, True, False,
               {"Email": 1, "Portal": 2, "Phone": 3, "Chat": 7, "Feedback Widget": 9,
                "Outbound Email": 10}),
        _field(next_id(), "status", "Status", "default_status", 5, True, True, status),
        _field(next_id(), "priority", "Priority", "default_priority", 6, True, True,
               {"Low": 1, "Medium": 2, "High": 3, "Urgent": 4}),
        _field(next_id(), "group", "Group", "default_group", 7, True, False, {}),
        _field(next_id(), "agent", "Agent", "default_agent", 8, True, False, {}),
        _field(next_id(), "product", "Product", "default_product", 9, True, False, {}),
        _field(next_id(), "company", "Company", "default_company", 10, True, False),
        _field(next_id(), "description", "Description", "default_description", 11, True,
               True),
    ]


def render_attachment(att: Attachment, att_id: int, size: int, url: str,
                      at: str) -> dict[str, Any]:
    """Attachment metadata; ``size`` per the docs, ``file_size`` as older bodies record it."""
    return {"id": att_id, "content_type": att.content_type or "application/octet-stream",
            "size": size, "file_size": size, "name": att.file_name, "attachment_url": url,
            "created_at": at, "updated_at": at}


def stats_of(ticket: Ticket) -> dict[str, Any]:
    """The ``include=stats`` embed."""
    return {"agent_responded_at": ticket.first_responded_at,
            "requester_responded_at": None, "first_responded_at": ticket.first_responded_at,
            "status_updated_at": ticket.closed_at or ticket.solved_at or ticket.updated_at,
            "reopened_at": None, "resolved_at": ticket.solved_at or ticket.closed_at,
            "closed_at": ticket.closed_at, "pending_since": None}


def render_ticket(t: Ticket, ticket_id: int, ref: Ref, cf_names: dict[str, str],
                  cf_values: Callable[[str, Any], Any], description: Comment | None,
                  type_name: str | None) -> dict[str, Any]:
    """The full ticket record (list views drop description, attachments and stats)."""
    body = html_of(description) if description else "<div></div>"
    requester = ref("agents", t.requester_id) if t.requester_id else None
    body_json = {
        "cc_emails": [], "fwd_emails": [], "reply_cc_emails": [], "ticket_cc_emails": [],
        "fr_escalated": False, "spam": t.spam, "email_config_id": None,
        "group_id": ref("groups", t.group_id), "priority": PRIORITY_CODES.get(t.priority or "", 1),
        "requester_id": ref("end_users", t.requester_id) or requester,
        "responder_id": ref("agents", t.assignee_id),
        "source": SOURCE_CODES.get(t.channel or "", 2),
        "company_id": ref("organizations", t.organization_id),
        "status": STATUS_CODES.get(t.status, 2), "subject": t.subject or "",
        "association_type": None, "support_email": None, "to_emails": None,
        "product_id": ref("products", t.product_id), "id": ticket_id, "type": type_name,
        "due_by": t.due_at, "fr_due_by": t.due_at, "is_escalated": False,
        "description": body, "description_text": text_of(body),
        "custom_fields": {name: None for name in cf_names.values()},
        "created_at": t.created_at, "updated_at": t.updated_at or t.created_at,
        "tags": list(t.tags), "attachments": [], "source_additional_info": None,
        "internal_agent_id": None, "internal_group_id": None, "nr_due_by": None,
        "nr_escalated": False, "stats": stats_of(t),
    }
    for key, value in t.custom_fields.items():
        if key in cf_names:
            body_json["custom_fields"][cf_names[key]] = cf_values(key, value)
    if t.deleted:
        body_json["deleted"] = True
    return body_json


def render_conversation(c: Comment, conv_id: int, ticket_id: int, user_id: int | None,
                        by_agent: bool, requester_email: str | None) -> dict[str, Any]:
    """A conversation: private notes are source 2, public replies source 0 (reference §4.2)."""
    body = html_of(c)
    note = not c.public
    incoming = not by_agent and not note
    return {
        "body": body, "body_text": text_of(body), "id": conv_id, "incoming": incoming,
        "private": note, "user_id": user_id,
        "support_email": None if note else SUPPORT_EMAIL, "source": 2 if note else 0,
        "category": 2 if note else (1 if incoming else 3), "ticket_id": ticket_id,
        "to_emails": [] if note else [SUPPORT_EMAIL if incoming else requester_email],
        "from_email": None if note else (requester_email if incoming else SUPPORT_EMAIL),
        "cc_emails": None if note else [], "bcc_emails": None,
        "created_at": c.created_at, "updated_at": c.created_at, "last_edited_at": None,
        "last_edited_user_id": None, "attachments": [],
    }


def render_rating(r: SatisfactionRating, rating_id: int, ref: Ref) -> dict[str, Any] | None:
    """A satisfaction rating; offered-but-unanswered surveys have no rating record."""
    if r.score not in RATING_SCORES:
        return None
    return {"id": rating_id, "survey_id": 1_080_000_001,
            "user_id": ref("end_users", r.requester_id) or ref("agents", r.requester_id),
            "agent_id": ref("agents", r.assignee_id), "group_id": ref("groups", r.group_id),
            "ticket_id": ref("tickets", r.ticket_id), "feedback": r.comment,
            "ratings": {"default_question": RATING_SCORES[r.score]},
            "created_at": r.created_at, "updated_at": r.created_at}


def hhmm(seconds: int) -> str:
    """Freshdesk's ``time_spent`` format."""
    minutes = max(0, int(seconds)) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def render_time_entry(e: TimeEntry, entry_id: int, ref: Ref,
                      company_id: int | None) -> dict[str, Any]:
    """A time entry; ``executed_at`` keeps the original date. An agent who left is a contact
    now, but the entry keeps the user id it was logged by."""
    return {"id": entry_id, "agent_id": ref("agents", e.agent_id) or ref("users", e.agent_id),
            "ticket_id": ref("tickets", e.ticket_id), "company_id": company_id,
            "billable": e.billable, "note": "", "time_spent": hhmm(e.seconds),
            "timer_running": False, "start_time": e.executed_at, "executed_at": e.executed_at,
            "created_at": e.executed_at, "updated_at": e.executed_at}
