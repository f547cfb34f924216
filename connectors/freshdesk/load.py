"""The Freshdesk :class:`~connectors.base.Target`.

Synchronous: ``submit`` sends every item (tickets several at once, within the budgets) and
returns the outcomes; ``collect`` hands them back. What Freshdesk cannot do is said, not hidden:
roles are read-only (a missing role is a failed record telling the user to create it in the UI),
agents are paid seats (missing ones are skipped unless ``create_agents: true``), dates cannot be
set (they go into fields and note headers, see :mod:`connectors.freshdesk.render`), satisfaction
ratings are not re-created (their score goes into the description header), contacts deleted in
the source end soft-deleted (:mod:`connectors.freshdesk.dormant`), blocked ones active and tagged
(no API blocks a contact; each outcome says so).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Sequence

from migrator.config import EndpointConfig, Options
from migrator.errors import MigratorError, RecordError
from migrator.http import HttpClient
from migrator.models import Entity, Outcome, TicketField
from migrator.state import RecordOutcome

from connectors.base import MIGRATOR_NOTE, CheckItem, LoadItem, Submission, TargetCapabilities
from connectors.freshdesk import parse as P
from connectors.freshdesk import render as R
from connectors.freshdesk.client import API, iter_pages
from connectors.freshdesk.dormant import DormantContacts, ledger_path
from connectors.freshdesk.load_entities import EntityLoader
from connectors.freshdesk.load_tickets import TicketLoader

__all__ = ["FreshdeskTarget", "CAPABILITIES"]

CAPABILITIES = TargetCapabilities(
    sets_timestamps=False, creates_agents=True, writable_roles=False, async_jobs=False,
    max_attachment_bytes=R.MAX_TICKET_BYTES, batch_size=100, time_entries=True,
    group_escalation=True,
    notes=("original dates are kept in cf_original_created/cf_original_resolved and note headers",
           "agents are paid seats: only matched by e-mail unless create_agents is set",
           "roles cannot be created through the API: create tier roles in the UI first",
           "history is imported as notes, never replies, so no customer is e-mailed",
           "satisfaction ratings cannot be imported as history (the API dates a new rating "
           "today): each score is written in its ticket's description header instead",
           "contacts deleted in the source end deleted (soft; restored only while their "
           "tickets are written); blocked ones cannot be blocked through the API: they are "
           "created active, tagged 'blocked-in-source', to block in the UI",
           "inline images become attachments of their ticket or note, marked in the text as "
           "[inline image: name]",
           "time entries keep their date (executed_at) and are marked in their note"),
)


class FreshdeskTarget(EntityLoader):
    """Loads canonical records into one Freshdesk account."""

    name = "freshdesk"
    capabilities = CAPABILITIES

    def __init__(self, cfg: EndpointConfig, client: HttpClient, *, workdir: Path,
                 options: Options, once: HttpClient | None = None):
        account = cfg.base_url or f"https://{cfg.domain}.freshdesk.com"
        super().__init__(client, create_agents=cfg.create_agents, once=once,
                         dormant=DormantContacts(client, ledger_path(workdir), str(account)))
        self.cfg = cfg
        self.workdir = Path(workdir)
        self.options = options
        self._fields: dict[str, str] | None = None
        self._statuses: dict[str, int] | None = None
        self._types: dict[str, str] = {}
        self._fields_lock = threading.Lock()
        self._helpers: list[tuple[str, str]] = []  # (field key, id) made here, not yet reported
        self.tickets = TicketLoader(client, fields=self.field_names, statuses=self.statuses,
                                    types=self.types,
                                    tags=list(options.tags), workdir=self.workdir,
                                    create=self.create, find=self._find_ticket,
                                    awake=self.dormant.awake)

    # -- protocol --------------------------------------------------------------------------
    def check(self) -> list[CheckItem]:
        """Credentials, the roles that exist (tiers map onto them), the plan's limit."""
        try:
            me = self.client.get_json(f"{API}/agents/me")
        except MigratorError as exc:
            return [CheckItem("Freshdesk target credentials", False, exc.message, exc.hint)]
        who = (me.get("contact") or {}).get("email", "the API key's agent")
        items = [CheckItem("Freshdesk target credentials", True, f"signed in as {who}")]
        try:
            names = sorted(r.name for r in self.roles_by_id().values())
            items.append(CheckItem(
                "Freshdesk target roles", True, "existing roles: " + ", ".join(names),
                hint="roles are read-only in the API: create any tier role missing from this "
                     "list in Admin > Agents > Roles before migrating", warning=True))
        except MigratorError as exc:
            items.append(CheckItem("Freshdesk target roles", False, exc.message,
                                   "the API key must belong to an administrator"))
        items.append(CheckItem(
            "Freshdesk target notifications", True, "history is loaded as notes only",
            hint="turn off requester notifications and automations before a bulk load",
            warning=True))
        # What Freshdesk cannot take as it was: said before the run, not discovered after it.
        items.append(CheckItem("Freshdesk target limits", True, "; ".join(CAPABILITIES.notes),
                               warning=True))
        return items

    def existing(self, entity: Entity) -> Iterator[Any]:
        """Records already in the account, canonical with target ids."""
        if entity is Entity.TICKET_FIELDS:
            rows = self._list("ticket_fields")
            yield from (f for f in map(P.parse_ticket_field, rows) if f is not None)
        elif entity is Entity.ROLES:
            yield from (P.parse_role(r) for r in self._list("roles"))
        elif entity is Entity.AGENTS:
            yield from (P.parse_agent(a, self.roles_by_id()) for a in self._list("agents"))
        elif entity is Entity.GROUPS:
            yield from (P.parse_group(g) for g in self._list("groups"))
        elif entity is Entity.ORGANIZATIONS:
            yield from (P.parse_company(c) for c in self._rows("companies"))
        elif entity is Entity.END_USERS:
            yield from (P.parse_contact(c) for c in self._rows("contacts"))

    def submit(self, entity: Entity, items: list[LoadItem]) -> Submission:
        """Send one batch; Freshdesk answers synchronously, so outcomes are ready at once."""
        if entity is Entity.TICKETS:
            self.field_names()  # create the migration fields once, before any ticket
            self.dormant.settle()  # contacts a killed process left restored: deleted again
            # A recovering item may exist partly: find it by its source-id field first.
            known = self.reconcile(entity, [i.source_id for i in items if i.recovering])
            with ThreadPoolExecutor(max_workers=max(1, self.client.max_in_flight)) as pool:
                outcomes = list(pool.map(lambda i: self.tickets.load(i, known.get(i.source_id)),
                                         items))
        elif entity is Entity.TICKET_FIELDS:
            outcomes = [self._field(item) for item in items]
        else:
            outcomes = self.load_items(entity, items)
        return Submission(entity=entity, items=items, outcomes=outcomes)

    def collect(self, submission: Submission) -> list[RecordOutcome]:
        """The outcomes ``submit`` already has."""
        return list(submission.outcomes or [])

    def reconcile(self, entity: Entity, source_ids: Sequence[str]) -> dict[str, str]:
        """Tickets found by ``cf_migration_source_id`` (search API) plus those made here."""
        wanted = [str(s) for s in source_ids]
        if not wanted:
            return {}
        if entity is not Entity.TICKETS:
            return self.created_ids(entity, wanted)
        found = self.tickets.created.pick(wanted)
        missing = [s for s in wanted if s not in found]
        if missing:
            found.update(self._search_tickets(missing))
        missing = [s for s in wanted if s not in found]
        if missing:  # the search index lags minutes behind writes (gotcha 20): scan recent ones
            found.update(self._scan_recent(missing))
        return found

    def clock_offset(self) -> float | None:
        """The account's clock minus ours, in seconds (from its last answer), if known."""
        return self.client.clock_offset

    def fetch(self, entity: Entity, target_id: str) -> Any | None:
        """A ticket with its description and notes as comments (``verify``), or another record."""
        if entity is Entity.TICKETS:
            response = self.client.request("GET", f"{API}/tickets/{target_id}", ok=(404,))
            if response.status_code == 404:
                return None
            data = response.json()
            ticket = P.parse_ticket(data)
            desc = P.parse_description(data)
            convs = [P.parse_conversation(c) for page, _ in iter_pages(
                self.client, f"{API}/tickets/{target_id}/conversations") for c in page]
            for c in convs:  # ours, not the source's: verify does not count it as history
                if R.is_leftover_note(c.html_body or c.body):
                    c.extra[MIGRATOR_NOTE] = "attachments not uploaded"
            ticket.comments = ([desc] if desc else []) + convs
            return ticket
        return self.fetch_other(entity, target_id)

    def delete(self, entity: Entity, target_ids: Sequence[str]) -> list[str]:
        """Delete what a run created; already-absent records count as gone."""
        if entity is Entity.TICKET_FIELDS:
            return [t for t in target_ids if self._gone(f"{API}/admin/ticket_fields/{t}")]
        return self.delete_records(entity, target_ids)

    def stats(self) -> dict[str, dict]:
        return self.client.budgets.stats()

    def close(self) -> None:
        self.client.close()
        if self.writes is not None:
            self.writes.close()
        if self.dormant is not None:
            self.dormant.close()

    # -- ticket fields ---------------------------------------------------------------------
    def field_names(self) -> dict[str, str]:
        """Wanted field key -> the target's real name, creating the migration fields once."""
        with self._fields_lock:
            if self._fields is None:
                rows = self._list("ticket_fields")
                self._fields = _match_fields(rows, {k: v[0] for k, v in R.SYSTEM_FIELDS.items()})
                self._statuses = {label.lower(): code
                                  for code, label in P.status_labels(rows).items()}
                self._types = _type_choices(rows)
                for key, (label, vtype) in R.SYSTEM_FIELDS.items():
                    if key not in self._fields:
                        self._fields[key], fid = self._create_field(label, vtype)
                        self._helpers.append((key, fid))
            return self._fields

    def types(self) -> dict[str, str]:
        """Ticket type (lowercase) -> the target's spelling; empty when unknown."""
        self.field_names()
        return self._types

    def statuses(self) -> dict[str, int]:
        """Status label (lowercase) -> code in the target, for custom statuses."""
        self.field_names()
        return self._statuses or {}

    def _create_field(self, label: str, vtype: str) -> tuple[str, str]:
        data = self.create(f"{API}/admin/ticket_fields", lambda: self._field_row(label), json={
            "label": label, "label_for_customers": label, "type": vtype,
            "customers_can_edit": False, "displayed_to_customers": False}).json()
        # Freshdesk appends its own suffix to the name (§5.4): (real name, field id).
        return str(data["name"]), str(data["id"])

    def helpers(self) -> list[Any]:
        """The migration fields this target created since the last call (``Helper`` records),
        so the engine records them with the run and a rollback deletes them; fields that
        existed before are matched, never reported, never deleted."""
        from connectors.base import Helper  # the engine's optional helpers() contract
        with self._fields_lock:
            made, self._helpers = self._helpers, []
        return [Helper(Entity.TICKET_FIELDS, f"freshdesk-field:{key}", fid) for key, fid in made]

    def _field(self, item: LoadItem) -> RecordOutcome:
        field: TicketField = item.record
        names = self.field_names()
        rows = self._list("ticket_fields")
        match = _match_fields(rows, {field.key: field.title})
        if field.key in match:
            with self._fields_lock:
                names[field.key] = match[field.key]
            fid = next(str(r["id"]) for r in rows if r.get("name") == match[field.key])
            return RecordOutcome(item.source_id, Outcome.REUSED, fid)
        try:
            data = self.create(f"{API}/admin/ticket_fields", lambda: self._field_row(field.title),
                               json=R.render_field(field)).json()
        except RecordError as exc:
            from connectors.freshdesk.load_tickets import record_error_reason
            return RecordOutcome(item.source_id, Outcome.FAILED, None, record_error_reason(exc))
        with self._fields_lock:
            names[field.key] = str(data["name"])
        self.remember(Entity.TICKET_FIELDS, item.source_id, str(data["id"]))
        return RecordOutcome(item.source_id, Outcome.CREATED, str(data["id"]))

    def _field_row(self, label: str) -> dict | None:
        """The custom field a lost ``POST /admin/ticket_fields`` would have made (its label)."""
        return next((r for r in self._list("ticket_fields")
                     if str(r.get("name") or "").startswith("cf_")
                     and str(r.get("label") or "").lower() == label.lower()), None)

    def _find_ticket(self, source_id: str) -> dict | None:
        """The ticket a lost ``POST /tickets`` would have made, by its source-id field."""
        missing = [str(source_id)]
        found = self._search_tickets(missing) or self._scan_recent(missing)
        return {"id": found[str(source_id)]} if found else None

    # -- reconcile -------------------------------------------------------------------------
    def _scan_recent(self, source_ids: list[str]) -> dict[str, str]:
        """Tickets updated in the last hours, newest first, matched by the source-id field."""
        name = self.field_names()[R.SOURCE_ID_FIELD]
        wanted, found = set(source_ids), {}
        params = {"updated_since": _hours_ago(RECENT_HOURS), "order_by": "updated_at",
                  "order_type": "desc"}
        for n, (rows, _) in enumerate(iter_pages(self.client, f"{API}/tickets", params)):
            for row in rows:
                sid = str((row.get("custom_fields") or {}).get(name))
                if sid in wanted:
                    found.setdefault(sid, str(row["id"]))
            if len(found) == len(wanted) or n + 1 >= RECENT_PAGES:
                break
        return found

    def _search_tickets(self, source_ids: list[str]) -> dict[str, str]:
        """Search is capped at 512 characters per query, 30 per page, 10 pages (§2.5)."""
        name = self.field_names()[R.SOURCE_ID_FIELD]
        found: dict[str, str] = {}
        for query in _queries(name, source_ids):
            for page in range(1, 11):
                data = self.client.get_json(f"{API}/search/tickets",
                                            params={"query": query, "page": page})
                for row in data.get("results", []):
                    sid = str((row.get("custom_fields") or {}).get(name))
                    if sid in source_ids:
                        found.setdefault(sid, str(row["id"]))
                if len(data.get("results", [])) < 30:
                    break
        return found


RECENT_HOURS = 6
RECENT_PAGES = 10


def _hours_ago(hours: int) -> str:
    from datetime import datetime, timedelta, timezone
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _queries(name: str, ids: list[str], limit: int = 500) -> Iterator[str]:
    terms: list[str] = []
    for sid in ids:
        term = f"{name}:'{sid}'"
        if terms and len(" OR ".join([*terms, term])) + 2 > limit:
            yield '"' + " OR ".join(terms) + '"'
            terms = []
        terms.append(term)
    if terms:
        yield '"' + " OR ".join(terms) + '"'


def _type_choices(rows: list[dict]) -> dict[str, str]:
    for row in rows:
        if row.get("name") == "ticket_type" and isinstance(row.get("choices"), list):
            return {str(c).lower(): str(c) for c in row["choices"]}
    return {}


def _match_fields(rows: list[dict], wanted: dict[str, str]) -> dict[str, str]:
    """Key -> real name: same name, the name with Freshdesk's numeric suffix, or same label."""
    out: dict[str, str] = {}
    for key, label in wanted.items():
        for row in rows:
            name = str(row.get("name") or "")
            if not name.startswith("cf_"):
                continue
            suffix = name[len(key):]
            if name == key or (name.startswith(key + "_") and suffix[1:].isdigit()) or (
                    str(row.get("label") or "").lower() == label.lower()):
                out[key] = name
                break
    return out
