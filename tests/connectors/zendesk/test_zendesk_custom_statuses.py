"""Custom ticket statuses on a Zendesk target: a mapped custom status is imported as such.

A status that is not one of Zendesk's own is matched to an active custom status of the target by
its agent label (case-insensitively): the import body carries ``custom_status_id`` and the
status's category. The statuses are listed once, only when a ticket needs them; an account
without the feature (403/404) has none, and the ticket is imported as open with a note naming
what the target has. Unit tests over pytest-httpx, then one loopback run against the sandbox.
"""

from __future__ import annotations

import httpx
import pytest

import connectors.zendesk as zendesk
from connectors.base import LoadItem
from migrator.config import EndpointConfig, Options
from migrator.models import Comment, Entity, Outcome, Ticket

STATUSES = "/api/v2/custom_statuses"
IMPORT = "/api/v2/imports/tickets/create_many"
JOB = "/api/v2/job_statuses/show_many"
LISTED = {"custom_statuses": [
    {"id": 1, "agent_label": "Open", "status_category": "open", "active": True, "default": True},
    {"id": 7, "agent_label": "Waiting on vendor", "status_category": "pending", "active": True},
    {"id": 8, "agent_label": "Escalated to engineering", "status_category": "open",
     "active": True},
    {"id": 9, "agent_label": "Fixed, awaiting release", "status_category": "solved",
     "active": True},
    {"id": 10, "agent_label": "Awaiting parts", "status_category": "hold", "active": False},
]}


def _ticket(tid: str, status: str, **kw) -> Ticket:
    return Ticket(id=tid, subject=f"S{tid}", status=status, requester_id="700",
                  created_at="2020-01-01T10:00:00Z", updated_at="2020-01-03T10:00:00Z",
                  comments=[Comment(id=f"{tid}01", ticket_id=tid, author_id="501", body="hi",
                                    created_at="2020-01-01T10:00:00Z")], **kw)


def _serve_imports(router, ids=(1001, 1002, 1003)) -> None:
    router.on("GET", "/api/v2/ticket_fields", {"ticket_fields": [], "meta": {"has_more": False}})
    router.on("POST", IMPORT, {"job_status": {"id": "J", "status": "queued"}})
    router.on("GET", JOB, lambda r: httpx.Response(200, json={"job_statuses": [{
        "id": "J", "status": "completed",
        "results": [{"index": i, "id": tid} for i, tid in enumerate(ids)]}]}))


def _load(target, *tickets: Ticket):
    items = [LoadItem(t.id, t) for t in tickets]
    return target.collect(target.submit(Entity.TICKETS, items))


def _sent(router, call: int = -1) -> list[dict]:
    return router.body(router.calls("POST", IMPORT)[call])["tickets"]


def test_a_matched_custom_status_is_sent_with_its_category(target, router):
    router.on("GET", STATUSES, LISTED)
    _serve_imports(router)
    out = _load(target, _ticket("t1", "waiting on vendor"),
                _ticket("t2", "  ESCALATED TO ENGINEERING "),
                _ticket("t3", "Fixed, awaiting release", solved_at="2020-01-03T10:00:00Z"))
    assert [o.outcome for o in out] == [Outcome.CREATED] * 3
    assert all(not o.reason for o in out)
    sent = _sent(router)
    assert [(b["status"], b["custom_status_id"]) for b in sent] == [
        ("pending", 7), ("open", 8), ("solved", 9)]
    assert sent[2]["solved_at"] == "2020-01-03T10:00:00Z"  # kept: the category is solved
    assert len(router.calls("GET", STATUSES)) == 1


def test_an_unmatched_status_is_open_with_a_note_naming_the_targets_statuses(target, router):
    router.on("GET", STATUSES, LISTED)
    _serve_imports(router)
    out = _load(target, _ticket("t1", "awaiting parts"), _ticket("t2", "with legal"))
    sent = _sent(router)
    assert [(b["status"], "custom_status_id" in b) for b in sent] == [("open", False)] * 2
    for o, label in zip(out, ("awaiting parts", "with legal")):
        assert o.outcome == Outcome.CREATED
        assert f"status {label!r} is not a Zendesk status" in o.reason
        assert ("the target's custom statuses are: Escalated to engineering, "
                "Fixed, awaiting release, Open, Waiting on vendor") in o.reason
        assert "Awaiting parts" not in o.reason  # inactive: not offered


@pytest.mark.parametrize("status", [404, 403])
def test_an_account_without_the_feature_has_none_and_is_asked_once(target, router, status):
    router.on("GET", STATUSES, httpx.Response(status, json={"error": "RecordNotFound",
                                                            "description": "Not found"}))
    _serve_imports(router, ids=(1001, 1002))
    first = _load(target, _ticket("t1", "waiting on vendor"), _ticket("t2", "with legal"))
    second = _load(target, _ticket("t3", "waiting on vendor"))
    for o in first + second:
        assert "the target has no custom statuses): imported as open" in o.reason
    assert [b["status"] for b in _sent(router, 0) + _sent(router, 1)] == ["open"] * 3
    assert len(router.calls("GET", STATUSES)) == 1


def test_built_in_statuses_never_list_the_custom_ones(target, router):
    _serve_imports(router, ids=(1001, 1002))
    out = _load(target, _ticket("t1", "pending"), _ticket("t2", "hold"))
    assert [b["status"] for b in _sent(router)] == ["pending", "hold"]
    assert all("custom_status_id" not in b for b in _sent(router))
    assert all(not o.reason for o in out)
    assert router.calls("GET", STATUSES) == []


def test_credentials_refused_on_the_listing_are_not_taken_for_no_feature(target, router):
    from migrator.errors import ConfigError
    _serve_imports(router)
    router.on("GET", STATUSES, httpx.Response(401, json={"error": "Couldn't authenticate you"}))
    with pytest.raises(ConfigError):
        target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1", "waiting on vendor"))])


# -- loopback ---------------------------------------------------------------------------------
@pytest.mark.e2e
def test_custom_statuses_over_loopback_are_stored_and_read_back(tmp_path):
    run = pytest.importorskip("connectors.sandbox.run")
    with run.start_sandbox("zendesk", tickets=1, empty=True, custom_statuses=True) as dst:
        cfg = EndpointConfig(type="zendesk", base_url=dst.url, email="admin@sandbox.test",
                             token="literal:sandbox-token")
        target = zendesk.make_target(cfg, workdir=tmp_path, options=Options())
        target.jobs.poll_interval = 0.05
        admin = next(u["id"] for u in dst.store.users.values() if u["role"] == "admin")
        labels = {s["agent_label"]: s for s in dst.store.custom_statuses.values()}
        tickets = [
            _ticket("t1", "waiting on vendor"), _ticket("t2", "Escalated to Engineering"),
            _ticket("t3", "solved", solved_at="2020-01-03T10:00:00Z"),
            _ticket("t4", "awaiting parts"),  # inactive in the target: open, with a note
        ]
        for t in tickets:
            t.requester_id = str(admin)
            t.comments[0].author_id = str(admin)
        out = _load(target, *tickets)
        assert [o.outcome for o in out] == [Outcome.CREATED] * 4
        assert "Waiting on vendor" in out[3].reason and "Awaiting parts" not in out[3].reason
        got = {t.id: httpx.get(f"{dst.url}/api/v2/tickets/{o.target_id}.json",
                               auth=("admin@sandbox.test/token", "sandbox-token"))
               .raise_for_status().json()["ticket"] for t, o in zip(tickets, out)}
        seen = {k: (v["status"], v["custom_status_id"]) for k, v in got.items()}
        assert seen == {
            "t1": ("pending", labels["Waiting on vendor"]["id"]),
            "t2": ("open", labels["Escalated to engineering"]["id"]),
            "t3": ("solved", labels["Solved"]["id"]),  # a category's default status
            "t4": ("open", labels["Open"]["id"]),
        }
        fetched = target.fetch(Entity.TICKETS, out[0].target_id)
        assert fetched.extra["custom_status_id"] == labels["Waiting on vendor"]["id"]
        target.close()
