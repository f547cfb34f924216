"""What Freshdesk cannot take as it was: blocked/deleted contacts, CSAT scores, time entries."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from connectors.base import LoadItem
from connectors.freshdesk import render as R
from migrator.models import EndUser, Entity, Outcome, SatisfactionRating, Ticket, TimeEntry
from tests.connectors.freshdesk.test_freshdesk_load import FakeAccount, _ticket

BASE = "https://acme.freshdesk.com"


class TimeAccount(FakeAccount):
    """The fake account plus a ticket's time entries."""

    def __init__(self):
        super().__init__()
        self.entries: dict[int, list[dict]] = {}

    def routes(self):
        return [(r"/tickets/(\d+)/time_entries", "GET", lambda b, q, t: httpx.Response(
                    200, json=self.entries.get(int(t), []))),
                (r"/tickets/(\d+)/time_entries", "POST", self.create_entry),
                *super().routes()]

    def create_entry(self, body, q, tid):
        row = {"id": self._id(), "ticket_id": int(tid), **body}
        self.entries.setdefault(int(tid), []).append(row)
        return httpx.Response(201, json=row)


@pytest.fixture
def account(httpx_mock) -> TimeAccount:
    fake = TimeAccount()
    httpx_mock.add_callback(fake, is_reusable=True, is_optional=True)
    return fake


# -- blocked and deleted contacts --------------------------------------------------------------
def test_deleted_contacts_end_deleted_blocked_ones_active_and_tagged(
        account, target_factory, httpx_mock) -> None:
    users = [EndUser(id="b", name="B", email="b@x.test", blocked=True),
             EndUser(id="d", name="D", email="d@x.test", deleted=True),
             EndUser(id="bd", name="BD", email="bd@x.test", blocked=True, deleted=True),
             EndUser(id="a", name="A", email="a@x.test"),
             EndUser(id="old", name="Old", email="old@x.test", blocked=True)]
    target = target_factory()
    httpx_mock.add_response(method="DELETE", url=re.compile(rf"{BASE}/api/v2/contacts/\d+"),
                            status_code=204, is_reusable=True)
    out = {o.source_id: o for o in target.submit(
        Entity.END_USERS, [LoadItem(u.id, u) for u in users]).outcomes}
    assert [out[k].outcome for k in ("b", "d", "bd", "a")] == [Outcome.CREATED] * 4
    assert out["b"].reason.startswith("blocked in the source; created active and tagged")
    assert out["d"].reason.startswith("deleted in the source; created, then deleted (soft)")
    assert "the API cannot block a contact" in out["bd"].reason
    assert out["a"].reason is None
    assert (out["old"].outcome, out["old"].target_id) == (Outcome.REUSED, "1")
    assert "blocked in the source" in out["old"].reason
    deleted = [r.url.path for r in httpx_mock.get_requests() if r.method == "DELETE"]
    assert deleted == [f"/api/v2/contacts/{out[k].target_id}" for k in ("d", "bd")]
    assert account.contacts[int(out["b"].target_id)]["tags"] == ["blocked-in-source"]
    assert "tags" not in account.contacts[int(out["a"].target_id)]
    notes = " ".join(target.capabilities.notes)
    assert "end deleted" in notes and "cannot be blocked through the API" in notes


# -- satisfaction ratings ----------------------------------------------------------------------
def test_source_puts_each_tickets_latest_rating_on_the_ticket(httpx_mock, source) -> None:
    source._status_names = {}
    ratings = [{"id": 1, "ticket_id": 5, "ratings": {"default_question": -103},
                "feedback": "slow", "created_at": "2019-02-01T00:00:00Z"},
               {"id": 2, "ticket_id": 5, "ratings": {"default_question": 103},
                "feedback": "fixed!", "created_at": "2019-03-01T00:00:00Z"}]
    ratings_url = (f"{BASE}/api/v2/surveys/satisfaction_ratings?per_page=100"
                   "&created_since=1970-01-01T00%3A00%3A00Z")
    for _ in range(2):  # the index read once for the tickets, then the ratings' own export
        httpx_mock.add_response(url=ratings_url, json=ratings)
    rows = [{"id": i, "subject": "s", "status": 4, "requester_id": 1, "created_at":
             "2019-01-01T00:00:00Z", "updated_at": f"2019-01-0{i}T00:00:00Z"} for i in (5, 6)]
    httpx_mock.add_response(json=rows)  # the ticket list
    tickets = {t.id: t for p in source.export(Entity.TICKETS) for t in p.records}
    assert tickets["5"].extra["satisfaction_rating"] == {
        "id": "2", "score": "good", "comment": "fixed!", "created_at": "2019-03-01T00:00:00Z"}
    assert "satisfaction_rating" not in tickets["6"].extra
    assert len(source._ratings) == 1  # on disk: one row per rated ticket, the latest
    exported = [r for p in source.export(Entity.SATISFACTION_RATINGS) for r in p.records]
    assert sorted(r.id for r in exported) == ["1", "2"]  # its own paged read: every rating
    reads = [r for r in httpx_mock.get_requests() if r.url.path.endswith("satisfaction_ratings")]
    assert len(reads) == 2


def test_score_goes_into_the_description_header(account, target_factory) -> None:
    rating = {"score": "bad", "comment": "too slow", "created_at": "2019-05-04T00:00:00Z"}
    t = _ticket(extra={"requester_name": "Old", "requester_email": "old@x.test",
                       "satisfaction_rating": rating})
    [outcome] = target_factory().submit(Entity.TICKETS, [LoadItem("77", t)]).outcomes
    first_line = html.unescape(account.tickets[int(outcome.target_id)]["description"])
    first_line = first_line.split("\n")[0]
    assert "satisfaction: bad (\u201ctoo slow\u201d) on 2019-05-04T00:00:00Z" in first_line
    assert first_line.index("Migrated ticket #77") < first_line.index("satisfaction")


@pytest.mark.parametrize("rating", [None, {"score": "offered"}, "good"])
def test_no_score_no_header_part(rating) -> None:
    t = Ticket(id="1", subject="s", extra={"satisfaction_rating": rating})
    assert "satisfaction" not in R.ticket_header(t)


def test_ratings_are_skipped_with_the_reason_and_the_limit_is_announced(
        account, target_factory) -> None:
    target = target_factory()
    r = SatisfactionRating(id="9", ticket_id="5", score="good")
    [outcome] = target.submit(Entity.SATISFACTION_RATINGS, [LoadItem("9", r)]).outcomes
    assert outcome.outcome is Outcome.SKIPPED and "description header" in outcome.reason
    notes = " ".join(target.capabilities.notes)
    assert "satisfaction ratings" in notes and "contacts deleted in the source" in notes
    limits = {c.name: c for c in target.check()}["Freshdesk target limits"]
    assert limits.warning and "satisfaction ratings" in limits.detail


# -- time entries ------------------------------------------------------------------------------
def test_time_entries_keep_their_date_and_are_created_once(account, target_factory) -> None:
    entry = TimeEntry(id="te1", ticket_id="3001", agent_id="50", seconds=5400, billable=True,
                      executed_at="2019-05-02T10:00:00Z")
    target = target_factory()
    [first] = target.submit(Entity.TIME_ENTRIES, [LoadItem("te1", entry)]).outcomes
    assert first.outcome is Outcome.CREATED
    [row] = account.entries[3001]
    assert (row["time_spent"], row["executed_at"], row["agent_id"], row["billable"]) == (
        "01:30", "2019-05-02T10:00:00Z", 50, True)
    [again] = target_factory().submit(Entity.TIME_ENTRIES, [LoadItem("te1", entry)]).outcomes
    assert (again.outcome, again.target_id) == (Outcome.REUSED, first.target_id)
    assert len(account.entries[3001]) == 1
    orphan = TimeEntry(id="te2", ticket_id="", agent_id=None, seconds=60)
    [skipped] = target.submit(Entity.TIME_ENTRIES, [LoadItem("te2", orphan)]).outcomes
    assert skipped.outcome is Outcome.SKIPPED
