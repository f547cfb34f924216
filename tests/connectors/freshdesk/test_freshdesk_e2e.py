"""End to end over loopback: a seeded Freshdesk sandbox -> an empty one, Source and Target direct.

The source's tickets are all older than 30 days and outnumber the sandbox's scaled-down page cap,
so only a windowed, deduplicating export finds them all. References are resolved here the way the
engine does (target ids through an id map), since the engine is not part of this test.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.base import LoadItem
from connectors.freshdesk import make_source, make_target
from connectors.freshdesk import render as R
from migrator.config import EndpointConfig, Options
from migrator.models import Comment, Entity, Outcome, Ticket

pytestmark = pytest.mark.e2e
TICKETS = 130
PAGE_CAP = 1  # pages of 100: 130 tickets need two windows


@pytest.fixture(scope="module")
def sandboxes():
    run = pytest.importorskip("connectors.sandbox.run")
    past = datetime(2024, 3, 1, tzinfo=timezone.utc)  # every ticket is older than 30 days
    src = run.start_sandbox("freshdesk", seed=3, tickets=TICKETS, now=past, page_cap=PAGE_CAP)
    dst = run.start_sandbox("freshdesk", seed=3, tickets=TICKETS, now=past, empty=True)
    yield src, dst
    src.stop()
    dst.stop()


def _cfg(url: str, monkeypatch, **extra) -> EndpointConfig:
    monkeypatch.setenv("FD_SANDBOX_KEY", "sandbox-key")
    return EndpointConfig(type="freshdesk", base_url=url, api_key="${FD_SANDBOX_KEY}", **extra)


def _records(source, entity, **kw) -> list:
    return [r for page in source.export(entity, **kw) for r in page.records]


def _load(target, entity, records, resolve=lambda r: r, workdir=None) -> dict[str, str]:
    items = [LoadItem(str(r.id), resolve(r), attachments_dir=workdir) for r in records]
    outcomes = target.collect(target.submit(entity, items))
    failed = [o for o in outcomes if o.outcome is Outcome.FAILED]
    assert not failed, failed[:3]
    return {o.source_id: o.target_id for o in outcomes if o.target_id}


@dataclass
class Migrated:
    """What one source -> target pass produced, for the assertions."""

    target: object
    workdir: Path
    tickets: list[Ticket]
    comments: list[Comment]
    by_ticket: dict[str, list[Comment]]
    done: dict[str, str]


@pytest.fixture(scope="module")
def migrated(sandboxes, tmp_path_factory):
    src_box, dst_box = sandboxes
    workdir = tmp_path_factory.mktemp("fd-e2e")
    options = Options(max_in_flight=8)
    with pytest.MonkeyPatch.context() as mp:
        source = make_source(_cfg(src_box.url, mp), workdir=workdir, options=options)
        target = make_target(_cfg(dst_box.url, mp), workdir=workdir, options=options)
    try:
        yield _migrate(source, target, src_box, workdir)
    finally:
        source.close()
        target.close()


def test_all_tickets_notes_and_attachments_arrive_once(migrated, sandboxes):
    src_box, dst_box = sandboxes
    visible = [t for t in src_box.store.tickets.values() if not t["spam"] and not t.get("deleted")]
    ids = [t.id for t in migrated.tickets]
    assert len(ids) == len(set(ids)) == len(visible) > 100 * PAGE_CAP
    assert len({c.id for c in migrated.comments}) == len(migrated.comments)
    files = [a for c in migrated.comments for a in c.attachments]
    assert files and all(a.local_path and (migrated.workdir / a.local_path).exists()
                         for a in files)
    assert src_box.app.state.cdn_stats["auth_header"] == 0  # no key ever sent to the CDN
    lists = src_box.app.state.requests["GET /api/v2/tickets"]
    assert lists >= 3  # page 1, page 2 refused by the cap (400), then a new window
    assert set(migrated.done) == set(ids)
    _assert_arrived(migrated.target, dst_box, migrated.tickets, migrated.by_ticket,
                    migrated.done)


def _migrate(source, target, src_box, workdir) -> Migrated:
    tickets = _records(source, Entity.TICKETS)
    ids = [t.id for t in tickets]
    comments = _records(source, Entity.COMMENTS, ticket_ids=ids)

    fields = _records(source, Entity.TICKET_FIELDS)
    _load(target, Entity.TICKET_FIELDS, fields)
    orgs = _load(target, Entity.ORGANIZATIONS, _records(source, Entity.ORGANIZATIONS))
    users = _records(source, Entity.END_USERS)
    contact_ids = _load(target, Entity.END_USERS, users,
                        lambda u: _with(u, organization_id=orgs.get(u.organization_id)))
    by_email = {a.email: a.id for a in target.existing(Entity.AGENTS)}
    agents = {a.id: by_email.get(a.email) for a in _records(source, Entity.AGENTS)}
    groups = _load(target, Entity.GROUPS, _records(source, Entity.GROUPS),
                   lambda g: _with(g, escalate_to=agents.get(g.escalate_to)))
    people = {u.id: u for u in users}
    by_ticket: dict[str, list[Comment]] = {}
    for c in sorted(comments, key=lambda c: (not c.id.startswith("desc-"), c.created_at or "")):
        author = contact_ids.get(c.author_id) or agents.get(c.author_id)
        kind = "end_user" if c.author_id in contact_ids else "agent"
        by_ticket.setdefault(c.ticket_id, []).append(_with(c, author_id=author, extra={
            **c.extra, "author_kind": kind,
            "author_name": getattr(people.get(c.author_id), "name", None)}))

    def resolve(t: Ticket) -> Ticket:
        return _with(t, requester_id=contact_ids.get(t.requester_id),
                     assignee_id=agents.get(t.assignee_id), group_id=groups.get(t.group_id),
                     organization_id=orgs.get(t.organization_id),
                     comments=by_ticket.get(t.id, []),
                     extra={**t.extra, "requester_name": people[t.requester_id].name,
                            "requester_email": people[t.requester_id].email})

    done = _load(target, Entity.TICKETS, tickets, resolve, workdir)
    return Migrated(target, workdir, tickets, comments, by_ticket, done)


def _source_inline(src_box) -> dict[str, list[int]]:
    """Source ticket id -> blob ids of the inline images its bodies link (the sandbox's truth)."""
    from connectors.sandbox.freshdesk_render import INLINE_PREFIX
    pattern = re.compile(re.escape(INLINE_PREFIX) + r"(\d+)")
    out: dict[str, list[int]] = {}
    for tid, ticket in src_box.store.tickets.items():
        bodies = [ticket.get("description") or ""] + [
            c.get("body") or "" for c in src_box.store.conversations.get(tid, [])]
        blobs = [int(m) for body in bodies for m in pattern.findall(body)]
        if blobs:
            out[str(tid)] = blobs
    return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_inline_image_arrives_once_with_its_bytes(migrated, sandboxes):
    src_box, dst_box = sandboxes
    truth = _source_inline(src_box)
    wanted = {t.id for t in migrated.tickets}
    truth = {tid: blobs for tid, blobs in truth.items() if tid in wanted}
    assert sum(len(b) for b in truth.values()) >= 5  # the seed links enough inline images

    exported = [a for c in migrated.comments for a in c.attachments if a.inline]
    assert len(exported) == sum(len(b) for b in truth.values())
    for att in exported:  # staged with the bytes the CDN serves
        assert _sha((migrated.workdir / att.local_path).read_bytes()) == att.sha256

    src, dst = src_box.store, dst_box.store
    inline_shas = {_sha(src.blobs[b].load()) for blobs in truth.values() for b in blobs}
    for tid, blobs in truth.items():
        got = dst.tickets[int(migrated.done[tid])]
        convs = dst.conversations.get(got["id"], [])
        landed = [a["id"] for a in got.get("attachments") or []] + [
            a["id"] for c in convs for a in c.get("attachments") or []]
        arrived = Counter(s for s in (_sha(dst.blobs[i].load()) for i in landed)
                          if s in inline_shas)
        assert arrived == Counter(_sha(src.blobs[b].load()) for b in blobs), tid
        bodies = [got["description"]] + [c["body"] for c in convs]
        assert not any("/inline/attachment" in b for b in bodies)  # no link to the source CDN
        names = [src.blobs[b].name for b in blobs]
        markers = "".join(html.unescape(b) for b in bodies)
        assert all(f"[inline image: {n}]" in markers for n in names), tid


def test_satisfaction_scores_land_in_the_description_header(migrated, sandboxes):
    src_box, dst_box = sandboxes
    rated = {str(r["ticket_id"]) for r in src_box.store.ratings.values()}
    carried = {t.id: t.extra["satisfaction_rating"]["score"] for t in migrated.tickets
               if "satisfaction_rating" in t.extra}
    assert carried and set(carried) == rated & {t.id for t in migrated.tickets}
    for tid, score in carried.items():
        description = html.unescape(dst_box.store.tickets[int(migrated.done[tid])]["description"])
        assert f"satisfaction: {score}" in description.split("\n")[0], tid


def _assert_arrived(target, dst_box, tickets, by_ticket, done) -> None:
    store = dst_box.store
    assert len(store.tickets) == len(tickets)  # each ticket once
    names = target.field_names()
    for t in tickets:
        got = store.tickets[int(done[t.id])]
        cf = got["custom_fields"]
        assert cf[names[R.SOURCE_ID_FIELD]] == t.id
        assert cf[names[R.CREATED_FIELD]] == t.created_at[:10]
        assert html.unescape(got["description"]).find(f"on {t.created_at}") > 0
        convs = store.conversations.get(got["id"], [])
        want = [c.id for c in by_ticket[t.id][1:]]
        assert sorted(R.note_markers(c["body_text"] for c in convs)) == sorted(want)
        assert all(c["source"] == 2 for c in convs)  # notes only, never replies
        sent = sum(len(c.attachments) for c in by_ticket[t.id])
        landed = len(got.get("attachments") or []) + sum(len(c.get("attachments") or [])
                                                         for c in convs)
        assert landed == sent
    assert store.emails == []  # no customer was e-mailed
    assert not any(k.endswith("/reply") for k in dst_box.app.state.requests)
    again = target.reconcile(Entity.TICKETS, [t.id for t in tickets[:5]])
    assert again == {t.id: done[t.id] for t in tickets[:5]}


def _with(record, **changes):
    import dataclasses
    return dataclasses.replace(record, **changes)


def test_export_under_growth_limits_stays_within_budget(tmp_path, monkeypatch):
    """Growth plan on a 1-second window: the budgets pace the export, 429s stay under 1%."""
    run = pytest.importorskip("connectors.sandbox.run")
    past = datetime(2024, 3, 1, tzinfo=timezone.utc)
    box = run.start_sandbox("freshdesk", seed=5, tickets=200, now=past, plan="growth", window=1.0)
    cfg = _cfg(box.url, monkeypatch, plan="growth", rate_window=1.0)
    source = make_source(cfg, workdir=tmp_path, options=Options(max_in_flight=8))
    try:
        ids = [t.id for t in _records(source, Entity.TICKETS)]
        comments = _records(source, Entity.COMMENTS, ticket_ids=ids)
    finally:
        source.close()
        box.stop()
    assert len({c.ticket_id for c in comments}) == len(ids) > 0
    stats = box.app.state.limiter.stats()
    ok = sum(b["ok"] for b in stats.values())
    throttled = sum(b["throttled"] for b in stats.values())
    assert stats["account"]["ok"] > 200  # more than one window's worth: pacing was needed
    assert throttled <= 0.01 * ok, stats
