"""Creating requests whose answer is lost (the connection drops after sending) are not resent
blindly: the Freshdesk target looks for what they would have created and sends again only if it
is not there (migrator/writes.py)."""

from __future__ import annotations

import re

import httpx
import pytest

from connectors.base import LoadItem
from connectors.freshdesk import render as R
from migrator.models import EndUser, Entity, Group, Organization, Outcome, TicketField
from tests.connectors.freshdesk.test_freshdesk_load import FakeAccount, _ticket


class Account(FakeAccount):
    """The fake account plus companies."""

    def __init__(self):
        super().__init__()
        self.companies: dict[int, dict] = {}

    def routes(self):
        return [(r"/companies", "GET", lambda b, q: httpx.Response(
                    200, json=list(self.companies.values()))),
                (r"/companies", "POST", self.create_company), *super().routes()]

    def create_company(self, body, q):
        cid = self._id()
        self.companies[cid] = {"id": cid, **body}
        return httpx.Response(201, json=self.companies[cid])


class Dropping:
    """Drops the connection of the first ``times`` matching requests, after (the account
    processed it) or before (it never arrived) handing them to the account."""

    def __init__(self, account: FakeAccount):
        self.account = account
        self.rules: list[list] = []
        self.sent: list[httpx.Request] = []

    def drop(self, method: str, pattern: str, *, after: bool, times: int = 1) -> None:
        self.rules.append([method, pattern, after, times])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        for rule in self.rules:
            method, pattern, after, times = rule
            if times and request.method == method and re.fullmatch(pattern, request.url.path):
                rule[3] -= 1
                if after:
                    self.account(request)
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                                request=request)
        return self.account(request)

    def posts(self, pattern: str) -> int:
        return sum(1 for r in self.sent
                   if r.method == "POST" and re.fullmatch(pattern, r.url.path))


@pytest.fixture
def account() -> Account:
    return Account()


@pytest.fixture
def net(httpx_mock, account) -> Dropping:
    dropping = Dropping(account)
    httpx_mock.add_callback(dropping, is_reusable=True, is_optional=True)
    return dropping


NOTES = r"/api/v2/tickets/\d+/notes"


def test_note_taken_before_the_drop_is_not_sent_again(account, net, target_factory) -> None:
    net.drop("POST", NOTES, after=True)
    [outcome] = target_factory().submit(Entity.TICKETS, [LoadItem("77", _ticket())]).outcomes
    assert outcome.outcome is Outcome.CREATED, outcome.reason
    notes = account.notes[int(outcome.target_id)]
    assert sorted(R.note_markers(n["body_text"] for n in notes)) == ["501", "502"]
    assert len(notes) == 2 and net.posts(NOTES) == 2  # the lost one was found, not resent


def test_note_lost_before_arriving_is_sent_again(account, net, target_factory) -> None:
    net.drop("POST", NOTES, after=False)
    [outcome] = target_factory().submit(Entity.TICKETS, [LoadItem("77", _ticket())]).outcomes
    assert outcome.outcome is Outcome.CREATED, outcome.reason
    assert len(account.notes[int(outcome.target_id)]) == 2 and net.posts(NOTES) == 3


@pytest.mark.parametrize("after", [True, False])
def test_ticket_post_with_lost_answer_makes_one_ticket(account, net, target_factory,
                                                       after) -> None:
    net.drop("POST", "/api/v2/tickets", after=after)
    [outcome] = target_factory().submit(Entity.TICKETS, [LoadItem("77", _ticket())]).outcomes
    assert outcome.outcome is Outcome.CREATED, outcome.reason
    assert list(account.tickets) == [int(outcome.target_id)]  # found by its source-id field
    assert net.posts("/api/v2/tickets") == (1 if after else 2)
    assert len(account.notes[int(outcome.target_id)]) == 2


@pytest.mark.parametrize("after", [True, False])
def test_group_post_with_lost_answer_makes_one_group(account, net, target_factory,
                                                     after) -> None:
    net.drop("POST", "/api/v2/groups", after=after)
    [outcome] = target_factory().submit(Entity.GROUPS, [LoadItem("g", Group(
        id="g", name="Support/T3"))]).outcomes
    assert outcome.outcome is Outcome.CREATED, outcome.reason
    made = [g for g in account.groups.values() if g["name"] == "Support/T3"]
    assert [str(g["id"]) for g in made] == [outcome.target_id]
    assert net.posts("/api/v2/groups") == (1 if after else 2)


@pytest.mark.parametrize("after", [True, False])
def test_contact_and_company_with_lost_answer_made_once(account, net, target_factory,
                                                        after) -> None:
    net.drop("POST", "/api/v2/contacts", after=after)
    net.drop("POST", "/api/v2/companies", after=after)
    target = target_factory()
    [company] = target.submit(Entity.ORGANIZATIONS, [LoadItem("o1", Organization(
        id="o1", name="Acme"))]).outcomes
    [contact] = target.submit(Entity.END_USERS, [LoadItem("u1", EndUser(
        id="u1", name="New", email="new@x.test"))]).outcomes
    assert (company.outcome, contact.outcome) == (Outcome.CREATED, Outcome.CREATED)
    assert [str(c) for c in account.companies] == [company.target_id]
    assert [c for c in account.contacts.values() if c["email"] == "new@x.test"] == [
        account.contacts[int(contact.target_id)]]
    expected = 1 if after else 2
    assert (net.posts("/api/v2/companies"), net.posts("/api/v2/contacts")) == (expected,
                                                                              expected)


@pytest.mark.parametrize("after", [True, False])
def test_ticket_field_with_lost_answer_made_once(account, net, target_factory, after) -> None:
    target = target_factory()
    target.field_names()  # the migration fields first, without faults
    net.drop("POST", "/api/v2/admin/ticket_fields", after=after)
    field = TicketField(id="f1", key="cf_x", title="X thing", type="text")
    [outcome] = target.submit(Entity.TICKET_FIELDS, [LoadItem("f1", field)]).outcomes
    assert outcome.outcome is Outcome.CREATED, outcome.reason
    assert [f["id"] for f in account.fields if f["label"] == "X thing"] == [int(outcome.target_id)]


def test_a_company_name_taken_since_the_listing_is_reused_and_one_not_listed_fails(
        account, httpx_mock, target_factory) -> None:
    """Freshdesk answers 409 for a company name it has: one created after the target listed
    its companies is found by name and reused (and remembered); a 409 for a name the account
    does not list is a failed record with the reason, not a crash."""
    target = target_factory()
    conflicts: list[str] = []

    def create(body, q):
        if body["name"] in ("Late Co", "Ghost Co"):
            conflicts.append(body["name"])
            if body["name"] == "Late Co":  # made by someone else since we listed
                account.companies[900] = {"id": 900, "name": "Late Co"}
            return httpx.Response(409, json={"errors": [{"code": "duplicate_value"}]})
        return account.create_company(body, q)

    httpx_mock.add_callback(lambda r: _route(account, r, create), is_reusable=True,
                            is_optional=True)
    items = [LoadItem("o1", Organization(id="o1", name="Late Co")),
             LoadItem("o2", Organization(id="o2", name="Ghost Co")),
             LoadItem("o3", Organization(id="o3", name="New Co"))]
    out = {o.source_id: o for o in target.collect(target.submit(Entity.ORGANIZATIONS, items))}
    assert (out["o1"].outcome, out["o1"].target_id) == (Outcome.REUSED, "900")
    assert out["o2"].outcome == Outcome.FAILED and "Ghost Co" in out["o2"].reason
    assert out["o3"].outcome == Outcome.CREATED
    assert sorted(conflicts) == ["Ghost Co", "Late Co"]
    # remembered: sent again, "Late Co" is reused without another POST
    again = target.collect(target.submit(Entity.ORGANIZATIONS, [items[0]]))
    assert (again[0].outcome, again[0].target_id) == (Outcome.REUSED, "900")
    assert conflicts.count("Late Co") == 1


def _route(account: Account, request: httpx.Request, create) -> httpx.Response:
    import json as _json
    if request.method == "POST" and request.url.path == "/api/v2/companies":
        return create(_json.loads(request.content), dict(request.url.params))
    return account(request)
