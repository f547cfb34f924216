"""The resolver's id maps: the plan's few records read whole, staged ones a page at a time."""

from __future__ import annotations

from types import SimpleNamespace

from migrator.engine.resolve import Resolver, _id_map
from migrator.models import Agent, EndUser, Entity, Outcome
from migrator.state import RecordOutcome, StateStore


def _store(tmp_path, users: int = 50) -> StateStore:
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    state.stage([EndUser(id=f"u{i}", name=f"User {i}", email=f"u{i}@ex.test")
                 for i in range(users)] + [Agent(id="a1", name="Lead", email="lead@ex.test")])
    state.record_outcomes(Entity.END_USERS, [
        RecordOutcome(f"u{i}", Outcome.CREATED, target_id=f"T{i}") for i in range(users)], 1)
    state.record_outcomes(Entity.AGENTS, [RecordOutcome("a1", Outcome.CREATED, target_id="A1")], 1)
    return state


def _count_reads(state: StateStore, monkeypatch) -> list:
    calls = []
    real = state.target_ids

    def spy(entity, source_ids=None):
        calls.append((entity, None if source_ids is None else sorted(source_ids)))
        return real(entity, source_ids)
    monkeypatch.setattr(state, "target_ids", spy)
    return calls


def test_end_user_ids_are_read_for_a_page_not_whole(tmp_path, monkeypatch):
    state = _store(tmp_path)
    calls = _count_reads(state, monkeypatch)
    resolver = Resolver(state, None)
    resolver.refresh([Entity.END_USERS, Entity.AGENTS, Entity.ORGANIZATIONS])
    assert calls == [(Entity.AGENTS, None)]  # only the plan's entity is read whole
    page = [SimpleNamespace(organization_id=None, requester_id=f"u{i}", submitter_id="a1",
                            comments=[SimpleNamespace(author_id="u9")]) for i in range(3)]
    staged_reads = []
    real_many = state.get_staged_many
    monkeypatch.setattr(state, "get_staged_many", lambda e, ids: (
        staged_reads.append(sorted(ids)) or real_many(e, ids)))
    resolver.prefetch(Entity.TICKETS, page)
    assert calls[1:] == [(Entity.END_USERS, ["a1", "u0", "u1", "u2", "u9"])]  # one query
    assert staged_reads == [["u0", "u1", "u2", "u9"]]  # who they are: one query (not the agent)
    assert [resolver.person(f"u{i}").target_id for i in range(3)] == ["T0", "T1", "T2"]
    assert resolver.person("a1", prefer="agent").target_id == "A1"
    assert resolver.tid(Entity.END_USERS, "nobody") is None
    assert resolver.tid(Entity.END_USERS, "nobody") is None  # a miss is remembered too
    assert calls[2:] == [(Entity.END_USERS, ["nobody"])]
    assert resolver.tid(Entity.END_USERS, "u30") == "T30"  # not prefetched: read on its own
    assert staged_reads == [["u0", "u1", "u2", "u9"]]  # the page's people were not read again


def test_a_staged_id_map_is_bounded(tmp_path):
    state = _store(tmp_path, users=40)
    ids = _id_map(state, Entity.END_USERS, limit=10)
    for start in range(0, 40, 5):
        ids.prefetch([f"u{i}" for i in range(start, start + 5)])
        assert len(ids._known) <= 10
    assert [ids.get(f"u{i}") for i in (0, 17, 39)] == ["T0", "T17", "T39"]
    assert len(ids._known) <= 10
