"""The Zendesk :class:`~connectors.base.Target`: load canonical records into an account.

Per entity (reference ``zendesk-api.md`` §5):
    ticket_fields   reuse by title (missing options added) or ``POST /ticket_fields``
    organizations   reuse by name, else ``organizations/create_many`` (job)
    end_users,      ``users/create_or_update_many`` by 100 (job, matched by external_id or
    agents          e-mail); a 403 (bulk import disabled) falls back to ``users/create_or_update``
                    one by one. An existing user a batch will change is noted first, with what
                    it had, so a rollback puts it back (the account's users are listed once
                    per run into a temporary file and looked up per batch by e-mail)
    groups          reuse by name, else ``POST /groups``
    memberships     reuse existing (user, group) pairs, else ``group_memberships/create_many``
    tickets         attachments uploaded, then ``imports/tickets/create_many`` (job) with every
                    comment inline and the original timestamps; a batch refused as a whole is
                    retried one by one with ``imports/tickets`` to find the bad record
Reconcile, fetch and delete live in :mod:`connectors.zendesk.admin`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from connectors.base import (Change, ChangeLog, CheckItem, Helper, LoadItem, Submission,
                             TargetCapabilities, TeamGroup)
from connectors.zendesk import admin, render
from connectors.zendesk.existing_users import UsersByEmail
from connectors.zendesk.jobs import JobQueue, job_outcomes
from connectors.zendesk.lookups import Lookups
from connectors.zendesk.paging import iter_all
from connectors.zendesk.tickets import import_one, prepare_tickets
from connectors.zendesk.writes import OnceClient, Unknown, wait_for
from migrator.config import Options
from migrator.errors import ConfigError, MigratorError, RecordError, TransientError
from migrator.http import HttpClient
from migrator.models import Agent, Entity, Outcome
from migrator.state import RecordOutcome

__all__ = ["ZendeskTarget", "CAPABILITIES"]

log = logging.getLogger("connectors.zendesk")

MAX_ATTACHMENT = 50 * 1024 * 1024  # commonly cited, not in the stored sources (§5.2)
CAPABILITIES = TargetCapabilities(
    sets_timestamps=True, creates_agents=True, writable_roles=False, async_jobs=True,
    max_attachment_bytes=MAX_ATTACHMENT, batch_size=100, atomic_tickets=True,
    notes=("tickets go through the Ticket Import API: no triggers, no e-mails, no SLA metrics",
           "satisfaction ratings cannot be re-created by an admin (requester only)"))


class ZendeskTarget:
    """Load into one Zendesk account."""

    name = "zendesk"
    capabilities = CAPABILITIES

    def __init__(self, client: HttpClient, *, workdir: Path, options: Options,
                 placeholder_email: str, job_cap: int = 30, poll_interval: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, once: HttpClient | None = None,
                 unknown_wait: float = 120.0):
        self.client = client
        # Creating requests go through a client that never retries blindly (writes.py).
        self.writes = OnceClient(once, sleep=sleep) if once is not None else None
        self.unknown_wait = unknown_wait
        self.workdir = workdir
        self.options = options
        self.placeholder_email = placeholder_email
        self.jobs = JobQueue(client, cap=job_cap, poll_interval=poll_interval, sleep=sleep)
        self.lookups = Lookups(client, send=self.send)
        self.bulk_users = True
        self._placeholder_id: int | None = None
        self._placeholder_lock = threading.Lock()  # tickets of a batch are prepared in parallel
        self._helpers: list[Helper] = []
        self._changes = ChangeLog()  # existing users this target updates
        # every user the account had when the run began (create_or_update matches any user by
        # e-mail): listed at the run's first batch of users, again for each new run
        self._users_before = self._user_snapshot()
        self._sleep = sleep

    # -- protocol --------------------------------------------------------------------------
    def check(self) -> list[CheckItem]:
        """Admin credentials and the custom roles the plan offers."""
        try:
            me = self.client.get_json("/api/v2/users/me").get("user") or {}
        except MigratorError as exc:
            return [CheckItem("zendesk target credentials", False, exc.message, exc.hint)]
        admin_ok = me.get("role") == "admin"
        roles = self.lookups.custom_roles()
        return [
            CheckItem("zendesk target credentials", bool(me.get("id")),
                      f"signed in as {me.get('email') or me.get('name')}"),
            CheckItem("zendesk target admin rights", admin_ok, f"role {me.get('role')}",
                      None if admin_ok else "the Ticket Import API is for admins only"),
            CheckItem("zendesk target roles", True,
                      f"custom roles: {', '.join(sorted(roles)) or 'none defined'}"
                      if self.lookups.has_custom_roles else
                      "no custom roles on this plan: tiers map onto agent/admin",
                      warning=not self.lookups.has_custom_roles),
        ]

    def existing(self, entity: Entity) -> Iterator[Any]:
        """Target records for reuse, with target ids."""
        return admin.existing(self.client, self.lookups, Entity(entity))

    def submit(self, entity: Entity, items: list[LoadItem]) -> Submission:
        """Send one batch (≤100 items)."""
        entity = Entity(entity)
        handler = {
            Entity.ORGANIZATIONS: self._organizations, Entity.END_USERS: self._users,
            Entity.AGENTS: self._users, Entity.GROUPS: self._groups,
            Entity.MEMBERSHIPS: self._memberships, Entity.TICKET_FIELDS: self._ticket_fields,
            Entity.TICKETS: self._tickets,
        }.get(entity)
        if handler is None:
            return Submission(entity, items, outcomes=[RecordOutcome(
                i.source_id, Outcome.SKIPPED, reason=f"Zendesk target does not load {entity}")
                for i in items])
        return handler(entity, items)

    def collect(self, submission: Submission) -> list[RecordOutcome]:
        """Wait for the batch's job and return one outcome per item."""
        if submission.outcomes is not None:
            return submission.outcomes
        data = submission.data
        pre: dict[int, RecordOutcome] = dict(data.get("pre", {}))
        # A submission rebuilt from the state store after a crash has no private data: every
        # item was sent, in order, with its source id as external_id.
        sent: list[int] = data.get("sent", list(range(len(submission.items))))
        keys = data.get("keys") if "sent" in data else [i.source_id for i in submission.items]
        job = self.jobs.wait(submission.job_id) if submission.job_id else {}
        ids = [submission.items[i].source_id for i in sent]
        got = job_outcomes(job, ids, keys=keys) if sent else []
        notes: dict[int, list[str]] = data.get("notes", {})
        bodies: dict[int, dict] = data.get("bodies", {})
        for i, outcome in zip(sent, got):
            if outcome.outcome == Outcome.FAILED and i in bodies and _collision(outcome.reason):
                # A requester collision inside a job (409, §5.3): retried on its own.
                outcome = import_one(self, outcome.source_id, bodies[i], data.get("params"),
                                     notes.get(i))
            elif notes.get(i) and outcome.outcome != Outcome.FAILED:
                outcome = dataclasses.replace(outcome, reason="; ".join(notes[i]))
            pre[i] = outcome
        return [pre[i] for i in range(len(submission.items))]

    def reconcile(self, entity: Entity, source_ids: Sequence[str]) -> dict[str, str]:
        """Source id -> target id of records an earlier attempt created (external_id marker)."""
        return admin.reconcile(self.client, Entity(entity), source_ids)

    def fetch(self, entity: Entity, target_id: str) -> Any | None:
        """One record as the target holds it (tickets with comments)."""
        return admin.fetch(self.client, Entity(entity), target_id)

    def delete(self, entity: Entity, target_ids: Sequence[str]) -> list[str]:
        """Rollback with the bulk destroy endpoints; already-absent ids count as gone."""
        return admin.delete(self.client, self.jobs, Entity(entity), target_ids)

    def clock_offset(self) -> float | None:
        """The account's clock minus ours, in seconds (from its last answer), if known."""
        return self.client.clock_offset

    def team_structure(self) -> dict[str, TeamGroup]:
        """Every group with its members (group memberships), read now."""
        self.lookups.forget("groups")
        self.lookups.forget("memberships")
        members: dict[str, set[str]] = {}
        for user, group in self.lookups.memberships():
            members.setdefault(group, set()).add(user)
        return {str(g.id): TeamGroup(str(g.id), g.name, frozenset(members.get(str(g.id), ())))
                for g in admin.existing(self.client, self.lookups, Entity.GROUPS)}

    def stats(self) -> dict[str, dict]:
        """Requests per budget."""
        return self.client.budgets.stats()

    def close(self) -> None:
        """Close the connection pools (and the temporary file of the account's users)."""
        self._users_before.close()
        self.client.close()
        if self.writes is not None:
            self.writes.close()

    def send(self, method: str, path: str, **kw: Any):
        """A creating request: sent once; :class:`Unknown` when its outcome was lost."""
        if self.writes is None:
            return self.client.request(method, path, **kw)
        return self.writes.request(method, path, **kw)

    # -- entities --------------------------------------------------------------------------
    def _job(self, entity: Entity, items: list[LoadItem], path: str, key: str,
             bodies: dict[int, dict], pre: dict[int, RecordOutcome], *,
             params: dict | None = None, notes: dict[int, list[str]] | None = None,
             keys: list[str | None] | None = None,
             find: Callable[[list[int]], dict[int, str]] | None = None) -> Submission:
        sent = sorted(bodies)
        data = {"pre": pre, "sent": sent, "keys": keys, "notes": notes or {}, "params": params}
        if entity == Entity.TICKETS:
            data["bodies"] = bodies  # kept to retry requester collisions one by one
        if not sent:
            return Submission(entity, items, outcomes=[pre[i] for i in range(len(items))])
        try:
            job_id = self.jobs.submit("POST", path, json={key: [bodies[i] for i in sent]},
                                      params=params, send=self.send if find else None)
        except Unknown as exc:
            return self._settle_unknown(entity, items, sent, pre, notes or {}, find, exc)
        return Submission(entity, items, job_id=job_id, data=data)

    def _settle_unknown(self, entity: Entity, items: list[LoadItem], sent: list[int],
                        pre: dict[int, RecordOutcome], notes: dict[int, list[str]],
                        find: Callable[[list[int]], dict[int, str]], exc: Unknown) -> Submission:
        """The answer to a bulk create was lost: find what its job created before going on."""
        log.warning("zendesk target: %s batch answer lost (%s); looking it up", entity, exc)
        tries = max(1, int(self.unknown_wait / max(self.jobs.poll_interval, 0.01)))
        found = wait_for(lambda: find(sent), len(sent), tries=tries,
                         every=self.jobs.poll_interval, sleep=self._sleep)
        if len(found) < len(sent):
            raise TransientError(
                f"{self.client.what}: the answer to a batch of {entity} was lost and "
                f"{len(sent) - len(found)} of its records are not in Zendesk (yet)",
                hint="run the same command again: the batch is looked up by external_id "
                     "before anything is sent again")
        for i in sent:
            pre[i] = RecordOutcome(items[i].source_id, Outcome.CREATED, target_id=found[i],
                                   reason="; ".join(notes[i]) if notes.get(i) else None)
        return Submission(entity, items, outcomes=[pre[i] for i in range(len(items))])

    def _by_marker(self, entity: Entity, items: list[LoadItem]
                   ) -> Callable[[list[int]], dict[int, str]]:
        def find(idx: list[int]) -> dict[int, str]:
            """Sent items found by the external_id they carry."""
            known = admin.reconcile(self.client, entity, [items[i].source_id for i in idx])
            return {i: known[items[i].source_id] for i in idx if items[i].source_id in known}
        return find

    def _organizations(self, entity: Entity, items: list[LoadItem]) -> Submission:
        pre, bodies = {}, {}
        names = self.lookups.organizations()
        for i, item in enumerate(items):
            found = names.get(item.record.name.strip().lower())
            if found:
                pre[i] = RecordOutcome(item.source_id, Outcome.REUSED, target_id=found,
                                       reason="an organization with this name exists")
            else:
                bodies[i] = render.render_organization(item.record, item.source_id)
        return self._job(entity, items, "/api/v2/organizations/create_many", "organizations",
                         bodies, pre, keys=[items[i].source_id for i in sorted(bodies)],
                         find=self._by_marker(entity, items))

    def _users(self, entity: Entity, items: list[LoadItem]) -> Submission:
        bodies, notes = {}, {}
        for i, item in enumerate(items):
            bodies[i], note = self._user_body(item)
            if note:
                notes[i] = [note]
        self._note_user_changes(entity, bodies)
        if self.bulk_users:
            try:
                return self._job(entity, items, "/api/v2/users/create_or_update_many", "users",
                                 bodies, {}, notes=notes,
                                 keys=[items[i].source_id for i in sorted(bodies)])
            except ConfigError as exc:  # 403: bulk user import disabled on this account (§5.1)
                if "403" not in exc.message:
                    raise
                log.warning("zendesk target: bulk user import disabled; creating users one by one")
                self.bulk_users = False
        outcomes = [self._user_one(item.source_id, bodies[i], notes.get(i))
                    for i, item in enumerate(items)]
        return Submission(entity, items, outcomes=outcomes)

    def _user_body(self, item: LoadItem) -> tuple[dict, str | None]:
        user = item.record
        if not isinstance(user, Agent):
            return render.render_user(user, item.source_id), None
        role = user.custom_role or user.role or "agent"
        if role.lower() in ("agent", "admin"):
            return render.render_user(user, item.source_id), None
        role_id = self.lookups.custom_roles().get(role.lower())
        note = None if role_id else (f"custom role {role!r} does not exist in the target "
                                     "(or the plan has none): created as agent")
        return render.render_user(user, item.source_id, custom_role_id=role_id), note

    def _user_one(self, source_id: str, body: dict, notes: list[str] | None) -> RecordOutcome:
        try:
            response = self.client.request("POST", "/api/v2/users/create_or_update",
                                           json={"user": body})
        except RecordError as exc:
            return RecordOutcome(source_id, Outcome.FAILED, reason=admin.reason_of(exc))
        user = response.json().get("user") or {}
        kind = Outcome.CREATED if response.status_code == 201 else Outcome.UPDATED
        return RecordOutcome(source_id, kind, target_id=str(user.get("id")),
                             reason="; ".join(notes) if notes else None)

    def _groups(self, entity: Entity, items: list[LoadItem]) -> Submission:
        outcomes = []
        for item in items:
            key = item.record.name.strip().lower()
            if key in self.lookups.groups():
                outcomes.append(RecordOutcome(item.source_id, Outcome.REUSED,
                                              target_id=self.lookups.groups()[key]))
                continue
            outcomes.append(self._create_group(item, key))
        return Submission(entity, items, outcomes=outcomes)

    def _create_group(self, item: LoadItem, key: str) -> RecordOutcome:
        for _ in range(3):
            try:
                body = self.send("POST", "/api/v2/groups",
                                 json=render.render_group(item.record)).json()
            except RecordError as exc:
                return RecordOutcome(item.source_id, Outcome.FAILED, reason=admin.reason_of(exc))
            except Unknown:  # processed or not? A synchronous create shows at once if it was.
                self.lookups.forget("groups")
                if key in self.lookups.groups():
                    return RecordOutcome(item.source_id, Outcome.CREATED,
                                         target_id=self.lookups.groups()[key])
                continue
            self.lookups.groups()[key] = str(body["group"]["id"])
            return RecordOutcome(item.source_id, Outcome.CREATED,
                                 target_id=str(body["group"]["id"]))
        raise TransientError(f"{self.client.what}: creating group {item.record.name!r} kept "
                             "losing its answer", hint="run the same command again later")

    def _memberships(self, entity: Entity, items: list[LoadItem]) -> Submission:
        pairs = self.lookups.memberships()
        pre, bodies = {}, {}
        for i, item in enumerate(items):
            body = render.render_membership(item.record)
            found = pairs.get((str(body["user_id"]), str(body["group_id"])))
            if found:
                pre[i] = RecordOutcome(item.source_id, Outcome.REUSED, target_id=found)
            else:
                bodies[i] = body
        def find(idx: list[int]) -> dict[int, str]:
            """Sent memberships found by their (user, group) pair."""
            self.lookups.forget("memberships")
            now = self.lookups.memberships()
            pair = {i: (str(bodies[i]["user_id"]), str(bodies[i]["group_id"])) for i in idx}
            return {i: now[p] for i, p in pair.items() if p in now}
        return self._job(entity, items, "/api/v2/group_memberships/create_many",
                         "group_memberships", bodies, pre, find=find)

    def _ticket_fields(self, entity: Entity, items: list[LoadItem]) -> Submission:
        return Submission(entity, items, outcomes=[
            self.lookups.ensure_field(item.record, item.source_id) for item in items])

    def _tickets(self, entity: Entity, items: list[LoadItem]) -> Submission:
        pre, bodies, notes = prepare_tickets(self, items)
        closed = any(b.get("status") == "closed" for b in bodies.values())
        params = {"archive_immediately": "true"} if self.options.archive_closed and closed else None
        try:
            return self._job(entity, items, "/api/v2/imports/tickets/create_many", "tickets",
                             bodies, pre, params=params, notes=notes,
                             find=self._by_marker(entity, items))
        except RecordError as exc:  # the whole batch refused: import one by one for reasons
            log.info("zendesk target: ticket batch refused (%s); importing one by one",
                     exc.message)
            for i in sorted(bodies):
                pre[i] = import_one(self, items[i].source_id, bodies[i], params, notes.get(i))
            return Submission(entity, items, outcomes=[pre[i] for i in range(len(items))])

    def placeholder_id(self) -> int:
        """The placeholder agent for comment authors with no target user (created once)."""
        with self._placeholder_lock:
            return self._placeholder_once()

    def _placeholder_once(self) -> int:
        if self._placeholder_id is None:
            body = {"name": "Migration placeholder", "email": self.placeholder_email,
                    "role": "agent", "external_id": "migration-placeholder",
                    "skip_verify_email": True}
            path = "/api/v2/users/create_or_update"
            try:
                response = self.client.request("POST", path, json={"user": body})
            except RecordError as exc:  # e.g. no agent seat left: an end user can author too
                log.warning("zendesk target: placeholder agent refused (%s); using an end user",
                            exc.message)
                response = self.client.request("POST", path,
                                               json={"user": {**body, "role": "end-user"}})
            self._placeholder_id = int(response.json()["user"]["id"])
            if response.status_code == 201:  # ours to remove on rollback; 200 = it existed
                self._helpers.append(Helper(Entity.AGENTS, "placeholder-agent",
                                            str(self._placeholder_id)))
        return self._placeholder_id

    def helpers(self) -> list[Helper]:
        """Records this target created for its own needs (the placeholder agent), once each:
        the engine records them with the run so a rollback removes them too."""
        out, self._helpers = self._helpers, []
        return out

    def _user_snapshot(self) -> UsersByEmail:
        return UsersByEmail(lambda: iter_all(self.client, "/api/v2/users", "users"),
                            RESTORED_END_USER_FIELDS)

    def _note_user_changes(self, entity: Entity, bodies: dict[int, dict]) -> None:
        """Users the account had when the run began (matched by e-mail, as ``create_or_update``
        matches them) that this batch will change: what they had, noted before the job, so a
        rollback can put it back. An end user never demotes the account's agent: its role is
        left out of the body."""
        by_email = {str(b.get("email") or "").lower(): b for b in bodies.values()
                    if b.get("email")}
        if not by_email:
            return
        fields = RESTORED_USER_FIELDS if entity is Entity.AGENTS else RESTORED_END_USER_FIELDS
        for email, uid, had in self._users_before.find(by_email):
            body = by_email[email]
            if entity is Entity.END_USERS and had.get("role") in ("agent", "admin"):
                body.pop("role", None)
            before = {k: had.get(k) for k in fields}
            if any(k in body and body[k] != before[k] for k in fields):
                # noted before the job is sent (see ChangeLog)
                self._changes.note(Change(entity, uid, before))

    def watch_changes(self, sink: Callable[[list[Change]], None] | None) -> None:
        """Hand each change to ``sink`` before its write (``None``: queue for ``changes()``).

        A new sink is a new run (``follow`` runs one per round): what the users had is read
        again at its first batch, so each run's changes are its own."""
        self._changes.watch(sink)
        if sink is not None:
            self._users_before.close()
            self._users_before = self._user_snapshot()

    def changes(self) -> list[Change]:
        """Existing users updated since the last call, with what they had."""
        return self._changes.drain()

    def restore(self, entity: Entity, target_id: str, before: dict[str, Any]) -> None:
        """Put an existing user back as the run found it (agents: name, role, custom role,
        external id, tags, suspension; end users also phone and organisation); one deleted
        since has nothing to restore."""
        entity = Entity(entity)
        if entity not in (Entity.AGENTS, Entity.END_USERS):
            raise MigratorError(f"Zendesk target: cannot restore {entity} {target_id}")
        body = {k: v for k, v in before.items() if v is not None or k in _CLEARABLE}
        body["tags"] = before.get("tags") or []
        self.client.request("PUT", f"/api/v2/users/{target_id}", json={"user": body}, ok=(404,))


# What ``users/create_or_update`` may overwrite on an existing agent, and a rollback puts back.
RESTORED_USER_FIELDS = ("name", "role", "custom_role_id", "external_id", "tags", "suspended")
# ... on an existing end user (or an agent sharing an end user's e-mail: its role comes back).
RESTORED_END_USER_FIELDS = (*RESTORED_USER_FIELDS, "phone", "organization_id")
# put back as empty when they were (a restore leaves other unset fields alone)
_CLEARABLE = frozenset({"external_id", "phone", "organization_id"})


def _collision(reason: str | None) -> bool:
    return bool(reason) and "collision" in reason.lower()
