"""The Freshdesk :class:`~connectors.base.Source`.

Entities, in export order: ticket_fields, roles, products, organizations (companies), agents
(one detail call each: the list lacks role_ids/group_ids, §4.3), end_users (contacts, plus the
blocked and deleted ones), groups (one detail call each for agent_ids, §4.5), memberships,
tickets, comments, satisfaction_ratings, time_entries.

Comments need ticket ids. ``export(Entity.COMMENTS, cursor, ticket_ids=[...])`` takes them in
the order the caller will give them again on resume; the cursor records how many were done
(``{"index": n, "last": id}``). Without ``ticket_ids`` the ids seen by this source's ticket
export are used. Each ticket's description is its first :class:`Comment` (id
``desc-<ticket id>``, author = the requester), followed by its conversations; attachments are
already downloaded (``local_path``, ``size``, ``sha256`` set) because their URLs expire.
Inline images linked in the bodies are attachments with ``inline=True`` (unless
``options.inline_images`` is off), downloaded the same way.

Lists that grow with the account are yielded one API page (100 rows) per :class:`Page`, each
with the cursor that resumes at the next API page, so no list is ever held whole:

* end_users: ``{"state_index": i, "page": n, "since": ISO|null, "max": ISO, "done": bool}``,
  i the contact state (live, blocked, deleted) and n the page of it to read next; ``since`` is
  the ``updated_since`` of the walk under way (a resumed delta keeps its filter). A finished
  cursor starts a delta from ``max``. Older cursors without ``page``/``since`` resume at page 1
  of their state, as they did.
* organizations, satisfaction_ratings, time_entries: ``{"page": n, "done": bool}``; a finished
  cursor (also the old ``{"done": true}``) reads the list again from page 1.

Page numbers are stable for a resume because these lists are ordered by id; a record deleted
meanwhile in an earlier page can shift one later record back a page (the same as in one run).
Tickets carry their latest satisfaction rating, from an on-disk :class:`RatingIndex` (see
:mod:`connectors.freshdesk.export_tickets`).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from migrator.config import EndpointConfig, Options
from migrator.errors import ConfigError, MigratorError
from migrator.http import HttpClient
from migrator.models import Attachment, Entity, Role, iso

from connectors.base import CheckItem, Page
from connectors.freshdesk import parse as P
from connectors.freshdesk.client import (API, PER_PAGE, iter_pages, next_link, page_cap,
                                         read_page)
from connectors.freshdesk.conversations import ConversationFetcher
from connectors.freshdesk.export_tickets import EPOCH, RatingIndex, TicketWalk, iter_ticket_pages

__all__ = ["FreshdeskSource"]

ENTITIES = (
    Entity.TICKET_FIELDS, Entity.ROLES, Entity.PRODUCTS, Entity.ORGANIZATIONS, Entity.AGENTS,
    Entity.END_USERS, Entity.GROUPS, Entity.MEMBERSHIPS, Entity.TICKETS, Entity.COMMENTS,
    Entity.SATISFACTION_RATINGS, Entity.TIME_ENTRIES,
)
CONTACT_STATES = (None, "blocked", "deleted")  # the default list hides blocked/deleted (§2.4)
TICKETS_PER_COMMENT_PAGE = 25


class FreshdeskSource:
    """Exports one Freshdesk account into canonical records."""

    name = "freshdesk"

    def __init__(self, cfg: EndpointConfig, client: HttpClient, *, workdir: Path,
                 options: Options):
        self.cfg = cfg
        self.client = client
        self.workdir = Path(workdir)
        self.options = options
        self.fetcher = ConversationFetcher(client, self.workdir, attachments=options.attachments,
                                           inline_images=options.inline_images)
        self._roles: dict[str, Role] | None = None
        self._status_names: dict[int, str] | None = None
        self._groups: dict[str, dict] = {}
        self._ratings: RatingIndex | None = None
        self._ratings_lock = threading.Lock()

    # -- protocol --------------------------------------------------------------------------
    def entities(self) -> Sequence[Entity]:
        """The entities this source exports, in order."""
        return ENTITIES

    def check(self) -> list[CheckItem]:
        """Credentials (``agents/me``), admin rights (roles) and the plan's limits."""
        items = []
        try:
            me = self.client.get_json(f"{API}/agents/me")
            who = (me.get("contact") or {}).get("email", "the API key's agent")
            items.append(CheckItem("Freshdesk source credentials", True, f"signed in as {who}"))
        except MigratorError as exc:
            return [CheckItem("Freshdesk source credentials", False, exc.message, exc.hint)]
        try:
            roles = self.roles()
            items.append(CheckItem("Freshdesk source admin rights", True,
                                   f"{len(roles)} roles readable"))
        except MigratorError as exc:
            items.append(CheckItem("Freshdesk source admin rights", False, exc.message,
                                   "the API key must belong to an administrator"))
        limit = self.client.budgets.get("account").per_minute
        items.append(CheckItem("Freshdesk source rate limit", True,
                               f"{int(limit)}/min" if limit else "not announced yet",
                               warning=not limit))
        return items

    def export(self, entity: Entity, cursor: str | None = None, *, since: str | None = None,
               ticket_ids: Iterable[str] | None = None) -> Iterator[Page]:
        """Pages of ``entity``, resuming after ``cursor`` (see the module docstring)."""
        since = since or self.options.since
        if entity is Entity.TICKETS:
            yield from self._tickets(cursor, since)
        elif entity is Entity.COMMENTS:
            yield from self._comments(cursor, ticket_ids)
        elif entity is Entity.END_USERS:
            yield from self._contacts(cursor, since)
        elif entity in _PAGED:
            yield from _PAGED[entity](self, cursor, since)
        elif entity in _SIMPLE:
            yield from self._simple(entity, cursor, since)
        else:
            raise ConfigError(f"Freshdesk source cannot export {entity.value}")

    def export_comments(self, ticket_ids: Iterable[str], cursor: str | None = None, *,
                        since: str | None = None) -> Iterator[Page]:
        """Same as ``export(Entity.COMMENTS, cursor, ticket_ids=...)`` (the Zendesk spelling)."""
        return self._comments(cursor, ticket_ids)

    def download(self, attachment: Attachment, dest: Path) -> int:
        """Stream one attachment to ``dest`` (no credentials to a foreign host); an expired URL
        seen in this process is renewed by re-reading its conversation."""
        return self.fetcher.download_fresh(attachment, dest)

    def stats(self) -> dict[str, dict]:
        """Request counters per bucket."""
        return self.client.budgets.stats()

    def close(self) -> None:
        with self._ratings_lock:
            if self._ratings is not None:
                self._ratings.close()
                self._ratings = None
        self.client.close()

    # -- lookups ---------------------------------------------------------------------------
    def roles(self) -> dict[str, Role]:
        """Role id -> role, read once."""
        if self._roles is None:
            self._roles = {r.id: r for r in (P.parse_role(x) for x in self._all("roles"))}
        return self._roles

    def status_names(self) -> dict[int, str]:
        """Status code -> label for custom statuses, from the ``status`` ticket field."""
        if self._status_names is None:
            self._status_names = P.status_labels(self._all("ticket_fields"))
        return self._status_names

    def _all(self, resource: str, params: dict[str, Any] | None = None,
             ok: tuple[int, ...] = ()) -> list[dict]:
        rows: list[dict] = []
        for page, _ in iter_pages(self.client, f"{API}/{resource}", params, ok=ok):
            rows.extend(page)
        return rows

    def _list_page(self, resource: str, params: dict[str, Any] | None, page: int,
                   ok: tuple[int, ...] = ()) -> tuple[list[dict], bool]:
        """Page ``page`` of a list endpoint: (rows, whether a next page exists). A status in
        ``ok`` (404: the feature is not there) reads as an empty last page."""
        query: dict[str, Any] = {"per_page": PER_PAGE, **(params or {})}
        if page > 1:
            query["page"] = page
        got = read_page(self.client, f"{API}/{resource}", query, ok=ok)
        if got is None:
            return [], False
        rows, response = got
        return rows, bool(rows) and next_link(response) is not None

    def _paged(self, resource: str, parse: Callable[[dict], Any], cursor: str | None,
               params: dict[str, Any] | None = None, *, optional: bool = False,
               keep: Callable[[Any], bool] = lambda r: True) -> Iterator[Page]:
        """One :class:`Page` per API page, cursor ``{"page": next page, "done": bool}``.

        ``optional``: a plan feature (time entries, surveys): 403/404 means "not on this plan"
        (gotcha 16) and ends the list, empty, instead of failing the export.
        """
        state = json.loads(cursor) if cursor else {}
        page = 1 if state.get("done") else max(1, int(state.get("page", 1)))
        while True:
            try:
                rows, more = self._list_page(resource, params, page, ok=(404,) if optional else ())
            except ConfigError:
                if not optional:
                    raise
                rows, more = [], False
            records = [r for r in (parse(row) for row in rows) if keep(r)]
            page += 1
            yield Page(records=records, cursor=json.dumps({"page": page, "done": not more}),
                       done=not more)
            if not more:
                return

    def _parallel(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        workers = max(1, min(self.client.max_in_flight, len(items) or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))

    # -- entities --------------------------------------------------------------------------
    def _simple(self, entity: Entity, cursor: str | None, since: str | None) -> Iterator[Page]:
        records = _SIMPLE[entity](self, since)
        yield Page(records=records, cursor=json.dumps({"done": True}), done=True)

    def _ticket_fields(self, since: str | None) -> list[Any]:
        rows = self._all("ticket_fields")
        self._status_names = P.status_labels(rows)
        return [f for f in (P.parse_ticket_field(r) for r in rows) if f is not None]

    def _agents(self, since: str | None) -> list[Any]:
        listed = self._all("agents")
        roles = self.roles()
        details = self._parallel(lambda a: self.client.get_json(f"{API}/agents/{a['id']}"), listed)
        return [P.parse_agent({**a, **d}, roles) for a, d in zip(listed, details)]

    def _group_details(self) -> list[dict]:
        if not self._groups:
            listed = self._all("groups")
            details = self._parallel(lambda g: self.client.get_json(f"{API}/groups/{g['id']}"),
                                     listed)
            self._groups = {str(g["id"]): {**g, **d} for g, d in zip(listed, details)}
        return list(self._groups.values())

    def _memberships(self, since: str | None) -> list[Any]:
        return [m for g in self._group_details() for m in P.parse_memberships(g)]

    def _contacts(self, cursor: str | None, since: str | None) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else {}
        newest = state.get("max")
        if not cursor or state.get("done"):  # a new walk; after a finished one, the delta
            index, page = 0, 1
            walk_since = (state.get("max") if state.get("done") else None) or iso(since)
        else:  # resume the walk under way, with its own filter (old cursors had none)
            index, page = int(state.get("state_index", 0)), max(1, int(state.get("page", 1)))
            walk_since = state["since"] if "since" in state else iso(since)
        while index < len(CONTACT_STATES):
            params: dict[str, Any] = {}
            if CONTACT_STATES[index]:
                params["state"] = CONTACT_STATES[index]
            if walk_since:
                params["updated_since"] = walk_since
            rows, more = self._list_page("contacts", params, page)
            records = [P.parse_contact(r, state=CONTACT_STATES[index]) for r in rows]
            for r in records:
                newest = max(newest or "", r.updated_at or "") or None
            index, page = (index, page + 1) if more else (index + 1, 1)
            last = index >= len(CONTACT_STATES)
            cur = {"state_index": index, "page": page, "since": walk_since, "max": newest,
                   "done": last}
            yield Page(records=records, cursor=json.dumps(cur), done=last)

    def _tickets(self, cursor: str | None, since: str | None) -> Iterator[Page]:
        phases = ["all"] + (["spam"] if self.options.include_spam else []) + (
            ["deleted"] if self.options.include_deleted else [])
        walk = TicketWalk.load(cursor, phases, since)
        for page in iter_ticket_pages(self.client, walk, page_cap(self.cfg), self.status_names()):
            if page.records:
                ratings = self.rating_index().lookup(t.id for t in page.records)
                for ticket in page.records:
                    if ticket.id in ratings:
                        ticket.extra["satisfaction_rating"] = ratings[ticket.id]
            yield page

    def rating_index(self) -> RatingIndex:
        """Ticket id -> its latest rating as ``Ticket.extra["satisfaction_rating"]`` carries it.

        No target can re-create a historical rating faithfully, so the ticket carries its score
        and a loader writes it into the ticket (Freshdesk: the description header). The ratings
        list has no ticket filter (reference §2.4) and a ticket's own ratings cost one call per
        ticket, so every rating is read once per process (a delta's ticket may have been rated
        long ago), a page at a time, into an index on disk; memory does not grow with it.
        Empty on plans without surveys.
        """
        with self._ratings_lock:
            if self._ratings is None:
                index = RatingIndex()
                try:
                    for rows, _ in iter_pages(self.client, f"{API}/surveys/satisfaction_ratings",
                                              {"created_since": EPOCH}, ok=(404,)):
                        index.add(P.parse_rating(r) for r in rows)
                except ConfigError:  # surveys are a plan feature (gotcha 16)
                    pass
                except BaseException:
                    index.close()
                    raise
                self._ratings = index
            return self._ratings

    def _comments(self, cursor: str | None, ticket_ids: Iterable[str] | None) -> Iterator[Page]:
        if ticket_ids is None:  # the engine names them (staged tickets); nothing kept here
            raise ValueError("Freshdesk conversations are exported for given ticket ids")
        ids = [str(t) for t in ticket_ids]
        start = _resume_index(cursor, ids)
        if start >= len(ids):
            yield Page(records=[], cursor=json.dumps({"index": len(ids), "last": None}),
                       done=True)
            return
        for i in range(start, len(ids), TICKETS_PER_COMMENT_PAGE):
            chunk = ids[i:i + TICKETS_PER_COMMENT_PAGE]
            records = self.fetcher.many(chunk, self.client.max_in_flight)
            end = i + len(chunk)
            yield Page(records=records, cursor=json.dumps({"index": end, "last": chunk[-1]}),
                       done=end >= len(ids))


def _resume_index(cursor: str | None, ids: list[str]) -> int:
    """Where a comments export resumes in ``ids``: after the last ticket the cursor names."""
    if not cursor:
        return 0
    data = json.loads(cursor)
    index, last = int(data.get("index", 0)), data.get("last")
    if last is None:
        return 0 if index >= len(ids) else index
    if 0 < index <= len(ids) and ids[index - 1] == last:
        return index
    return ids.index(last) + 1 if last in ids else 0


_SIMPLE: dict[Entity, Callable[[FreshdeskSource, str | None], list[Any]]] = {
    Entity.TICKET_FIELDS: FreshdeskSource._ticket_fields,
    Entity.ROLES: lambda self, since: list(self.roles().values()),
    Entity.PRODUCTS: lambda self, since: [P.parse_product(r) for r in self._all("products")],
    Entity.AGENTS: FreshdeskSource._agents,
    Entity.GROUPS: lambda self, since: [P.parse_group(g) for g in self._group_details()],
    Entity.MEMBERSHIPS: FreshdeskSource._memberships,
}

# Lists that grow with the account: one Page per API page (see the module docstring).
_PAGED: dict[Entity, Callable[[FreshdeskSource, str | None, str | None], Iterator[Page]]] = {
    Entity.ORGANIZATIONS: lambda self, cursor, since: self._paged(
        "companies", P.parse_company, cursor, {"updated_since": iso(since)} if since else None),
    Entity.SATISFACTION_RATINGS: lambda self, cursor, since: self._paged(
        "surveys/satisfaction_ratings", P.parse_rating, cursor,
        {"created_since": iso(since) or EPOCH}, optional=True,
        keep=lambda r: not since or (r.created_at or "") >= (iso(since) or "")),
    Entity.TIME_ENTRIES: lambda self, cursor, since: self._paged(
        "time_entries", P.parse_time_entry, cursor, optional=True),
}
