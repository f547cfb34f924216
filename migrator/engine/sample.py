"""Sample runs: pick tickets (seeded random, by id, or the edge cases) plus all they reference.

Edge cases are the tickets most likely to show a problem in the target: one with an attachment,
one with an inline image, the one with the most comments, one with custom field values, a closed
one and one with non-ASCII text. Everything a picked ticket references comes along: requester,
submitter, organisations, assignee, comment authors, its group and that group's lead, and the
memberships between the picked agents and groups.
"""

from __future__ import annotations

import random
from typing import Any, Iterable

from migrator.engine.records import assemble_ticket
from migrator.errors import ConfigError
from migrator.models import Entity
from migrator.state import StateStore

__all__ = ["select_sample", "edge_case_tickets"]


def _non_ascii(text: Any) -> bool:
    return isinstance(text, str) and any(ord(ch) > 127 for ch in text)


def _first(found: dict[str, str], key: str, tid: str) -> None:
    found.setdefault(key, tid)


def edge_case_tickets(state: StateStore) -> dict[str, str]:
    """Kind of edge case -> one ticket id showing it (ids in staging order, first wins).

    Streams: the tickets, then the comments, each once; a comment's ticket is looked up only
    while its kind is still missing, and "most comments" is one grouped query.
    """
    found: dict[str, str] = {}
    for t in state.iter_staged(Entity.TICKETS, raw=True):
        if t.get("deleted") or t.get("spam"):
            continue
        tid = str(t["id"])
        if t.get("custom_fields") and any(v not in (None, "", []) for v in t["custom_fields"].values()):
            _first(found, "custom fields", tid)
        if t.get("status") == "closed":
            _first(found, "closed", tid)
        if _non_ascii(t.get("subject")):
            _first(found, "non-ASCII text", tid)
    alive: dict[str, bool] = {}  # of the few tickets looked up below

    def live(tid: str) -> bool:
        if tid not in alive:
            t = state.get_staged(Entity.TICKETS, tid)
            alive[tid] = t is not None and not t.deleted and not t.spam
        return alive[tid]

    for c in state.iter_staged(Entity.COMMENTS, raw=True):
        tid = str(c.get("ticket_id"))
        kinds = {"inline image" if a.get("inline") else "attachment"
                 for a in c.get("attachments") or []}
        if _non_ascii(c.get("body")):
            kinds.add("non-ASCII text")
        if kinds - found.keys() and live(tid):
            for kind in sorted(kinds):
                _first(found, kind, tid)
        if len(alive) > 10_000:  # bounded: mostly dead tickets' comments
            alive.clear()
    for tid, _ in state.most_children(Entity.COMMENTS):
        if live(tid):
            found["most comments"] = tid
            break
    return found


def _pick(state: StateStore, ids: Iterable[str]) -> list[str]:
    out = []
    for tid in ids:
        tid = str(tid).strip()
        if tid and state.get_staged(Entity.TICKETS, tid) is None:
            raise ConfigError(f"--pick: ticket {tid} is not staged",
                              hint="run `migrator export` first, or check the ticket id")
        if tid:
            out.append(tid)
    return out


def _random(state: StateStore, n: int, seed: int) -> list[str]:
    """``n`` live tickets, seeded; a reservoir, so memory holds ``n`` ids, not every ticket's."""
    rng, chosen = random.Random(seed), []
    seen = 0
    for t in state.iter_staged(Entity.TICKETS, raw=True):
        if t.get("deleted") or t.get("spam"):
            continue
        seen += 1
        if len(chosen) < n:
            chosen.append(str(t["id"]))
        elif (slot := rng.randrange(seen)) < n:
            chosen[slot] = str(t["id"])
    return sorted(chosen)


class _Closure:
    """Collects a selection and everything it references."""

    def __init__(self, state: StateStore, plan: Any):
        self.state, self.plan = state, plan
        self.sel: dict[Entity, set[str]] = {e: set() for e in (
            Entity.TICKET_FIELDS, Entity.ORGANIZATIONS, Entity.END_USERS, Entity.AGENTS,
            Entity.GROUPS, Entity.MEMBERSHIPS, Entity.TICKETS)}
        self.plan_agents = {str(a.id) for a in plan.agents}
        self.leads = {str(g.id): g.escalate_to for g in plan.groups}

    def person(self, uid: Any) -> None:
        if uid in (None, ""):
            return
        uid = str(uid)
        user = self.state.get_staged(Entity.END_USERS, uid)
        if user is not None:
            self.sel[Entity.END_USERS].add(uid)
            if user.organization_id:
                self.sel[Entity.ORGANIZATIONS].add(str(user.organization_id))
        elif uid in self.plan_agents:
            self.sel[Entity.AGENTS].add(uid)

    def ticket(self, tid: str) -> None:
        staged = self.state.get_staged(Entity.TICKETS, tid)
        t = self.plan.map_ticket(assemble_ticket(self.state, staged))
        self.sel[Entity.TICKETS].add(tid)
        for uid in (t.requester_id, t.submitter_id, *(c.author_id for c in t.comments)):
            self.person(uid)
        if t.assignee_id and str(t.assignee_id) in self.plan_agents:
            self.sel[Entity.AGENTS].add(str(t.assignee_id))
        if t.organization_id:
            self.sel[Entity.ORGANIZATIONS].add(str(t.organization_id))
        if t.group_id and str(t.group_id) in self.leads:
            self.sel[Entity.GROUPS].add(str(t.group_id))

    def close(self) -> dict[Entity, set[str]]:
        for gid in self.sel[Entity.GROUPS]:
            if self.leads.get(gid):
                self.sel[Entity.AGENTS].add(str(self.leads[gid]))
        self.sel[Entity.MEMBERSHIPS] = {
            str(m.id) for m in self.plan.memberships
            if str(m.agent_id) in self.sel[Entity.AGENTS] and str(m.group_id) in self.sel[Entity.GROUPS]}
        self.sel[Entity.TICKET_FIELDS] = {str(f.id) for f in self.plan.ticket_fields}
        logged = self.state.children_of(Entity.TIME_ENTRIES, sorted(self.sel[Entity.TICKETS]))
        self.sel[Entity.TIME_ENTRIES] = {str(e.id) for es in logged.values() for e in es}
        return self.sel


def select_sample(state: StateStore, plan: Any, *, sample: int | None = None, seed: int = 7,
                  pick: Iterable[str] = (), edge_cases: bool = False) -> dict[Entity, set[str]]:
    """The records of a sample run: entity -> source ids."""
    tickets = set(_pick(state, pick))
    if sample:
        tickets.update(_random(state, sample, seed))
    if edge_cases:
        tickets.update(edge_case_tickets(state).values())
    if not tickets:
        raise ConfigError("the sample is empty: nothing staged matches",
                          hint="run `migrator export` first, or pass --sample N / --pick ID")
    closure = _Closure(state, plan)
    for tid in sorted(tickets):
        closure.ticket(tid)
    return closure.close()
