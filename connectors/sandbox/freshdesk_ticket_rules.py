"""Validation and construction of tickets written through the API (reference §5.1, §5.2, §5.5).

Every problem found in one request is reported together, as Freshdesk does, in the documented
body: ``{"description": "Validation failed", "errors": [{"field", "message", "code"}]}``.
"""

from __future__ import annotations

from typing import Any

from . import freshdesk_api as A
from .freshdesk_render import text_of

__all__ = ["CREATE_FIELDS", "UPDATE_FIELDS", "MAX_ATTACHMENT_BYTES", "check_create",
           "check_update", "check_attachment_budget", "coerce_custom", "resolve_requester",
           "new_ticket", "apply_update"]

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # per ticket, conversations included (gotcha 6)
REQUESTER_KEYS = ("requester_id", "email", "phone", "twitter_id", "facebook_id",
                  "unique_external_id")
# Documented create parameters; created_at/updated_at are not among them (reference §5.2).
CREATE_FIELDS = {"name", *REQUESTER_KEYS, "subject", "type", "status", "priority", "description",
                 "responder_id", "attachments", "cc_emails", "custom_fields", "due_by",
                 "email_config_id", "fr_due_by", "group_id", "parent_id", "product_id", "source",
                 "tags", "company_id", "internal_agent_id", "internal_group_id",
                 "lookup_parameter", "related_ticket_ids"}
UPDATE_FIELDS = CREATE_FIELDS - {"cc_emails", "parent_id", "related_ticket_ids"}
SOURCES = (1, 2, 3, 5, 6, 7, 9, 10)
_INT = "It should be a/an Positive Integer"


def _one_of(values) -> str:
    return "It should be one of these values: '" + ",".join(str(v) for v in values) + "'"


def _fields(store) -> dict[str, dict]:
    return store.field_by_name()


def _check_common(store, data: dict[str, Any], allowed: set[str]) -> list[dict]:
    errs: list[dict] = []
    for key in data:
        if key not in allowed:
            errs.append({"field": key, "message": "Unexpected/invalid field in request",
                         "code": "invalid_field"})
    fields = _fields(store)
    checks = (("status", [int(s) for s in fields["status"]["choices"]]),
              ("priority", [1, 2, 3, 4]), ("source", list(SOURCES)))
    for key, allowed_values in checks:
        if key in data and data[key] not in allowed_values:
            code = "datatype_mismatch" if not isinstance(data[key], int) else "invalid_value"
            errs.append({"field": key, "message": _one_of(allowed_values), "code": code})
    for key, table, what in (("responder_id", store.agents, "agent"),
                             ("group_id", store.groups, "group"),
                             ("product_id", store.products, "product"),
                             ("company_id", store.companies, "company")):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            errs.append({"field": key, "message": _INT, "code": "datatype_mismatch"})
        elif value not in table:
            errs.append({"field": key, "message": f"There is no {what} matching the given "
                                                  f"{key}", "code": "invalid_value"})
    if data.get("type") is not None and data["type"] not in fields["ticket_type"]["choices"]:
        errs.append({"field": "type", "message": _one_of(fields["ticket_type"]["choices"]),
                     "code": "invalid_value"})
    for key in ("tags", "cc_emails"):
        if key in data and not isinstance(data[key], list):
            errs.append({"field": key, "message": "It should be a/an Array",
                         "code": "datatype_mismatch"})
    errs += _check_custom_fields(fields, data.get("custom_fields"))
    return errs


def _check_custom_fields(fields: dict[str, dict], values: Any) -> list[dict]:
    if values is None:
        return []
    if not isinstance(values, dict):
        return [{"field": "custom_fields", "message": "It should be a/an key/value pair",
                 "code": "datatype_mismatch"}]
    errs = []
    for name, value in values.items():
        f = fields.get(name)
        if f is None or f["default"]:
            errs.append({"field": name, "message": "Unexpected/invalid field in request",
                         "code": "invalid_field"})
        elif value is not None and f["type"] == "custom_dropdown" and value not in f["choices"]:
            errs.append({"field": name, "message": _one_of(f["choices"]),
                         "code": "invalid_value"})
        elif value is not None and f["type"] == "custom_number" and not (
                isinstance(value, int) or str(value).lstrip("-").isdigit()):
            errs.append({"field": name, "message": "It should be a/an Integer",
                         "code": "datatype_mismatch"})
        elif value is not None and f["type"] == "custom_date" and (
                len(str(value)) != 10 or str(value)[4] != "-"):
            errs.append({"field": name, "message": "It should be in the 'yyyy-mm-dd' format",
                         "code": "invalid_value"})
    return errs


def coerce_custom(store, data: dict[str, Any]) -> None:
    """Multipart sends custom field values as text: store them as their field type."""
    fields = _fields(store)
    for name, value in (data.get("custom_fields") or {}).items():
        ftype = fields[name]["type"] if name in fields else None
        if not isinstance(value, str):
            continue
        if ftype == "custom_checkbox" and value.lower() in ("true", "false"):
            data["custom_fields"][name] = value.lower() == "true"
        elif ftype == "custom_number" and value.lstrip("-").isdigit():
            data["custom_fields"][name] = int(value)


def check_create(store, data: dict[str, Any]) -> None:
    """Raise a 400 listing every problem of a create request."""
    coerce_custom(store, data)
    errs = _check_common(store, data, CREATE_FIELDS)
    if not any(data.get(k) for k in REQUESTER_KEYS):
        errs.append({"field": "requester_id", "message": "Please fill at least 1 of "
                     "requester_id, phone, email, twitter_id, facebook_id, unique_external_id "
                     "fields", "code": "missing_field"})
    elif data.get("requester_id") is not None and store.user(data["requester_id"]) is None:
        errs.append({"field": "requester_id", "message": "There is no contact matching the "
                     "given requester_id", "code": "invalid_value"})
    for key in ("subject", "description"):  # required_for_agents in the default form
        if not data.get(key):
            errs.append({"field": key, "message": "Mandatory attribute missing",
                         "code": "missing_field"})
    if errs:
        raise A.errors(errs)


def check_update(store, data: dict[str, Any]) -> None:
    """Raise a 400 listing every problem of an update request."""
    coerce_custom(store, data)
    errs = _check_common(store, data, UPDATE_FIELDS)
    if errs:
        raise A.errors(errs)


def check_attachment_budget(new_bytes: int, existing: int) -> None:
    """The 20 MB per ticket limit, counting what the ticket already carries."""
    if new_bytes and new_bytes + existing > MAX_ATTACHMENT_BYTES:
        raise A.invalid("attachments", "The cumulative size of all the attachments of a ticket "
                        "cannot exceed 20 MB", "invalid_value")


def check_user_writable(store, uid: Any, field: str) -> None:
    """A blocked or deleted contact cannot be given new tickets or notes.

    The reference says only that writes *to* such contacts are 405 (gotcha 17); what a ticket or
    note *naming* one gets is not documented. The sandbox takes the strict reading (a 400 on the
    field), so a loader must restore the contact around the write.
    """
    c = store.contacts.get(uid) if isinstance(uid, int) else None
    if c is not None and (c.get("deleted") or uid in store.blocked):
        raise A.invalid(field, "The contact is deleted or blocked: restore it first",
                        "invalid_value")


def resolve_requester(store, data: dict[str, Any]) -> int:
    """The requester's user id; an unknown e-mail creates a contact silently (reference §5.1)."""
    if data.get("requester_id") is not None:
        uid = int(data["requester_id"])
        check_user_writable(store, uid, "requester_id")
        return uid
    if data.get("email"):
        uid = store.contact_by_email(data["email"])
        if uid is not None:
            return uid
        from migrator.models import EndUser
        from .freshdesk_render import render_contact
        uid = store.new_id("users")
        name = data.get("name") or data["email"].split("@")[0]
        now = A.now_iso()
        store.contacts[uid] = render_contact(EndUser(id=str(uid), name=name, email=data["email"],
                                                     created_at=now, updated_at=now), uid, None)
        store.remember(uid)
        return uid
    for key in ("unique_external_id", "phone"):
        uid = store.find_user(key, data[key]) if data.get(key) else None
        if uid is not None:
            return uid
    raise A.invalid("requester_id", "There is no contact matching the given requester "
                    "attributes", "invalid_value")


def _stamp_status(t: dict, now: str) -> None:
    stats = t["stats"]
    stats["status_updated_at"] = now
    if t["status"] == 4:
        stats["resolved_at"] = now
    elif t["status"] == 5:
        stats["closed_at"] = now
        stats["resolved_at"] = stats["resolved_at"] or now
    elif t["status"] == 3:
        stats["pending_since"] = now


def new_ticket(store, tid: int, data: dict[str, Any], requester: int, now: str) -> dict:
    """A ticket record for a validated create request."""
    cf = {f["name"]: None for f in store.ticket_fields.values() if not f["default"]}
    cf.update(data.get("custom_fields") or {})
    description = data.get("description") or ""
    user = store.user(requester) or {}
    t = {"cc_emails": list(data.get("cc_emails") or []), "fwd_emails": [],
         "reply_cc_emails": list(data.get("cc_emails") or []), "ticket_cc_emails": [],
         "fr_escalated": False, "spam": False, "email_config_id": data.get("email_config_id"),
         "group_id": data.get("group_id"), "priority": data.get("priority", 1),
         "requester_id": requester, "responder_id": data.get("responder_id"),
         "source": data.get("source", 2),
         "company_id": data.get("company_id", user.get("company_id")),
         "status": data.get("status", 2), "subject": data.get("subject"),
         "association_type": None, "support_email": None, "to_emails": None,
         "product_id": data.get("product_id"), "id": tid, "type": data.get("type"),
         "due_by": data.get("due_by"), "fr_due_by": data.get("fr_due_by"),
         "is_escalated": False, "description": description,
         "description_text": text_of(description), "custom_fields": cf, "created_at": now,
         "updated_at": now, "tags": list(data.get("tags") or []), "attachments": [],
         "source_additional_info": None, "internal_agent_id": None, "internal_group_id": None,
         "nr_due_by": None, "nr_escalated": False,
         "stats": {"agent_responded_at": None, "requester_responded_at": None,
                   "first_responded_at": None, "status_updated_at": now, "reopened_at": None,
                   "resolved_at": None, "closed_at": None, "pending_since": None}}
    if t["status"] != 2:
        _stamp_status(t, now)
    return t


def apply_update(store, t: dict, data: dict[str, Any], now: str) -> None:
    """Apply a validated update request to a ticket."""
    old_status = t["status"]
    for key, value in data.items():
        if key == "custom_fields":
            t["custom_fields"].update(value)
        elif key == "description":
            t["description"], t["description_text"] = value, text_of(value)
        elif key in REQUESTER_KEYS or key == "name":
            if key in ("requester_id", "email"):
                t["requester_id"] = resolve_requester(store, {key: value})
        elif key != "attachments":
            t[key] = value
    if t["status"] != old_status:
        if old_status in (4, 5) and t["status"] not in (4, 5):
            t["stats"]["reopened_at"] = now
        _stamp_status(t, now)
    t["updated_at"] = now
