"""Lost answers and recovery while Freshdesk's search index lags behind writes (gotcha 20).

The sandbox's ``search_lag`` knob hides a ticket from ``/search/tickets`` until that many seconds
after its last write, as the real index does for minutes. A ticket whose create answer was lost
must still be found (by the scan of recently updated tickets, which reads the ticket list, not
the index) and not created twice; a contact is found by the exact ``/contacts?email=`` filter.
"""

from __future__ import annotations

import re

import httpx
import pytest

from connectors.base import LoadItem
from connectors.freshdesk import make_target
from connectors.freshdesk import render as R
from migrator.config import EndpointConfig, Options
from migrator.models import Comment, EndUser, Entity, Outcome, Ticket

pytestmark = pytest.mark.e2e
LAG = 600.0  # ten minutes: nothing this test writes reaches the index


class DropAfter(httpx.BaseTransport):
    """Real loopback HTTP, but the answer to chosen requests is lost after the sandbox
    processed them (a connection dropped mid-response)."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.rules: list[list] = []  # [method, path pattern, times left]
        self.sent: list[tuple[str, str]] = []

    def drop(self, method: str, pattern: str, times: int = 1) -> None:
        self.rules.append([method, pattern, times])

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        response = self.inner.handle_request(request)
        for rule in self.rules:
            if rule[2] and request.method == rule[0] and re.fullmatch(rule[1], request.url.path):
                rule[2] -= 1
                response.read()
                response.close()
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                                request=request)
        return response

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.sent if m == method and re.fullmatch(pattern, p))

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def box():
    run = pytest.importorskip("connectors.sandbox.run")
    sandbox = run.start_sandbox("freshdesk", empty=True, search_lag=LAG)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def make(box, tmp_path, monkeypatch):
    monkeypatch.setenv("FD_LAG_KEY", "sandbox-key")
    cfg = EndpointConfig(type="freshdesk", base_url=box.url, api_key="${FD_LAG_KEY}")
    made = []

    def build(transport: httpx.BaseTransport | None = None):
        target = make_target(cfg, workdir=tmp_path, options=Options(max_in_flight=2),
                             transport=transport)
        target.client._sleep = lambda s: None
        made.append(target)
        return target

    yield build
    for target in made:
        target.close()


def _ticket(sid: str, requester: str) -> Ticket:
    desc = Comment(id=f"c{sid}", ticket_id=sid, author_id=requester, body="Help",
                   public=True, created_at="2023-04-01T10:00:00Z")
    note = Comment(id=f"n{sid}", ticket_id=sid, author_id=requester, body="More",
                   public=True, created_at="2023-04-02T10:00:00Z")
    return Ticket(id=sid, subject=f"Ticket {sid}", status="open", priority="normal",
                  requester_id=requester, created_at="2023-04-01T10:00:00Z",
                  updated_at="2023-04-02T10:00:00Z", comments=[desc, note])


def _requester(target) -> str:
    [out] = target.submit(Entity.END_USERS, [LoadItem("u", EndUser(
        id="u", name="Req", email="req@x.test"))]).outcomes
    return out.target_id


def _by_source(box) -> dict[str, list[int]]:
    name = next(f["name"] for f in box.store.ticket_fields.values()
                if f["label"] == R.SYSTEM_FIELDS[R.SOURCE_ID_FIELD][0])
    out: dict[str, list[int]] = {}
    for tid, t in box.store.tickets.items():
        out.setdefault(str(t["custom_fields"].get(name)), []).append(tid)
    return out


def test_the_lag_knob_hides_fresh_writes_from_search(box, make) -> None:
    target = make()
    rid = _requester(target)
    [out] = target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1", rid))]).outcomes
    assert out.outcome is Outcome.CREATED, out.reason
    assert target._search_tickets(["t1"]) == {}  # written, not yet in the index
    box.app.state.knobs.search_lag = 0.0
    assert target._search_tickets(["t1"]) == {"t1": out.target_id}


def test_ticket_whose_answer_was_lost_is_found_by_the_scan_not_made_twice(box, make) -> None:
    net = DropAfter()
    target = make(net)
    rid = _requester(target)
    net.drop("POST", "/api/v2/tickets")
    [out] = target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1", rid))]).outcomes
    assert out.outcome is Outcome.CREATED, out.reason
    assert _by_source(box)["t1"] == [int(out.target_id)]
    assert net.count("POST", "/api/v2/tickets") == 1
    assert net.count("GET", "/api/v2/search/tickets") >= 1  # asked the index, found nothing
    assert len(box.store.conversations[int(out.target_id)]) == 1  # the note, once


def test_contact_whose_answer_was_lost_is_found_by_the_email_filter(box, make) -> None:
    net = DropAfter()
    target = make(net)
    net.drop("POST", "/api/v2/contacts")
    [out] = target.submit(Entity.END_USERS, [LoadItem("u1", EndUser(
        id="u1", name="New", email="New@x.test"))]).outcomes
    assert out.outcome is Outcome.CREATED, out.reason
    mine = [cid for cid, c in box.store.contacts.items() if c["email"].lower() == "new@x.test"]
    assert mine == [int(out.target_id)] and net.count("POST", "/api/v2/contacts") == 1
    # A second process sending it again gets the 409 and reuses the same contact.
    [again] = make().submit(Entity.END_USERS, [LoadItem("u1", EndUser(
        id="u1", name="New", email="new@x.test"))]).outcomes
    assert (again.outcome, again.target_id) == (Outcome.REUSED, out.target_id)


def test_recovery_of_an_interrupted_batch_finds_every_ticket(box, make) -> None:
    first = make()
    rid = _requester(first)
    items = [LoadItem(f"t{i}", _ticket(f"t{i}", rid)) for i in range(12)]
    made = {o.source_id: o.target_id for o in first.submit(Entity.TICKETS, items).outcomes}
    first.close()
    # A new process (nothing in memory) reconciles the batch whose outcomes were never recorded.
    second = make()
    ids = [i.source_id for i in items]
    assert second.reconcile(Entity.TICKETS, ids) == made
    resent = [LoadItem(i.source_id, i.record, recovering=True) for i in items]
    outcomes = second.submit(Entity.TICKETS, resent).outcomes
    assert {o.outcome for o in outcomes} == {Outcome.UNCHANGED}
    assert {o.source_id: o.target_id for o in outcomes} == made
    assert all(len(v) == 1 for k, v in _by_source(box).items())
    assert sum(len(c) for c in box.store.conversations.values()) == 12
