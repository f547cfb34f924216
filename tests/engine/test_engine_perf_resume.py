"""The load step's fast paths (issue 8): a done, unchanged ticket is not decoded again, and the
plan's ticket profile is kept in the state store while the mapping and the staging stay the same.
SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

import migrator.engine.records as records_mod
from bench.local import MAPPING
from bench.nulltarget import NullTarget
from bench.synth import people, template, ticket_pages
from mappings import StoreStaged, build_plan, load_mapping
from mappings.profile import CLOSED_STATUSES
from migrator.config import Options
from migrator.engine import migrate
from migrator.models import Entity
from migrator.state import StateStore

N = 120


@pytest.fixture
def staged(state_url):
    state = StateStore(state_url)
    t = template(tickets=40, comments_per_ticket=3)
    state.stage(people(t))
    for page in ticket_pages(t, N, page=50):
        state.stage(page)
    yield state
    state.close()


class Counting:
    """Counts payloads decoded by the tickets step and tickets mapped by the plan."""

    def __init__(self, monkeypatch, plan):
        self.decoded = 0
        self.mapped = 0
        real_loads, real_map = records_mod.loads, plan.map_ticket

        def loads(payload):
            self.decoded += 1
            return real_loads(payload)

        def map_ticket(ticket):
            self.mapped += 1
            return real_map(ticket)

        monkeypatch.setattr(records_mod, "loads", loads)
        monkeypatch.setattr(plan, "map_ticket", map_ticket)


def _run(state, plan, target=None):
    target = target or NullTarget(batch_size=25)
    target.keep_ids = True
    report = migrate(state, target, plan, Options(batch_size=25, max_in_flight=2))
    return report, target


def _plan(state, mapping=MAPPING):
    return build_plan(load_mapping(mapping), StoreStaged(state), "freshdesk")


def test_a_rerun_decodes_no_done_ticket_and_a_resume_only_the_rest(staged, monkeypatch):
    plan = _plan(staged)
    report, target = _run(staged, plan)
    skipped = report.step("tickets").counts["skipped"]  # deleted/spam seeded tickets
    assert report.status == "done" and target.sent["tickets"] == N - skipped and skipped < 30
    count = Counting(monkeypatch, plan)
    report, target = _run(staged, plan)
    assert count.decoded == 0 and count.mapped == 0
    assert target.sent.get("tickets", 0) == 0
    assert report.step("tickets").counts["unchanged"] == N
    # a crash after the first 70: the id map holds only those
    ids = sorted(staged.target_ids(Entity.TICKETS))
    staged.forget_records(Entity.TICKETS, ids[70:])
    report, target = _run(staged, plan)
    rest = ids[70:]
    assert target.sent_ids["tickets"] == set(rest)
    assert count.mapped == len(rest)
    comments = staged.children_of(Entity.COMMENTS, rest)
    # each ticket left and its comments, none of the done ones
    assert count.decoded == len(rest) + sum(len(c) for c in comments.values())


def test_a_changed_ticket_or_new_comment_is_resent_and_only_those_are_decoded(staged,
                                                                           monkeypatch):
    plan = _plan(staged)
    _run(staged, plan)
    ids = sorted(staged.target_ids(Entity.TICKETS))
    a, b = ids[5], ids[9]
    changed = staged.get_staged(Entity.TICKETS, a)
    staged.stage([dataclasses.replace(changed, subject="changed",
                                      updated_at="2031-01-01T00:00:00Z")])
    comment = staged.children_of(Entity.COMMENTS, [b])[b][0]
    staged.stage([dataclasses.replace(comment, id=f"{b}99", created_at="2031-01-01T00:00:00Z")])
    count = Counting(monkeypatch, plan)
    report, target = _run(staged, plan)
    assert target.sent_ids["tickets"] == {a, b}
    assert report.step("tickets").counts["updated"] + report.step("tickets").counts["created"] == 2
    assert count.mapped == 2


def test_a_mapping_change_maps_again_but_resends_only_what_it_changed(staged, monkeypatch,
                                                                      tmp_path):
    plan = _plan(staged)
    _run(staged, plan)
    text = MAPPING.read_text().replace('group: "{team} · {tier}"', 'group: "{tier} ({team})"')
    assert text != MAPPING.read_text()
    other = tmp_path / "renamed.yaml"
    other.write_text(text)
    plan2 = _plan(staged, other)  # group names change, no ticket does
    count = Counting(monkeypatch, plan2)
    report, target = _run(staged, plan2)
    assert count.mapped == N and target.sent.get("tickets", 0) == 0
    report, target = _run(staged, plan2)  # the stamps were renewed: nothing decoded now
    assert count.mapped == N and report.step("tickets").counts["unchanged"] == N


def test_the_ticket_profile_is_kept_until_the_mapping_or_the_staging_changes(staged, tmp_path,
                                                                             monkeypatch):
    reads = []
    real_iter = StoreStaged.iter

    def iter_(self, entity):
        reads.append(entity)
        return real_iter(self, entity)

    monkeypatch.setattr(StoreStaged, "iter", iter_)
    first = _plan(staged)
    assert reads.count(Entity.TICKETS) == 1
    again = _plan(staged)
    assert reads.count(Entity.TICKETS) == 1  # from the store
    assert again.profile == first.profile and again.profile.total == N
    assert [g.id for g in again.groups] == [g.id for g in first.groups]
    other = tmp_path / "m.yaml"
    other.write_text(MAPPING.read_text().replace("add_tags: [migrated]",
                                                 "add_tags: [migrated, moved]"))
    _plan(staged, other)
    assert reads.count(Entity.TICKETS) == 2  # another mapping: profiled again
    _plan(staged)
    assert reads.count(Entity.TICKETS) == 3  # and the first one's entry was replaced
    t = staged.get_staged(Entity.TICKETS, "10000003")
    staged.stage([dataclasses.replace(t, status="closed")])
    fresh = _plan(staged)
    assert reads.count(Entity.TICKETS) == 4  # the staging moved: profiled again
    was_open = t.status not in CLOSED_STATUSES
    open_before = sum(first.profile.routed_open.values())
    assert sum(fresh.profile.routed_open.values()) == open_before - was_open
