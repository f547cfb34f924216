"""Time entries: exported from one Freshdesk sandbox (the account-wide ``GET /time_entries`` list,
reference §2.4: one paged list for every ticket) and loaded into another through the Target."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from connectors.base import LoadItem
from connectors.freshdesk import make_source, make_target
from migrator.config import EndpointConfig, Options
from migrator.models import Comment, Entity, Outcome, Ticket

pytestmark = pytest.mark.e2e


@pytest.fixture
def boxes():
    run = pytest.importorskip("connectors.sandbox.run")
    with run.start_sandbox("freshdesk", seed=4, tickets=30) as src, \
            run.start_sandbox("freshdesk", empty=True) as dst:
        yield src, dst


def _cfg(url: str, monkeypatch, **extra) -> EndpointConfig:
    monkeypatch.setenv("FD_TIME_KEY", "sandbox-key")
    return EndpointConfig(type="freshdesk", base_url=url, api_key="${FD_TIME_KEY}", **extra)


def _records(source, entity) -> list:
    return [r for page in source.export(entity) for r in page.records]


def _ok(outcomes, want=Outcome.CREATED) -> dict[str, str]:
    assert {o.outcome for o in outcomes} == {want}, [o.reason for o in outcomes][:3]
    return {o.source_id: o.target_id for o in outcomes}


def test_time_entries_of_every_ticket_are_exported_and_loaded_with_their_dates(
        boxes, tmp_path, monkeypatch) -> None:
    src, dst = boxes
    source = make_source(_cfg(src.url, monkeypatch), workdir=tmp_path, options=Options())
    target = make_target(_cfg(dst.url, monkeypatch, create_agents=True), workdir=tmp_path,
                         options=Options(max_in_flight=2))
    try:
        entries = _records(source, Entity.TIME_ENTRIES)
        seeded = src.store.time_entries
        assert len(entries) == len(seeded) > 0
        assert {e.ticket_id for e in entries} == {str(e["ticket_id"]) for e in seeded.values()}
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert all(e.executed_at and e.executed_at < now for e in entries)
        assert all(e.seconds > 0 and e.seconds % 60 == 0 for e in entries)
        users = {str(u) for u in [*src.store.agents, *src.store.contacts]}
        assert all(e.agent_id in users for e in entries)  # agents who left are contacts now

        some = [e for e in entries if int(e.agent_id) in src.store.agents][:6]
        agents = {a.id: a for a in _records(source, Entity.AGENTS)}
        agent_ids = _ok(target.submit(Entity.AGENTS, [LoadItem(aid, dataclasses.replace(
            agents[aid], role="Agent", group_ids=[])) for aid in {e.agent_id for e in some}]
        ).outcomes)
        ticket_ids = _ok(target.submit(Entity.TICKETS, [LoadItem(tid, Ticket(
            id=tid, subject=f"T{tid}", status="open", priority="normal",
            extra={"requester_email": "req@x.test", "requester_name": "Req"},
            comments=[Comment(id=f"d{tid}", ticket_id=tid, author_id=None, body="Help",
                              public=True, created_at="2023-01-01T00:00:00Z")]))
            for tid in {e.ticket_id for e in some}]).outcomes)
        items = [LoadItem(e.id, dataclasses.replace(
            e, ticket_id=ticket_ids[e.ticket_id], agent_id=agent_ids[e.agent_id])) for e in some]
        made = _ok(target.submit(Entity.TIME_ENTRIES, items).outcomes)
        for e in some:
            row = dst.store.time_entries[int(made[e.id])]
            assert (row["executed_at"], row["agent_id"], row["ticket_id"]) == (
                e.executed_at, int(agent_ids[e.agent_id]), int(ticket_ids[e.ticket_id]))
            assert row["time_spent"] == f"{e.seconds // 3600:02d}:{e.seconds % 3600 // 60:02d}"
        again = _ok(target.submit(Entity.TIME_ENTRIES, items).outcomes, Outcome.REUSED)
        assert again == made and len(dst.store.time_entries) == len(some)
        assert sorted(target.delete(Entity.TIME_ENTRIES, list(made.values()))) == sorted(
            made.values())  # rollback
        assert dst.store.time_entries == {}
    finally:
        source.close()
        target.close()
