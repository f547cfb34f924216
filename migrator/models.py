"""The canonical, vendor-neutral model that sits between connectors.

Exporters parse vendor JSON into these records; loaders turn them into vendor requests; the
mapping layer and the reports only ever see these. N vendors therefore need 2N adapters.

Conventions (every connector follows them):
- ids are strings (the vendor's id as text); references to other records use the *source* ids.
- timestamps are ISO-8601 UTC strings ending in ``Z`` (see :func:`iso`), or ``None``.
- ``status`` is one of :data:`STATUSES` or a custom status name; ``priority`` is one of
  :data:`PRIORITIES`; vendor codes never leak into the canonical model.
- ``extra`` keeps vendor fields the model has no slot for, so nothing the user had is lost.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

__all__ = [
    "Entity",
    "Outcome",
    "STATUSES",
    "PRIORITIES",
    "Organization",
    "EndUser",
    "Agent",
    "Role",
    "Group",
    "Membership",
    "FieldOption",
    "TicketField",
    "Attachment",
    "Comment",
    "Ticket",
    "SatisfactionRating",
    "TicketEvent",
    "TimeEntry",
    "status_category",
    "Product",
    "RECORD_TYPES",
    "to_dict",
    "from_dict",
    "replace_record",
    "iso",
]

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")


class Entity(str, enum.Enum):
    """Every kind of record the toolkit moves or reads, in dependency order for loading."""

    TICKET_FIELDS = "ticket_fields"
    ROLES = "roles"
    PRODUCTS = "products"
    ORGANIZATIONS = "organizations"
    AGENTS = "agents"
    END_USERS = "end_users"
    GROUPS = "groups"
    MEMBERSHIPS = "memberships"
    TICKETS = "tickets"
    COMMENTS = "comments"
    SATISFACTION_RATINGS = "satisfaction_ratings"
    TICKET_EVENTS = "ticket_events"
    TIME_ENTRIES = "time_entries"

    def __str__(self) -> str:
        return self.value


class Outcome(str, enum.Enum):
    """How one record ended in a run."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REUSED = "reused"
    SKIPPED = "skipped"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


def status_category(ticket: Any) -> str | None:
    """The built-in status a ticket's status stands for: a source's custom status (Zendesk's
    "Waiting on vendor", staged as the status with its category in ``extra``) counts as its
    category wherever open or solved matters (routing of open tickets, the KPI report)."""
    extra = getattr(ticket, "extra", None) or {}
    return extra.get("status_category") or getattr(ticket, "status", None)


def iso(value: Any) -> str | None:
    """Normalise a timestamp (ISO string with any offset, epoch seconds, datetime) to UTC ``Z``."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        dt = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        text = str(value).strip()
        if text.endswith("Z") and len(text) == 20 and text[10] == "T":
            return text  # already canonical: the hot path
        if len(text) == 10:  # YYYY-MM-DD
            text += "T00:00:00+00:00"
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(cls):
    return dataclass(slots=True, kw_only=True)(cls)


@_record
class Organization:
    entity: ClassVar[Entity] = Entity.ORGANIZATIONS
    id: str
    name: str
    domains: list[str] = field(default_factory=list)
    external_id: str | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class EndUser:
    """A customer (Zendesk end-user, Freshdesk contact)."""

    entity: ClassVar[Entity] = Entity.END_USERS
    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    organization_id: str | None = None
    external_id: str | None = None
    active: bool = True
    blocked: bool = False
    deleted: bool = False
    tags: list[str] = field(default_factory=list)
    time_zone: str | None = None
    locale: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class Agent:
    """A member of the support staff in the source (agent or admin)."""

    entity: ClassVar[Entity] = Entity.AGENTS
    id: str
    name: str
    email: str
    role: str = "agent"  # source role name as the vendor spells it: agent, admin, Supervisor...
    role_ids: list[str] = field(default_factory=list)
    custom_role: str | None = None
    group_ids: list[str] = field(default_factory=list)
    active: bool = True
    suspended: bool = False
    ticket_scope: str | None = None  # global | group | restricted
    tags: list[str] = field(default_factory=list)
    time_zone: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    last_login_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class Role:
    entity: ClassVar[Entity] = Entity.ROLES
    id: str
    name: str
    description: str | None = None
    builtin: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class Group:
    entity: ClassVar[Entity] = Entity.GROUPS
    id: str
    name: str
    description: str | None = None
    deleted: bool = False
    escalate_to: str | None = None  # agent id
    unassigned_for: str | None = None  # e.g. "30m", "1h"
    created_at: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class Membership:
    entity: ClassVar[Entity] = Entity.MEMBERSHIPS
    id: str
    agent_id: str
    group_id: str
    default: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class FieldOption:
    value: str
    label: str


@_record
class TicketField:
    """A custom ticket field (system fields such as status are not listed)."""

    entity: ClassVar[Entity] = Entity.TICKET_FIELDS
    id: str
    key: str  # how tickets refer to it in ``Ticket.custom_fields`` (Zendesk id, Freshdesk name)
    title: str
    type: str  # text, textarea, dropdown, multiselect, checkbox, date, integer, decimal, regexp
    options: list[FieldOption] = field(default_factory=list)
    required: bool = False
    active: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class Attachment:
    id: str
    file_name: str
    content_type: str | None = None
    size: int | None = None
    url: str | None = None  # where the source serves it (may expire)
    inline: bool = False
    local_path: str | None = None  # set once downloaded into the staging folder
    sha256: str | None = None


@_record
class Comment:
    entity: ClassVar[Entity] = Entity.COMMENTS
    id: str
    ticket_id: str
    author_id: str | None
    body: str
    html_body: str | None = None
    public: bool = True
    created_at: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    channel: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class Ticket:
    entity: ClassVar[Entity] = Entity.TICKETS
    id: str
    subject: str | None
    status: str = "open"
    priority: str | None = None
    type: str | None = None
    requester_id: str | None = None
    submitter_id: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    organization_id: str | None = None
    product_id: str | None = None
    channel: str | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    solved_at: str | None = None
    closed_at: str | None = None
    first_responded_at: str | None = None
    due_at: str | None = None
    external_id: str | None = None
    deleted: bool = False
    spam: bool = False
    comment_count: int | None = None
    comments: list[Comment] = field(default_factory=list)  # filled when assembled for loading
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class SatisfactionRating:
    entity: ClassVar[Entity] = Entity.SATISFACTION_RATINGS
    id: str
    ticket_id: str
    score: str  # good | bad | neutral | offered | unoffered
    comment: str | None = None
    requester_id: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    created_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@_record
class TicketEvent:
    """One field change on a ticket (status, group, assignee, priority), for the KPI report."""

    entity: ClassVar[Entity] = Entity.TICKET_EVENTS
    id: str
    ticket_id: str
    field: str  # status | group_id | assignee_id | priority
    previous: str | None
    value: str | None
    author_id: str | None = None
    created_at: str | None = None


@_record
class TimeEntry:
    entity: ClassVar[Entity] = Entity.TIME_ENTRIES
    id: str
    ticket_id: str
    agent_id: str | None
    seconds: int
    billable: bool = False
    executed_at: str | None = None
    note: str | None = None


@_record
class Product:
    entity: ClassVar[Entity] = Entity.PRODUCTS
    id: str
    name: str
    description: str | None = None


RECORD_TYPES: dict[Entity, type] = {
    cls.entity: cls
    for cls in (
        Organization, EndUser, Agent, Role, Group, Membership, TicketField, Comment, Ticket,
        SatisfactionRating, TicketEvent, TimeEntry, Product,
    )
}

_NESTED: dict[tuple[type, str], type] = {
    (TicketField, "options"): FieldOption,
    (Comment, "attachments"): Attachment,
    (Ticket, "comments"): Comment,
}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_FIELD_SETS: dict[type, frozenset[str]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """Field names of a record class, computed once: ``dataclasses.fields`` is slow per call."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def to_dict(record: Any) -> dict[str, Any]:
    """A record as plain JSON-ready data (nested records included)."""
    cls = type(record)
    fast = _TO_DICT.get(cls)
    if fast is None:
        fast = _TO_DICT[cls] = _compile_to_dict(cls)
    return fast(record)


def _to_dict_generic(record: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _names(type(record)):
        value = getattr(record, name)
        if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            value = [to_dict(v) for v in value]
        out[name] = value
    return out


_TO_DICT: dict[type, Any] = {}
_REPLACE: dict[type, Any] = {}
_MODEL_CLASSES = frozenset(RECORD_TYPES.values()) | {FieldOption, Attachment}


def _compile_to_dict(cls: type) -> Any:
    """A straight-line ``to_dict`` for a model class (no loop over fields, no isinstance)."""
    if cls not in _MODEL_CLASSES:
        return _to_dict_generic
    parts = []
    for name in _names(cls):
        if (cls, name) in _NESTED:  # lists of records: converted (dicts pass as they are)
            parts.append(f"{name!r}: [x if type(x) is dict else to_dict(x) for x in r.{name}]")
        else:
            parts.append(f"{name!r}: r.{name}")
    ns: dict[str, Any] = {"to_dict": to_dict}
    exec(f"def _f(r):\n    return {{{', '.join(parts)}}}\n", ns)  # noqa: S102 - field names only
    return ns["_f"]


_NESTED_BY_CLASS: dict[type, tuple[tuple[str, type], ...]] = {}


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a record of ``cls`` from :func:`to_dict` output; unknown keys go to ``extra``."""
    names = _FIELD_SETS.get(cls)
    if names is None:
        names = _FIELD_SETS[cls] = frozenset(_names(cls))
        _NESTED_BY_CLASS[cls] = tuple((k, t) for (c, k), t in _NESTED.items() if c is cls)
    if len(data) == len(names) and data.keys() <= names:  # staged by this release: every field
        return _exact(cls)(data)
    if data.keys() <= names:  # some fields left out: their defaults apply
        for key, nested in _NESTED_BY_CLASS[cls]:
            value = data.get(key)
            if value:
                data = {**data, key: [v if isinstance(v, nested) else from_dict(nested, v)
                                      for v in value]}
        return cls(**data)
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            extra[key] = value
            continue
        nested = _NESTED.get((cls, key))
        if nested is not None and value:
            value = [v if isinstance(v, nested) else from_dict(nested, v) for v in value]
        kwargs[key] = value
    if extra and "extra" in names:
        kwargs["extra"] = {**kwargs.get("extra", {}), **extra}
    return cls(**kwargs)


_EXACT: dict[type, Any] = {}


def _exact(cls: type) -> Any:
    """A straight-line decoder for a dict holding every field of ``cls`` (what
    :func:`to_dict` writes): slots set one by one, no ``__init__`` keyword parsing."""
    fast = _EXACT.get(cls)
    if fast is None:
        lines = []
        for name in _names(cls):
            nested = _NESTED.get((cls, name))
            if nested is not None:
                kind = nested.__name__
                lines.append(f"    v = d[{name!r}]\n    n.{name} = [x if type(x) is {kind} "
                             f"else from_dict({kind}, x) for x in v] if v else v\n")
            else:
                lines.append(f"    n.{name} = d[{name!r}]\n")
        ns: dict[str, Any] = {"new": object.__new__, "cls": cls, "from_dict": from_dict,
                              **{t.__name__: t for t in set(_NESTED.values())}}
        exec(f"def _f(d):\n    n = new(cls)\n{''.join(lines)}    return n\n", ns)  # noqa: S102
        fast = _EXACT[cls] = ns["_f"]
    return fast


def replace_record(record: Any, **changes: Any) -> Any:
    """A copy of ``record`` with ``changes`` (what ``dataclasses.replace`` does, for records
    only): fields are copied as they are, without running ``__init__`` again, which made
    ``dataclasses.replace`` the largest single cost of the load path (a few per ticket)."""
    cls = type(record)
    fast = _REPLACE.get(cls)
    if fast is None:
        names = _names(cls)
        body = "".join(f"    n.{name} = r.{name}\n" for name in names)
        ns: dict[str, Any] = {"new": object.__new__, "cls": cls}
        exec(f"def _f(r):\n    n = new(cls)\n{body}    return n\n", ns)  # noqa: S102
        fast = _REPLACE[cls] = (ns["_f"], frozenset(names))
    copy, names = fast
    new = copy(record)
    for name, value in changes.items():
        if name not in names:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        setattr(new, name, value)
    return new
