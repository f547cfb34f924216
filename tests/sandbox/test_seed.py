"""The seeded demo company: deterministic, complete, consistent."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from connectors.sandbox.seed import attachment_bytes, build_company, target_account
from migrator.models import PRIORITIES, STATUSES, to_dict

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def company():
    return build_company(seed=7, tickets=400, now=NOW)


def _dump(c):
    return {name: [to_dict(r) for r in getattr(c, name)] for name in c.counts()}


def test_same_inputs_give_identical_output(company):
    assert _dump(build_company(seed=7, tickets=400, now=NOW)) == _dump(company)


def test_other_seed_gives_other_company(company):
    other = build_company(seed=8, tickets=400, now=NOW)
    assert [a.name for a in other.agents] != [a.name for a in company.agents]


def test_counts_are_believable(company):
    counts = company.counts()
    assert counts["tickets"] == 400
    assert 25 <= counts["agents"] <= 35
    assert counts["end_users"] >= 300
    assert 35 <= counts["organizations"] <= 45
    assert len(company.products) == 3
    assert 8 <= counts["groups"] <= 10
    per_ticket = Counter(c.ticket_id for c in company.comments)
    assert set(per_ticket) == {t.id for t in company.tickets}
    assert min(per_ticket.values()) >= 1 and max(per_ticket.values()) <= 15
    assert all(t.comment_count == per_ticket[t.id] for t in company.tickets)


def test_every_status_priority_and_type_present(company):
    assert {t.status for t in company.tickets} == set(STATUSES)
    assert {t.priority for t in company.tickets} == set(PRIORITIES)
    assert {t.type for t in company.tickets} == {"question", "incident", "problem", "task"}
    small = build_company(seed=3, tickets=12, now=NOW)
    assert {t.status for t in small.tickets} == set(STATUSES)


def test_references_resolve(company):
    users = {u.id for u in company.end_users}
    agents = {a.id for a in company.agents}
    assert not users & agents, "agents and end users share the Zendesk user id space"
    groups = {g.id for g in company.groups}
    orgs = {o.id for o in company.organizations}
    tickets = {t.id for t in company.tickets}
    assert len(tickets) == len(company.tickets)
    for t in company.tickets:
        assert t.requester_id in users
        assert t.assignee_id is None or t.assignee_id in agents
        assert t.group_id in groups
        assert t.organization_id is None or t.organization_id in orgs
    for c in company.comments:
        assert c.ticket_id in tickets and c.author_id in users | agents
    for m in company.memberships:
        assert m.agent_id in agents and m.group_id in groups
    for u in company.end_users:
        assert u.organization_id is None or u.organization_id in orgs
    fields = {f.key for f in company.ticket_fields}
    assert all(set(t.custom_fields) <= fields for t in company.tickets)
    for e in company.ticket_events:
        assert e.ticket_id in tickets
        if e.field == "group_id":
            assert e.value in groups
    assert all(r.ticket_id in tickets for r in company.satisfaction_ratings)
    assert all(x.ticket_id in tickets and x.agent_id in agents for x in company.time_entries)


def _t(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_time_ordering(company):
    by_ticket = company.comments_by_ticket()
    old = 0
    for t in company.tickets:
        created = _t(t.created_at)
        assert t.created_at.endswith("Z") and created < NOW
        comments = by_ticket[t.id]
        assert comments[0].created_at == t.created_at and comments[0].author_id == t.requester_id
        stamps = [_t(c.created_at) for c in comments]
        assert stamps == sorted(stamps) and stamps[-1] <= _t(t.updated_at) < NOW
        if t.first_responded_at:
            assert created < _t(t.first_responded_at)
        if t.solved_at:
            assert t.first_responded_at and _t(t.first_responded_at) <= _t(t.solved_at)
        if t.closed_at:
            assert _t(t.solved_at) < _t(t.closed_at) <= _t(t.updated_at)
        old += created < NOW - timedelta(days=30)
    assert old > 0.6 * len(company.tickets)
    assert min(_t(t.created_at) for t in company.tickets) > NOW - timedelta(days=550)


def test_final_status_matches_events(company):
    last = {}
    for e in company.ticket_events:
        if e.field == "status":
            last[e.ticket_id] = e.value
    assert all(last[t.id] == t.status for t in company.tickets)
    solved = [t for t in company.tickets if t.status in ("solved", "closed")]
    assert all(t.solved_at for t in solved)


def test_kpi_raw_material(company):
    events = company.ticket_events
    reopens = [e for e in events if e.field == "status" and e.previous == "solved"
               and e.value == "open"]
    escalations = [e for e in events if e.field == "group_id" and e.previous
                   and e.value in {"360000007", "360000008"}]
    assert reopens and len(escalations) >= 20
    solved = sum(t.status in ("solved", "closed") and not t.deleted for t in company.tickets)
    share = len(company.satisfaction_ratings) / solved
    assert 0.3 < share < 0.5
    assert {r.score for r in company.satisfaction_ratings} == {"good", "bad", "offered"}
    assert len({x.ticket_id for x in company.time_entries}) > 150
    escalated = {e.ticket_id for e in escalations}
    tech_tags = {"server-error", "firmware", "api"}
    assert any(tech_tags & set(t.tags) for t in company.tickets if t.id in escalated)


def test_tiers_are_inferable_but_not_labelled(company):
    names = {g.name for g in company.groups}
    assert {"Tier 2", "Tech Escalations", "Hub Support EU"} <= names
    roles = {a.role for a in company.agents}
    assert roles == {"admin", "agent"}
    assert {"Light Agent", "Team Lead"} <= {a.custom_role for a in company.agents}
    assert not any("tier" in " ".join(a.tags) for a in company.agents)
    assert {a.time_zone for a in company.agents} == {"Europe/Berlin", "America/Chicago"}


def test_messy_reality_is_present(company):
    text = " ".join(c.body for c in company.comments)
    assert any(ch in text for ch in "äöüß") and "é" in text
    assert any(ord(ch) > 0xFFFF for ch in text), "no emoji"
    assert sum(t.deleted for t in company.tickets) >= 3 and any(t.spam for t in company.tickets)
    assert any(not c.public for c in company.comments)
    left = {a.id for a in company.agents if not a.active or a.suspended}
    assert len(left) == 2 and any(c.author_id in left for c in company.comments)


def test_attachments_have_exact_deterministic_content(company):
    atts = [a for c in company.comments for a in c.attachments]
    assert len(atts) > 40 and any(a.inline for a in atts)
    assert {a.content_type for a in atts} >= {"image/png", "text/plain", "application/pdf"}
    assert max(a.size for a in atts) <= 200_000
    for a in atts[:60]:
        data = attachment_bytes(a)
        assert len(data) == a.size and data == attachment_bytes(a)
    png = next(a for a in atts if a.inline)
    assert attachment_bytes(png).startswith(b"\x89PNG\r\n\x1a\n")
    assert attachment_bytes(png).endswith(b"IEND\xaeB`\x82")
    inline_comment = next(c for c in company.comments if any(a.inline for a in c.attachments))
    assert "<img" in inline_comment.html_body


def test_target_account_has_only_seats(company):
    target = target_account(company)
    assert not target.tickets and not target.groups and not target.memberships
    assert not target.end_users and not target.organizations
    emails = {a.email for a in company.agents if a.active and not a.suspended}
    assert {a.email for a in target.agents} == emails
    assert all(not a.group_ids for a in target.agents)
    assert all(r.builtin for r in target.roles) and target.roles
    assert company.agents[0].group_ids, "target_account must not mutate the source"
