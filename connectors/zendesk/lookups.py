"""What the target account already has, listed once per run: names and ids for reuse."""

from __future__ import annotations

import threading
from typing import Any, Callable

from connectors.zendesk import render
from connectors.zendesk.paging import iter_all, list_all
from connectors.zendesk.writes import Unknown
from migrator.diskmap import DiskMap
from migrator.errors import ConfigError, RecordError
from migrator.http import HttpClient
from migrator.models import Outcome, TicketField
from migrator.state import RecordOutcome

__all__ = ["Lookups", "list_custom_statuses"]


def list_custom_statuses(client: HttpClient) -> list[dict]:
    """The account's custom ticket statuses as Zendesk lists them (one request, no pagination);
    empty when the account lacks the feature (403/404)."""
    response = client.request("GET", "/api/v2/custom_statuses", ok=(403, 404))
    if response.status_code in (403, 404):
        return []
    return [s for s in (response.json() or {}).get("custom_statuses") or []
            if isinstance(s, dict)]


class Lookups:
    """Lazily listed target records: custom roles, organizations, groups, fields, memberships,
    custom ticket statuses."""

    def __init__(self, client: HttpClient, *, send: Callable[..., Any] | None = None):
        self.client = client
        self.send = send or client.request  # creating requests (see writes.py)
        self.has_custom_roles: bool | None = None
        self._cache: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _get(self, name: str, build) -> dict:
        with self._lock:
            if name not in self._cache:
                self._cache[name] = build()
            return self._cache[name]

    def forget(self, name: str) -> None:
        """Drop a cached listing (``orgs``, ``groups``, ``memberships``, ``fields``)."""
        with self._lock:
            self._cache.pop(name, None)

    def custom_roles(self) -> dict[str, int]:
        """Custom role name (lower case) -> id; empty on plans without custom roles."""
        def build() -> dict[str, int]:
            """List the roles once."""
            try:
                body = self.client.get_json("/api/v2/custom_roles")
            except (ConfigError, RecordError) as exc:  # 403/404: not on this plan (§4.5)
                if isinstance(exc, RecordError) and exc.status != 404:
                    raise
                self.has_custom_roles = False
                return {}
            self.has_custom_roles = True
            return {r["name"].strip().lower(): int(r["id"])
                    for r in body.get("custom_roles") or []}
        return self._get("roles", build)

    def custom_statuses(self) -> dict[str, dict]:
        """Active custom ticket status label (lower case) -> the status as Zendesk lists it.

        Empty when the account lacks the custom ticket statuses feature (403/404). Listed once,
        and only when a ticket's status is not a built-in one.
        """
        return self._get("statuses", lambda: {
            s["agent_label"].strip().lower(): s for s in list_custom_statuses(self.client)
            if s.get("active", True) and (s.get("agent_label") or "").strip()})

    def organizations(self) -> DiskMap:
        """Organization name (lower case) -> id, in a temporary file (an account's
        organisations can be many), read a page at a time."""
        return self._get("orgs", lambda: DiskMap(
            (o["name"].strip().lower(), str(o["id"]))
            for o in iter_all(self.client, "/api/v2/organizations", "organizations")))

    def groups(self) -> dict[str, str]:
        """Group name (lower case) -> id, deleted groups left out."""
        return self._get("groups", lambda: {g["name"].strip().lower(): str(g["id"]) for g in
                                            list_all(self.client, "/api/v2/groups", "groups")
                                            if not g.get("deleted")})

    def memberships(self) -> dict[tuple[str, str], str]:
        """(user id, group id) -> membership id."""
        return self._get("memberships", lambda: {
            (str(m["user_id"]), str(m["group_id"])): str(m["id"])
            for m in list_all(self.client, "/api/v2/group_memberships", "group_memberships")})

    def fields(self) -> dict[str, dict]:
        """Ticket field id (text) and title (lower case) -> the field as Zendesk lists it."""
        def build() -> dict[str, dict]:
            """List the fields once."""
            out: dict[str, dict] = {}
            for f in list_all(self.client, "/api/v2/ticket_fields", "ticket_fields"):
                out[str(f["id"])] = f
                out.setdefault((f.get("title") or "").strip().lower(), f)
            return out
        return self._get("fields", build)

    def field_ids(self) -> dict[str, int]:
        """A ticket's custom field key (target id, title or source key) -> target field id."""
        return {k: int(f["id"]) for k, f in self.fields().items()}

    def tag_fields(self) -> frozenset[int]:
        """Ids of drop-down and multi-select fields (their values are option tags)."""
        return frozenset(int(f["id"]) for f in self.fields().values()
                         if f.get("type") in ("tagger", "multiselect"))

    def ensure_field(self, field: TicketField, source_id: str) -> RecordOutcome:
        """Reuse a field by title (adding missing options) or create it."""
        fields = self.fields()
        found = fields.get(field.key) or fields.get(field.title.strip().lower())
        if found:
            added = self._add_options(found, field)
            fields[field.key] = found
            return RecordOutcome(source_id, Outcome.REUSED, target_id=str(found["id"]),
                                 reason=f"{added} options added" if added else None)
        try:
            created = self.send("POST", "/api/v2/ticket_fields",
                                json=render.render_ticket_field(field)).json()["ticket_field"]
        except RecordError as exc:
            from connectors.zendesk.admin import reason_of
            return RecordOutcome(source_id, Outcome.FAILED, reason=reason_of(exc))
        except Unknown:  # answer lost: a synchronous create shows at once if it happened
            self.forget("fields")
            again = self.fields().get(field.title.strip().lower())
            if again is None:
                return self.ensure_field(field, source_id)
            created = again
        fields = self.fields()
        for key in (field.key, str(created["id"]), field.title.strip().lower()):
            fields[key] = created
        return RecordOutcome(source_id, Outcome.CREATED, target_id=str(created["id"]))

    def _add_options(self, found: dict, field: TicketField) -> int:
        if found.get("type") not in ("tagger", "multiselect") or not field.options:
            return 0
        have = {str(o.get("value")) for o in found.get("custom_field_options") or []}
        added = 0
        for option in field.options:
            if render.tagify(option.value) in have:
                continue
            self.client.post_json(f"/api/v2/ticket_fields/{found['id']}/options",
                                  {"custom_field_option": render.render_field_option(
                                      option.label, option.value)})
            found.setdefault("custom_field_options", []).append(
                {"value": render.tagify(option.value), "name": option.label})
            added += 1
        return added
