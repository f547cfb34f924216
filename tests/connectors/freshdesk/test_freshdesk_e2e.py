"""End to end over loopback: a seeded Freshdesk sandbox -> an empty one, Source and Target direct.

The source's tickets are all older than 30 days and outnumber the sandbox's scaled-down page cap,
so only a windowed, deduplicating export finds them all. References are resolved here the way the
engine does (target ids through an id map), since the engine is not part of this test.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

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


def test_all_tickets_notes_and_attachments_arrive_once(sandboxes, tmp_path, monkeypatch):
    src_box, dst_box = sandboxes
    options = Options(max_in_flight=8)
    source = make_source(_cfg(src_box.url, monkeypatch), workdir=tmp_path, options=options)
    target = make_target(_cfg(dst_box.url, monkeypatch), workdir=tmp_path, options=options)
    try:
        _migrate(source, target, src_box, dst_box, tmp_path)
    finally:
        source.close()
        target.close()


def _migrate(source, target, src_box, dst_box, workdir) -> None:
    tickets = _records(source, Entity.TICKETS)
    ids = [t.id for t in tickets]
    visible = [t for t in src_box.store.tickets.values() if not t["spam"] and not t.get("deleted")]
    assert len(ids) == len(set(ids)) == len(visible) > 100 * PAGE_CAP
    comments = _records(source, Entity.COMMENTS, ticket_ids=ids)
    assert len({c.id for c in comments}) == len(comments)
    files = [a for c in comments for a in c.attachments]
    assert files and all(a.local_path and (workdir / a.local_path).exists() for a in files)
    assert src_box.app.state.cdn_stats["auth_header"] == 0  # no key ever sent to the CDN
    lists = src_box.app.state.requests["GET /api/v2/tickets"]
    assert lists >= 3  # page 1, page 2 refused by the cap (400), then a new window

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
    assert set(done) == set(ids)
    _assert_arrived(target, dst_box, tickets, by_ticket, done)


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
