"""Canonical records -> Zendesk Support API v2 JSON, as the real service spells it.

Field lists follow the real recordings (zenpy cassettes: tickets, users, comments, uploads) and
the OAS objects (``TicketObject``, ``UserObject``, ``AttachmentObject``...). URLs are written with
the placeholders ``__BASE__`` (the API origin) and ``__CDN__`` (the attachment host); the response
layer swaps them for the real origins, so the store never needs to know its port.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from migrator.models import (Agent, Attachment, Comment, EndUser, Group, Membership, Organization,
                             Role, SatisfactionRating, Ticket, TicketField)

__all__ = ["BASE", "CDN", "epoch", "render_user", "render_agent", "render_org", "render_group",
           "render_membership", "render_field", "render_system_fields", "render_role",
           "render_ticket", "render_comment", "render_attachment", "render_rating", "html_of",
           "attachment_token", "render_custom_statuses", "VIA_CHANNELS", "CUSTOM_STATUSES"]

BASE, CDN = "__BASE__", "__CDN__"
VIA_CHANNELS = {"email", "web", "chat", "api", "voice", "mobile"}
_LOCALE_IDS = {"en-US": 1, "de": 8, "fr": 16, "es": 2, "en-GB": 1176}
# custom role name -> Zendesk role_type (0 custom agent, 1 light agent) [reference §4.4]
_ROLE_TYPES = {"Light Agent": 1}
# With custom ticket statuses on, every category has a default status (what a ticket gets when
# only ``status`` is set); the account's own statuses come after: (agent label, category, active).
_DEFAULT_STATUSES = (("New", "new"), ("Open", "open"), ("Pending", "pending"),
                     ("On-hold", "hold"), ("Solved", "solved"))
CUSTOM_STATUSES = (("Waiting on vendor", "pending", True),
                   ("Escalated to engineering", "open", True),
                   ("Awaiting parts", "hold", False))


def epoch(value: str | None) -> int:
    """ISO ``...Z`` -> Unix seconds (0 for None)."""
    if not value:
        return 0
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def attachment_token(attachment_id: str) -> str:
    """A stable 25-character token like the real ``/attachments/token/<t>/`` ones."""
    digest = hashlib.sha256(f"att:{attachment_id}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:25]


def _user_common(uid: str, name: str, created: str | None, updated: str | None) -> dict[str, Any]:
    return {"id": int(uid), "url": f"{BASE}/api/v2/users/{uid}.json", "name": name,
            "created_at": created, "updated_at": updated, "shared_phone_number": None,
            "photo": None, "alias": None, "shared": False, "shared_agent": False,
            "two_factor_auth_enabled": False, "signature": None, "details": None, "notes": None,
            "moderator": False, "report_csv": False, "user_fields": {}, "verified": True}


def render_user(u: EndUser) -> dict[str, Any]:
    """An end user (customer)."""
    out = _user_common(u.id, u.name, u.created_at, u.updated_at)
    out.update({"email": u.email, "time_zone": u.time_zone, "iana_time_zone": u.time_zone,
                "phone": u.phone, "locale": u.locale or "en-US",
                "locale_id": _LOCALE_IDS.get(u.locale or "en-US", 1),
                "organization_id": _int(u.organization_id), "role": "end-user",
                "external_id": u.external_id, "tags": list(u.tags),
                "active": u.active and not u.deleted, "last_login_at": None, "role_type": None,
                "custom_role_id": None, "ticket_restriction": "requested",
                "only_private_comments": False, "restricted_agent": True,
                "suspended": u.blocked, "default_group_id": None})
    return out


def render_agent(a: Agent, default_group: str | None = None) -> dict[str, Any]:
    """An agent or admin; tiers are not labelled, only the custom role says something."""
    out = _user_common(a.id, a.name, a.created_at, a.updated_at)
    custom = a.role_ids[0] if a.role_ids else None
    out.update({"email": a.email, "time_zone": a.time_zone, "iana_time_zone": a.time_zone,
                "phone": None, "locale": "en-US", "locale_id": 1, "organization_id": None,
                "role": a.role if a.role in ("admin", "agent") else "agent",
                "external_id": a.extra.get("external_id"), "tags": list(a.tags),
                "active": a.active, "last_login_at": a.last_login_at,
                "role_type": _ROLE_TYPES.get(a.custom_role or "", 0) if custom else None,
                "custom_role_id": _int(custom),
                "ticket_restriction": "groups" if a.ticket_scope == "group" else None,
                "only_private_comments": a.custom_role == "Light Agent",
                "restricted_agent": a.ticket_scope == "group", "suspended": a.suspended,
                "default_group_id": _int(default_group)})
    return out


def render_org(o: Organization) -> dict[str, Any]:
    """An organisation."""
    return {"id": int(o.id), "url": f"{BASE}/api/v2/organizations/{o.id}.json", "name": o.name,
            "shared_tickets": False, "shared_comments": False, "external_id": o.external_id,
            "created_at": o.created_at, "updated_at": o.updated_at,
            "domain_names": list(o.domains), "details": None, "notes": o.notes, "group_id": None,
            "tags": list(o.tags), "organization_fields": dict(o.custom_fields)}


def render_group(g: Group) -> dict[str, Any]:
    """A group (deleted ones keep ``deleted: true``)."""
    return {"id": int(g.id), "url": f"{BASE}/api/v2/groups/{g.id}.json", "name": g.name,
            "description": g.description or "", "default": False, "deleted": g.deleted,
            "is_public": True, "created_at": g.created_at, "updated_at": g.updated_at}


def render_membership(m: Membership, created: str | None) -> dict[str, Any]:
    """A group membership."""
    return {"id": int(m.id), "url": f"{BASE}/api/v2/group_memberships/{m.id}.json",
            "user_id": int(m.agent_id), "group_id": int(m.group_id), "default": m.default,
            "created_at": created, "updated_at": created}


_FIELD_TYPES = {"dropdown": "tagger"}


def _field_base(fid: int, ftype: str, title: str, created: str | None) -> dict[str, Any]:
    return {"url": f"{BASE}/api/v2/ticket_fields/{fid}.json", "id": fid, "type": ftype,
            "title": title, "raw_title": title, "description": "", "raw_description": "",
            "position": 0, "active": True, "required": False, "collapsed_for_agents": False,
            "regexp_for_validation": None, "title_in_portal": title,
            "raw_title_in_portal": title, "visible_in_portal": False,
            "editable_in_portal": False, "required_in_portal": False, "tag": None,
            "created_at": created, "updated_at": created, "removable": True, "key": None,
            "agent_description": None}


def render_field(f: TicketField, position: int, created: str | None) -> dict[str, Any]:
    """A custom ticket field; dropdowns are ``tagger`` with ``custom_field_options``."""
    out = _field_base(int(f.id), _FIELD_TYPES.get(f.type, f.type), f.title, created)
    out.update({"position": position, "active": f.active, "required": f.required})
    if f.type in ("dropdown", "multiselect"):
        out["custom_field_options"] = [
            {"id": int(f.id) * 100 + i, "name": o.label, "raw_name": o.label, "value": o.value,
             "default": False, "url": f"{BASE}/api/v2/ticket_fields/{f.id}/options/"
                                      f"{int(f.id) * 100 + i}.json"}
            for i, o in enumerate(f.options, start=1)]
    return out


def render_system_fields(created: str | None) -> list[dict[str, Any]]:
    """The built-in fields every account lists (``removable: false``); exporters skip them."""
    out = []
    for i, (ftype, title) in enumerate((("subject", "Subject"), ("description", "Description"),
                                         ("status", "Status"), ("priority", "Priority"))):
        field = _field_base(360_000_000_001 + i, ftype, title, created)
        field.update({"removable": False, "position": i, "visible_in_portal": True})
        out.append(field)
    return out


def render_role(r: Role, members: int, created: str | None) -> dict[str, Any]:
    """A custom role (Enterprise plans)."""
    return {"id": int(r.id), "name": r.name, "description": r.description,
            "role_type": _ROLE_TYPES.get(r.name, 0), "team_member_count": members,
            "created_at": created, "updated_at": created,
            "configuration": {"chat_access": True, "ticket_editing": r.name != "Light Agent",
                              "ticket_access": "within-groups" if r.name == "Staff" else "all",
                              "comment_access": "private" if r.name == "Light Agent"
                              else "public", "manage_macros": "all" if r.name == "Team Lead"
                              else "none", "view_access": "readonly"}}


def _custom_status(sid: int, label: str, category: str, created: str | None, *,
                   default: bool = False, active: bool = True) -> dict[str, Any]:
    """A custom ticket status with every field of the OAS ``CustomStatusObject``."""
    what = f"Tickets in {label.lower()}"
    return {"id": sid, "agent_label": label, "raw_agent_label": label, "end_user_label": label,
            "raw_end_user_label": label, "description": what, "raw_description": what,
            "end_user_description": what, "raw_end_user_description": what,
            "status_category": category, "active": active, "default": default,
            "created_at": created, "updated_at": created}


def render_custom_statuses(created: str | None, own: Any = CUSTOM_STATUSES
                           ) -> dict[int, dict[str, Any]]:
    """The defaults of the five categories, then the account's own ``(label, category[,
    active])`` statuses; id -> status."""
    rows = [(label, category, True, True) for label, category in _DEFAULT_STATUSES]
    rows += [(row[0], row[1], False, row[2] if len(row) > 2 else True) for row in own]
    out = {}
    for i, (label, category, default, active) in enumerate(rows):
        sid = 18_000_000_001 + i
        out[sid] = _custom_status(sid, label, category, created, default=default, active=active)
    return out


def _via(channel: str | None) -> dict[str, Any]:
    return {"channel": channel if channel in VIA_CHANNELS else "web",
            "source": {"from": {}, "to": {}, "rel": None}}


def render_ticket(t: Ticket, description: str, rating: dict | None,
                  custom_status_id: int | None = None) -> dict[str, Any]:
    """A ticket as the ticket endpoints and the incremental export return it
    (``custom_status_id`` only on accounts with custom ticket statuses)."""
    fields = [{"id": int(k), "value": v} for k, v in t.custom_fields.items()]
    return {"url": f"{BASE}/api/v2/tickets/{t.id}.json", "id": int(t.id),
            "external_id": t.external_id, "via": _via(t.channel), "created_at": t.created_at,
            "updated_at": t.updated_at, "generated_timestamp": epoch(t.updated_at),
            "type": t.type, "subject": t.subject, "raw_subject": t.subject,
            "description": description, "priority": t.priority, "status": t.status,
            "recipient": None, "requester_id": _int(t.requester_id),
            "submitter_id": _int(t.submitter_id), "assignee_id": _int(t.assignee_id),
            "organization_id": _int(t.organization_id), "group_id": _int(t.group_id),
            "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [],
            "forum_topic_id": None, "problem_id": None, "has_incidents": False,
            "is_public": True, "due_at": t.due_at, "tags": list(t.tags), "custom_fields": fields,
            "satisfaction_rating": rating, "sharing_agreement_ids": [],
            "custom_status_id": custom_status_id,
            "fields": [dict(f) for f in fields], "followup_ids": [], "ticket_form_id": None,
            "brand_id": _int(t.product_id), "allow_channelback": False,
            "allow_attachments": True, "from_messaging_channel": False,
            "support_type": "agent"}


def render_attachment(a: Attachment) -> dict[str, Any]:
    """An attachment; ``content_url`` points at the attachment host (``__CDN__``)."""
    token = attachment_token(a.id)
    content = f"{CDN}/attachments/token/{token}/?name={a.file_name}"
    image = (a.content_type or "").startswith("image/")
    return {"url": f"{BASE}/api/v2/attachments/{a.id}.json", "id": int(a.id),
            "file_name": a.file_name, "content_url": content, "mapped_content_url": content,
            "content_type": a.content_type, "size": a.size, "width": 1 if image else None,
            "height": 1 if image else None, "inline": a.inline, "deleted": False,
            "malware_access_override": False, "malware_scan_result": "malware_not_found",
            "thumbnails": []}


def html_of(text: str) -> str:
    """Zendesk's ``html_body`` for a plain-text body."""
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    paragraphs = "".join(f'<p dir="auto">{p.replace(chr(10), "<br>")}</p>'
                         for p in safe.split("\n\n"))
    return f'<div class="zd-comment" dir="auto">{paragraphs}</div>'


def render_comment(c: Comment, audit_id: int) -> dict[str, Any]:
    """A ticket comment; inline images are referenced from ``html_body`` by their token URL."""
    html = c.html_body or html_of(c.body)
    for a in c.attachments:
        if a.inline:
            html = html.replace(f"cid:{a.id}", render_attachment(a)["content_url"])
    return {"id": int(c.id), "type": "Comment", "author_id": _int(c.author_id) or -1,
            "body": c.body, "html_body": html, "plain_body": c.body, "public": c.public,
            "attachments": [render_attachment(a) for a in c.attachments],
            "audit_id": audit_id, "via": _via(c.channel), "created_at": c.created_at,
            "metadata": {"system": {"client": "BrightNest sandbox"}, "custom": {}}}


def render_rating(r: SatisfactionRating) -> dict[str, Any]:
    """A CSAT rating."""
    return {"url": f"{BASE}/api/v2/satisfaction_ratings/{r.id}.json", "id": int(r.id),
            "assignee_id": _int(r.assignee_id), "group_id": _int(r.group_id),
            "requester_id": _int(r.requester_id), "ticket_id": int(r.ticket_id),
            "score": r.score, "comment": r.comment, "reason": None, "reason_id": None,
            "reason_code": None, "created_at": r.created_at, "updated_at": r.created_at}
