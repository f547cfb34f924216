"""End to end over loopback: a seeded Zendesk sandbox -> an empty one, through Source and Target.

A minimal stand-in for the engine (the real one lives elsewhere) stages pages, downloads
attachments, resolves references through an id map and loads in dependency order. The test then
reads every ticket back from the target and compares it with the source.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

import connectors.zendesk as zendesk
from connectors.base import LoadItem
from connectors.zendesk.render import tagify
from migrator.config import EndpointConfig, Options
from migrator.models import Entity, Outcome

pytestmark = pytest.mark.e2e

EXPORTED = (Entity.TICKET_FIELDS, Entity.ORGANIZATIONS, Entity.GROUPS, Entity.AGENTS,
            Entity.MEMBERSHIPS, Entity.END_USERS, Entity.TICKETS)


@pytest.fixture
def sandboxes():
    run = pytest.importorskip("connectors.sandbox.run")
    src = run.start_sandbox("zendesk", tickets=15)
    dst = run.start_sandbox("zendesk", tickets=15, empty=True)
    yield src, dst
    src.stop()
    dst.stop()


def _cfg(url: str) -> EndpointConfig:
    return EndpointConfig(type="zendesk", base_url=url, email="admin@sandbox.test",
                          token="literal:sandbox-token")


def _export(source, workdir: Path) -> tuple[dict, list]:
    staged = {e: {r.id: r for p in source.export(e) for r in p.records} for e in EXPORTED}
    ids = sorted(staged[Entity.TICKETS], key=int)
    comments = {c.id: c for p in source.export(Entity.COMMENTS, ticket_ids=ids)
                for c in p.records}
    for c in comments.values():
        for a in c.attachments:
            dest = workdir / "attachments" / "zendesk" / a.id / a.file_name
            a.size = source.download(a, dest)
            a.sha256 = hashlib.sha256(dest.read_bytes()).hexdigest()
            a.local_path = str(dest.relative_to(workdir))
    return staged, list(comments.values())


class _MiniEngine:
    """Loads batches and keeps the source -> target id map."""

    def __init__(self, target):
        self.target = target
        self.ids: dict[Entity, dict[str, str]] = {}

    def load(self, entity, records, fix=lambda r: r):
        items = [LoadItem(r.id, fix(dataclasses.replace(r))) for r in records]
        outcomes = []
        for i in range(0, len(items), 100):
            outcomes += self.target.collect(self.target.submit(entity, items[i:i + 100]))
        failed = [o for o in outcomes if o.outcome == Outcome.FAILED]
        assert not failed, failed[:3]
        self.ids[entity] = {o.source_id: o.target_id for o in outcomes}
        return outcomes

    def to(self, entity, value):
        return self.ids.get(entity, {}).get(value) if value else None

    def user(self, value):
        return self.to(Entity.END_USERS, value) or self.to(Entity.AGENTS, value)


def _load(engine: _MiniEngine, staged: dict, comments: list) -> None:
    e = engine
    e.load(Entity.TICKET_FIELDS, staged[Entity.TICKET_FIELDS].values())
    e.load(Entity.ORGANIZATIONS, staged[Entity.ORGANIZATIONS].values())
    e.load(Entity.END_USERS, staged[Entity.END_USERS].values(), lambda u: dataclasses.replace(
        u, organization_id=e.to(Entity.ORGANIZATIONS, u.organization_id)))
    e.load(Entity.AGENTS, staged[Entity.AGENTS].values())
    e.load(Entity.GROUPS, [g for g in staged[Entity.GROUPS].values() if not g.deleted])
    e.load(Entity.MEMBERSHIPS, staged[Entity.MEMBERSHIPS].values(), lambda m: dataclasses.replace(
        m, agent_id=e.to(Entity.AGENTS, m.agent_id), group_id=e.to(Entity.GROUPS, m.group_id)))
    by_ticket: dict[str, list] = {}
    for c in comments:
        by_ticket.setdefault(c.ticket_id, []).append(c)

    def fix(t):
        return dataclasses.replace(
            t, requester_id=e.user(t.requester_id), submitter_id=e.user(t.submitter_id),
            assignee_id=e.to(Entity.AGENTS, t.assignee_id), group_id=e.to(Entity.GROUPS,
                                                                            t.group_id),
            organization_id=e.to(Entity.ORGANIZATIONS, t.organization_id),
            comments=[dataclasses.replace(c, author_id=e.user(c.author_id))
                      for c in by_ticket.get(t.id, [])])
    e.load(Entity.TICKETS, staged[Entity.TICKETS].values(), fix)


def test_zendesk_to_zendesk_keeps_tickets_comments_attachments_timestamps(sandboxes, tmp_path):
    src, dst = sandboxes
    options = Options(max_in_flight=4)
    source = zendesk.make_source(_cfg(src.url), workdir=tmp_path, options=options)
    target = zendesk.make_target(_cfg(dst.url), workdir=tmp_path, options=options)
    target.jobs.poll_interval = 0.05
    staged, comments = _export(source, tmp_path)
    assert len(staged[Entity.TICKETS]) == 15 and comments
    assert any(c.attachments for c in comments), "the seed has attachments"
    engine = _MiniEngine(target)
    _load(engine, staged, comments)

    by_ticket: dict[str, list] = {}
    for c in comments:
        by_ticket.setdefault(c.ticket_id, []).append(c)
    compared = 0
    for sid, ticket in staged[Entity.TICKETS].items():
        got = target.fetch(Entity.TICKETS, engine.ids[Entity.TICKETS][sid])
        assert got.external_id == sid
        assert (got.created_at, got.updated_at) == (ticket.created_at, ticket.updated_at)
        assert got.status == ticket.status and got.subject == ticket.subject
        assert set(ticket.tags) <= set(got.tags) and "migrated" in got.tags
        want = sorted(by_ticket.get(sid, []), key=lambda c: (c.created_at, c.id))
        assert len(got.comments) == len(want)
        for g, w in zip(got.comments, want):
            assert (g.created_at, g.public) == (w.created_at, w.public)
            assert g.html_body == w.html_body if w.html_body else g.body == w.body
            assert g.author_id == engine.user(w.author_id)
            assert [(a.file_name, a.size) for a in g.attachments] == \
                [(a.file_name, a.size) for a in w.attachments]
            for a, wa in zip(g.attachments, w.attachments):
                dest = tmp_path / "back" / a.id / a.file_name
                target.client.download(a.url, dest)
                assert hashlib.sha256(dest.read_bytes()).hexdigest() == wa.sha256
                compared += 1
    assert compared == sum(len(c.attachments) for c in comments)

    # a second run finds everything already there: reconcile by external_id, no duplicates
    found = target.reconcile(Entity.TICKETS, list(staged[Entity.TICKETS]))
    assert found == engine.ids[Entity.TICKETS]
    source.close()
    target.close()


def test_both_comment_strategies_export_the_same_comments(tmp_path):
    run = pytest.importorskip("connectors.sandbox.run")
    with run.start_sandbox("zendesk", tickets=25) as src:
        source = zendesk.make_source(_cfg(src.url), workdir=tmp_path, options=Options())
        ids = sorted({t.id for p in source.export(Entity.TICKETS) for t in p.records}, key=int)
        found = {}
        for strategy in ("per_ticket", "events"):
            source.comments_strategy = strategy
            found[strategy] = {c.id: (c.ticket_id, c.author_id, c.public, c.created_at,
                                      c.html_body, [a.id for a in c.attachments])
                               for p in source.export(Entity.COMMENTS, ticket_ids=ids)
                               for c in p.records}
        assert found["per_ticket"] and found["per_ticket"] == found["events"]
        source.close()


def test_job_cap_keeps_the_sandbox_queue_from_refusing(tmp_path):
    run = pytest.importorskip("connectors.sandbox.run")
    import httpx
    from migrator.models import EndUser
    with run.start_sandbox("zendesk", tickets=1, empty=True, job_seconds=0.3,
                           max_jobs=2) as dst:
        cfg = _cfg(dst.url).model_copy(update={"job_cap": 2})
        target = zendesk.make_target(cfg, workdir=tmp_path, options=Options())
        target.jobs.poll_interval = 0.05
        batches = [[LoadItem(f"u{b}-{i}", EndUser(id=f"u{b}-{i}", name=f"U {b} {i}",
                                                   email=f"u{b}.{i}@example.test"))
                    for i in range(10)] for b in range(5)]
        subs = [target.submit(Entity.END_USERS, items) for items in batches]  # 5 jobs, cap 2
        outcomes = [o for s in subs for o in target.collect(s)]
        assert [o.outcome for o in outcomes] == [Outcome.CREATED] * 50
        assert len({o.target_id for o in outcomes}) == 50
        stats = httpx.get(dst.url + "/_sandbox/stats").json()
        assert stats["jobs"]["rejected"] == 0 and stats["jobs"]["total"] == 5
        target.close()


def test_injected_429_and_503_are_retried_without_loss(tmp_path):
    run = pytest.importorskip("connectors.sandbox.run")
    from connectors.sandbox.common import Faults
    faults = {"rate_429": 0.04, "rate_503": 0.04, "seed": 3}
    with run.start_sandbox("zendesk", tickets=8, faults=Faults(**faults)) as src, \
            run.start_sandbox("zendesk", tickets=8, empty=True, faults=Faults(**faults)) as dst:
        options = Options(max_in_flight=4)
        source = zendesk.make_source(_cfg(src.url), workdir=tmp_path, options=options)
        target = zendesk.make_target(_cfg(dst.url), workdir=tmp_path, options=options)
        target.jobs.poll_interval = 0.05
        staged, comments = _export(source, tmp_path)
        engine = _MiniEngine(target)
        _load(engine, staged, comments)
        assert len(engine.ids[Entity.TICKETS]) == 8
        throttled = source.stats()["account"]["throttled"] + target.stats()["account"]["throttled"]
        assert throttled > 0, "the faults were injected and retried"
        for sid, tid in engine.ids[Entity.TICKETS].items():
            got = target.fetch(Entity.TICKETS, tid)
            assert len(got.comments) == len([c for c in comments if c.ticket_id == sid])
        source.close()
        target.close()


def test_freshdesk_to_zendesk_keeps_tickets_comments_attachments(tmp_path):
    run = pytest.importorskip("connectors.sandbox.run")
    freshdesk = pytest.importorskip("connectors.freshdesk")
    with run.start_sandbox("freshdesk", tickets=8) as src, \
            run.start_sandbox("zendesk", tickets=8, empty=True) as dst:
        fd_cfg = EndpointConfig(type="freshdesk", base_url=src.url, api_key="literal:sandbox-key")
        source = freshdesk.make_source(fd_cfg, workdir=tmp_path, options=Options())
        target = zendesk.make_target(_cfg(dst.url), workdir=tmp_path, options=Options())
        target.jobs.poll_interval = 0.05
        staged = {e: {r.id: r for p in source.export(e) for r in p.records} for e in EXPORTED}
        ids = sorted(staged[Entity.TICKETS])
        comments = list({c.id: c for p in source.export(Entity.COMMENTS, ticket_ids=ids)
                         for c in p.records}.values())
        assert any(c.attachments for c in comments)
        engine = _MiniEngine(target)
        _load(engine, staged, comments)
        fields = target.lookups.fields()
        dropdowns = [f.key for f in staged[Entity.TICKET_FIELDS].values() if f.type == "dropdown"]
        checked = 0
        for sid, ticket in staged[Entity.TICKETS].items():
            got = target.fetch(Entity.TICKETS, engine.ids[Entity.TICKETS][sid])
            assert got.created_at == ticket.created_at and got.external_id == sid
            want = sorted((c for c in comments if c.ticket_id == sid),
                          key=lambda c: (c.created_at, c.id))
            assert [(c.created_at, c.public) for c in got.comments] == \
                [(c.created_at, c.public) for c in want]
            assert [[a.size for a in c.attachments] for c in got.comments] == \
                [[a.size for a in c.attachments] for c in want]
            for key in dropdowns:  # drop-down values arrive as the option tags Zendesk keeps
                if ticket.custom_fields.get(key) is None:
                    continue
                field = fields[key]
                value = got.custom_fields[str(field["id"])]
                assert value == tagify(ticket.custom_fields[key])
                assert value in {o["value"] for o in field["custom_field_options"]}
                checked += 1
        assert checked
        source.close()
        target.close()


def test_connections_dropped_after_processing_create_no_duplicates(tmp_path):
    run = pytest.importorskip("connectors.sandbox.run")
    import httpx
    from connectors.sandbox.common import Faults
    with run.start_sandbox("zendesk", tickets=12) as src, \
            run.start_sandbox("zendesk", tickets=12, empty=True,
                              faults=Faults(drop_after_rate=0.15, seed=5)) as dst:
        source = zendesk.make_source(_cfg(src.url), workdir=tmp_path, options=Options())
        target = zendesk.make_target(_cfg(dst.url), workdir=tmp_path, options=Options())
        target.jobs.poll_interval = 0.05
        staged, comments = _export(source, tmp_path)
        before = httpx.get(dst.url + "/_sandbox/counts").json()
        _load(_MiniEngine(target), staged, comments)
        after = httpx.get(dst.url + "/_sandbox/counts").json()
        assert httpx.get(dst.url + "/_sandbox/stats").json()["faults"]["drop_after"] > 0
        live_groups = [g for g in staged[Entity.GROUPS].values() if not g.deleted]
        assert after["tickets"] - before["tickets"] == len(staged[Entity.TICKETS])
        assert after["groups"] - before["groups"] == len(live_groups)
        assert after["ticket_fields"] - before["ticket_fields"] == len(staged[Entity.TICKET_FIELDS])
        assert after["organizations"] - before["organizations"] == \
            len(staged[Entity.ORGANIZATIONS])
        assert after["comments"] - before["comments"] == len(comments)
        source.close()
        target.close()
