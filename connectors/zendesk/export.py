"""The Zendesk :class:`~connectors.base.Source`: pages of canonical records per entity.

Endpoints (reference ``zendesk-api.md``):
    tickets        incremental/tickets/cursor, support_type_scope=all, per_page=1000, deleted and
                   archived included (only the incremental export returns archived tickets, §7.13)
    end_users      incremental/users/cursor (role end-user)
    agents         users?role[]=agent&role[]=admin (CBP) + custom roles + memberships
    organizations, groups (deleted too), group memberships, ticket fields,
    satisfaction ratings: CBP lists; custom_roles: one unpaginated call (403/404 on plans
    without them -> the builtin agent/admin roles)
    ticket_events  incremental/ticket_events (status/group/assignee/priority changes)
    comments       see :mod:`connectors.zendesk.comments`; needs the ticket ids:
                   ``export(Entity.COMMENTS, cursor, ticket_ids=...)`` or
                   ``export_comments(ticket_ids, cursor)``. The ids must come in the same order on
                   a resume (the cursor counts them); after a finished export, the ids passed are
                   taken as the tickets that changed and all of their comments are fetched.
                   The events stream asks the ids ``in``: a container that answers that itself
                   (the engine's changed tickets, read from its state store) is not copied.

Cursors: :mod:`connectors.zendesk.cursors`.
"""

from __future__ import annotations

import itertools
import logging
from collections import abc
from pathlib import Path
from typing import Any, Callable, Container, Iterable, Iterator, Sequence

from connectors.base import CheckItem, Page
from connectors.zendesk import comments as zc
from connectors.zendesk import parse
from connectors.zendesk.cursors import dump_cursor, epoch_of, load_cursor
from connectors.zendesk.paging import iter_cbp, iter_incremental_cursor, iter_incremental_time
from connectors.zendesk.lookups import list_custom_statuses
from migrator.config import Options
from migrator.errors import ConfigError, MigratorError, RecordError
from migrator.http import HttpClient
from migrator.models import Attachment, Entity, Role

__all__ = ["ZendeskSource"]

log = logging.getLogger("connectors.zendesk")

_CBP = {  # entity -> (path, envelope key, extra params, parser)
    Entity.ORGANIZATIONS: ("/api/v2/organizations", "organizations", {},
                           parse.parse_organization),
    Entity.GROUPS: ("/api/v2/groups", "groups", {"exclude_deleted": "false"}, parse.parse_group),
    Entity.MEMBERSHIPS: ("/api/v2/group_memberships", "group_memberships", {},
                         parse.parse_membership),
    Entity.TICKET_FIELDS: ("/api/v2/ticket_fields", "ticket_fields", {},
                           parse.parse_ticket_field),
    Entity.SATISFACTION_RATINGS: ("/api/v2/satisfaction_ratings", "satisfaction_ratings", {},
                                  parse.parse_satisfaction_rating),
}
SAMPLE_TICKETS = 20  # tickets fetched per-ticket before `auto` picks a comments strategy


class ZendeskSource:
    """Export from one Zendesk account."""

    name = "zendesk"

    def __init__(self, client: HttpClient, *, workdir: Path, options: Options,
                 comments_strategy: str = "auto"):
        if comments_strategy not in zc.STRATEGIES:
            raise ConfigError(f"zendesk: comments_strategy {comments_strategy!r} is unknown",
                              hint=f"use one of: {', '.join(zc.STRATEGIES)}")
        self.client = client
        self.workdir = workdir
        self.options = options
        self.comments_strategy = comments_strategy
        self.custom_roles: bool | None = None  # learnt on the first roles call
        self._role_names: dict[str, str] | None = None
        self._statuses: dict[str, dict] | None = None  # custom statuses, read when one is seen

    # -- protocol --------------------------------------------------------------------------
    def entities(self) -> Sequence[Entity]:
        """Export order: what tickets refer to first."""
        return (Entity.TICKET_FIELDS, Entity.ROLES, Entity.ORGANIZATIONS, Entity.GROUPS,
                Entity.AGENTS, Entity.MEMBERSHIPS, Entity.END_USERS, Entity.TICKETS,
                Entity.COMMENTS, Entity.SATISFACTION_RATINGS, Entity.TICKET_EVENTS)

    def check(self) -> list[CheckItem]:
        """Credentials, admin rights, custom roles and the announced rate limits."""
        items: list[CheckItem] = []
        try:
            me = self.client.get_json("/api/v2/users/me").get("user") or {}
        except MigratorError as exc:
            return [CheckItem("zendesk source credentials", False, exc.message, exc.hint)]
        admin = me.get("role") == "admin"
        items.append(CheckItem("zendesk source credentials", bool(me.get("id")),
                               f"signed in as {me.get('email') or me.get('name')}"))
        items.append(CheckItem("zendesk source admin rights", admin, f"role {me.get('role')}",
                               None if admin else "incremental exports need an admin user"))
        roles = self._roles()
        items.append(CheckItem(
            "zendesk source custom roles", True,
            f"{len(roles)} custom roles" if self.custom_roles else
            "not available on this plan: agents export with the builtin agent/admin roles",
            warning=not self.custom_roles))
        items.append(self._limits_item())
        return items

    def export(self, entity: Entity, cursor: str | None = None, *, since: str | None = None,
               ticket_ids: Iterable[str] | None = None) -> Iterator[Page]:
        """Pages of ``entity`` resuming after ``cursor`` (see the module docstring)."""
        entity = Entity(entity)
        state = load_cursor(cursor, entity.value)
        start = epoch_of(since or self.options.since)
        if entity == Entity.TICKETS:
            return self._tickets(state, start)
        if entity == Entity.END_USERS:
            return self._end_users(state, start)
        if entity == Entity.AGENTS:
            return self._cbp(state, "/api/v2/users", "users",
                             {"role[]": ["agent", "admin"]}, self._agent_or_none)
        if entity == Entity.ROLES:
            return iter([Page(self._roles(), dump_cursor(mode="cbp", done=True), True)])
        if entity == Entity.COMMENTS:
            if ticket_ids is None:
                raise ConfigError("zendesk: exporting comments needs the ticket ids",
                                  hint="pass ticket_ids= (the staged ticket ids)")
            return self.export_comments(ticket_ids, cursor, since=since)
        if entity == Entity.TICKET_EVENTS:
            return self._ticket_events(state, start)
        if entity in _CBP:
            path, key, params, parser = _CBP[entity]
            return self._cbp(state, path, key, params, parser)
        return iter([Page([], dump_cursor(mode="cbp", done=True), True)])

    def export_comments(self, ticket_ids: Iterable[str], cursor: str | None = None, *,
                        since: str | None = None) -> Iterator[Page]:
        """Comments of ``ticket_ids`` by the configured or measured strategy."""
        state = load_cursor(cursor, "comments")
        strategy = state.get("strategy") or self.comments_strategy
        start = epoch_of(since or self.options.since)
        if strategy == "events" and not state and isinstance(ticket_ids, (list, tuple)) \
                and self._few_for_events(len(ticket_ids)):
            strategy = "per_ticket"  # e.g. a delta of a few tickets: one page costs more
        if strategy == "events":
            wanted = None if ticket_ids is None else _wanted(ticket_ids)
            yield from self._comments_events(state.get("start_time", start), wanted)
            return
        ids = iter(ticket_ids)
        position = 0 if state.get("done") else int(state.get("position", 0))
        if strategy == "auto":
            sample = [str(t) for t in itertools.islice(ids, SAMPLE_TICKETS)]
            found = 0
            for comments, pos, _ in zc.iter_per_ticket(self.client, sample,
                                                       workers=self._workers(),
                                                       inline_images=self.options.inline_images):
                found += len(comments)
                yield Page(comments, dump_cursor(mode="per_ticket", strategy="per_ticket",
                                                 position=pos), False)
            position = len(sample)
            rest = list(itertools.islice(ids, 1))
            ids = itertools.chain(rest, ids)
            if rest and self._decide(found / len(sample)) == "events":
                # The sampled tickets are done; the stream brings the comments of the others.
                yield from self._comments_events(start, _wanted(ids, ticket_ids, sample))
                return
        else:
            ids = itertools.islice(ids, position, None)
        yield from self._comments_per_ticket(ids, position)

    def download(self, attachment: Attachment, dest: Path) -> int:
        """Stream one attachment to ``dest``; credentials only go to the account's own host."""
        if not attachment.url:
            raise RecordError(f"zendesk attachment {attachment.id} ({attachment.file_name}) "
                              "has no content URL", hint="it may have been redacted or deleted")
        return self.client.download(attachment.url, dest)

    def stats(self) -> dict[str, dict]:
        """Requests per budget (account, incremental)."""
        return self.client.budgets.stats()

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    # -- entities --------------------------------------------------------------------------
    def _tickets(self, state: dict, start: int) -> Iterator[Page]:
        params = {"support_type_scope": "all", "per_page": 1000, "include": "metric_sets"}
        for items, after, end, body in iter_incremental_cursor(
                self.client, "/api/v2/incremental/tickets/cursor", "tickets",
                start_time=state.get("start_time", start), cursor=state.get("after"),
                params=params):
            metrics = {m.get("ticket_id"): m for m in body.get("metric_sets") or []}
            newest: dict[Any, dict] = {}
            for t in items:  # dedupe within the page, keeping the newest version
                prev = newest.get(t["id"])
                if prev is None or _version(t) >= _version(prev):
                    newest[t["id"]] = t
            statuses = (self._custom_statuses()
                        if any(t.get("custom_status_id") for t in newest.values()) else None)
            records = [parse.parse_ticket(t, metrics=metrics.get(t["id"]),
                                          custom_statuses=statuses)
                       for t in newest.values()]
            yield Page(records, dump_cursor(mode="incremental", after=after,
                                            start_time=start, done=end), end)

    def _end_users(self, state: dict, start: int) -> Iterator[Page]:
        for items, after, end, _ in iter_incremental_cursor(
                self.client, "/api/v2/incremental/users/cursor", "users",
                start_time=state.get("start_time", start), cursor=state.get("after"),
                params={"per_page": 1000}):
            records = [parse.parse_end_user(u) for u in items if not parse.is_agent(u)]
            yield Page(records, dump_cursor(mode="incremental", after=after,
                                            start_time=start, done=end), end)

    def _ticket_events(self, state: dict, start: int) -> Iterator[Page]:
        for events, end_time, end in iter_incremental_time(
                self.client, "/api/v2/incremental/ticket_events", "ticket_events",
                start_time=state.get("start_time", start), params={"per_page": 1000}):
            records = [ev for e in events for ev in parse.parse_ticket_events(e)]
            yield Page(records, dump_cursor(mode="time", start_time=end_time, done=end), end)

    def _cbp(self, state: dict, path: str, key: str, params: dict,
             parser: Callable[[dict], Any]) -> Iterator[Page]:
        # A finished list is listed again for a delta; only records newer than hwm come back.
        delta_from = state.get("hwm") if state.get("done") else None
        after = None if state.get("done") else state.get("after")
        hwm = state.get("hwm")
        for items, nxt, has_more in iter_cbp(self.client, path, key, params=params, after=after):
            records = [r for r in map(parser, items) if r is not None]
            stamps = [s for s in map(_updated, records) if s]
            hwm = max([hwm or "", *stamps]) or None
            if delta_from:
                records = [r for r in records if (_updated(r) or "9") > delta_from]
            yield Page(records, dump_cursor(mode="cbp", after=nxt if has_more else None,
                                            hwm=hwm, done=not has_more), not has_more)

    def _custom_statuses(self) -> dict[str, dict]:
        """Custom status id -> its row, read once (403/404: the account has the feature off)."""
        if self._statuses is None:
            self._statuses = {str(c["id"]): c for c in list_custom_statuses(self.client)
                              if "id" in c}
        return self._statuses

    def _agent_or_none(self, user: dict):
        if not parse.is_agent(user):
            return None
        return parse.parse_agent(user, role_names=self._role_map(),
                                 group_ids=self._groups_of().get(str(user["id"]), []))

    def _roles(self) -> list[Role]:
        try:
            body = self.client.get_json("/api/v2/custom_roles")
        except (ConfigError, RecordError) as exc:  # 403 / 404: plan without custom roles
            if isinstance(exc, RecordError) and exc.status not in (404, 402):
                raise
            log.info("zendesk: custom roles unavailable (%s); using agent/admin", exc.message)
            self.custom_roles = False
            return parse.builtin_roles()
        self.custom_roles = True
        return [parse.parse_role(r) for r in body.get("custom_roles") or []]

    def _role_map(self) -> dict[str, str]:
        if self._role_names is None:
            self._role_names = {r.id: r.name for r in self._roles() if not r.builtin}
        return self._role_names

    def _groups_of(self) -> dict[str, list[str]]:
        if not hasattr(self, "_memberships"):
            out: dict[str, list[str]] = {}
            for items, _, _ in iter_cbp(self.client, "/api/v2/group_memberships",
                                        "group_memberships"):
                for m in items:
                    out.setdefault(str(m["user_id"]), []).append(str(m["group_id"]))
            self._memberships = out
        return self._memberships

    # -- comments --------------------------------------------------------------------------
    def _comments_events(self, start: int, wanted: Container[str] | None) -> Iterator[Page]:
        for comments, end_time, end in zc.iter_events(
                self.client, start_time=start, wanted=wanted,
                inline_images=self.options.inline_images, workers=self._workers()):
            yield Page(comments, dump_cursor(mode="time", strategy="events",
                                             start_time=end_time, done=end), end)

    def _comments_per_ticket(self, ids: Iterator[str], start: int) -> Iterator[Page]:
        position = start
        for comments, pos, _ in zc.iter_per_ticket(self.client, ids, workers=self._workers(),
                                                   inline_images=self.options.inline_images):
            position = start + pos
            yield Page(comments, dump_cursor(mode="per_ticket", strategy="per_ticket",
                                             position=position), False)
        yield Page([], dump_cursor(mode="per_ticket", strategy="per_ticket", position=position,
                                   done=True), True)

    def _decide(self, comments_per_ticket: float) -> str:
        account = self.client.budgets.get("account").per_minute
        incremental = self.client.budgets.get("incremental").per_minute
        choice = zc.choose_strategy(account, incremental, comments_per_ticket)
        log.info("zendesk: %.1f comments per ticket, %s/min account, %s/min incremental -> %s",
                 comments_per_ticket, account or "unlimited", incremental or "unlimited", choice)
        return choice

    def _few_for_events(self, tickets: int) -> bool:
        """True when even one page of the events stream costs more budget time than reading
        ``tickets`` tickets one by one (fewer than R / L_inc of them; limits known)."""
        account = self.client.budgets.get("account").per_minute
        incremental = self.client.budgets.get("incremental").per_minute
        return bool(account and incremental) and tickets * incremental < account

    def _workers(self) -> int:
        return self.client.max_in_flight

    def _limits_item(self) -> CheckItem:
        account = self.client.budgets.get("account").per_minute
        incremental = self.client.budgets.get("incremental").per_minute
        if not account:
            return CheckItem("zendesk source rate limits", True,
                             "no limit announced yet; set `plan:` to pace from the first request",
                             warning=True)
        return CheckItem("zendesk source rate limits", True,
                         f"{account:,.0f} requests/min, incremental "
                         f"{f'{incremental:,.0f}' if incremental else 'not announced yet'}/min")


class _Without:
    """``in`` a container of ticket ids, except some (the sampled ones, already read)."""

    def __init__(self, ids: Container[str], left_out: Iterable[str]):
        self.ids, self.left_out = ids, set(left_out)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id not in self.left_out and ticket_id in self.ids


def _wanted(ids: Iterable[str], given: Any = None, sample: Sequence[str] = ()) -> Container[str]:
    """The ticket ids a comments stream keeps, as something to ask ``in``.

    A list or an iterator becomes a set. A container that answers ``in`` by itself and is no
    list, set or iterator (the engine's selection of changed tickets, read from its state store
    as asked: a pass can name a million tickets) is asked as it is, never copied. ``given`` is
    the container ``ids`` iterates, when ``ids`` is what is left of it after ``sample``.
    """
    given = ids if given is None else given
    if isinstance(given, abc.Container) and not isinstance(
            given, (abc.Sequence, abc.Set, abc.Mapping, abc.Iterator)):
        return _Without(given, sample) if sample else given
    return set(map(str, ids))


def _version(t: dict) -> tuple:
    return (t.get("generated_timestamp") or 0, t.get("updated_at") or "")


def _updated(record: Any) -> str | None:
    return getattr(record, "updated_at", None) or getattr(record, "extra", {}).get("updated_at")
