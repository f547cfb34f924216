"""Contacts deleted in the source end deleted in Freshdesk, their tickets and notes still written.

The sandbox refuses a ticket or note naming a deleted or blocked contact (the strict reading of
gotcha 17), so these tests fail unless the target restores the contact around the writes.
"""

from __future__ import annotations

import sqlite3

import pytest

from connectors.base import LoadItem
from connectors.freshdesk import make_target
from connectors.freshdesk.dormant import ledger_path
from migrator.config import EndpointConfig, Options
from migrator.models import Comment, EndUser, Entity, Outcome, Ticket

pytestmark = pytest.mark.e2e


@pytest.fixture
def box():
    run = pytest.importorskip("connectors.sandbox.run")
    sandbox = run.start_sandbox("freshdesk", empty=True)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def make(box, tmp_path, monkeypatch):
    monkeypatch.setenv("FD_STATE_KEY", "sandbox-key")
    cfg = EndpointConfig(type="freshdesk", base_url=box.url, api_key="${FD_STATE_KEY}")
    made = []

    def build():
        target = make_target(cfg, workdir=tmp_path, options=Options(max_in_flight=4))
        made.append(target)
        return target

    yield build
    for target in made:
        target.close()


def _ticket(sid: str, requester: str, author: str) -> Ticket:
    desc = Comment(id=f"c{sid}", ticket_id=sid, author_id=requester, body="Help",
                   public=True, created_at="2023-04-01T10:00:00Z")
    note = Comment(id=f"n{sid}", ticket_id=sid, author_id=author, body="More",
                   public=True, created_at="2023-04-02T10:00:00Z",
                   extra={"author_kind": "end_user"})
    return Ticket(id=sid, subject=f"Ticket {sid}", status="open", priority="normal",
                  requester_id=requester, created_at="2023-04-01T10:00:00Z",
                  updated_at="2023-04-02T10:00:00Z", comments=[desc, note])


def _users(target) -> dict[str, str]:
    users = [EndUser(id="gone", name="Gone", email="gone@x.test", deleted=True),
             EndUser(id="both", name="Both", email="both@x.test", deleted=True, blocked=True),
             EndUser(id="live", name="Live", email="live@x.test")]
    outs = target.submit(Entity.END_USERS, [LoadItem(u.id, u) for u in users]).outcomes
    assert {o.outcome for o in outs} == {Outcome.CREATED}
    return {o.source_id: o.target_id for o in outs}


def _state(box, tid: str) -> str:
    c = box.store.contacts[int(tid)]
    return "deleted" if c.get("deleted") else "active"


def test_deleted_contacts_end_deleted_and_their_tickets_are_written(box, make) -> None:
    target = make()
    ids = _users(target)
    assert [_state(box, ids[k]) for k in ("gone", "both", "live")] == [
        "deleted", "deleted", "active"]
    # Several tickets of the same deleted contacts at once (the loader's thread pool).
    items = [LoadItem(f"t{i}", _ticket(f"t{i}", ids["gone"] if i % 2 else ids["live"],
                                       ids["both"])) for i in range(8)]
    outs = target.submit(Entity.TICKETS, items).outcomes
    assert {o.outcome for o in outs} == {Outcome.CREATED}, [o.reason for o in outs]
    assert [_state(box, ids[k]) for k in ("gone", "both", "live")] == [
        "deleted", "deleted", "active"]
    notes = [c for cl in box.store.conversations.values() for c in cl]
    assert len(notes) == 8 and {n["user_id"] for n in notes} == {int(ids["both"])}
    requesters = {t["requester_id"] for t in box.store.tickets.values()}
    assert requesters == {int(ids["gone"]), int(ids["live"])}


def test_a_later_process_knows_them_and_settles_what_a_killed_one_left(box, make) -> None:
    ids = _users(make())
    second = make()  # the tickets step in another process: the ledger in the workdir tells it
    [out] = second.submit(Entity.TICKETS, [LoadItem("t1", _ticket(
        "t1", ids["gone"], ids["gone"]))]).outcomes
    assert out.outcome is Outcome.CREATED, out.reason
    # A process killed between restore and delete leaves the contact active and listed ...
    box.store.contacts[int(ids["gone"])].pop("deleted")
    with sqlite3.connect(ledger_path(second.workdir)) as db:
        db.execute("UPDATE dormant SET revived = 1 WHERE contact = ?", (ids["gone"],))
    third = make()
    third.submit(Entity.TICKETS, [LoadItem("t2", _ticket("t2", ids["live"], ids["live"]))])
    assert _state(box, ids["gone"]) == "deleted"  # ... and the next tickets batch deletes it


def test_rollback_removes_them_for_good_with_their_tickets(box, make) -> None:
    target = make()
    ids = _users(target)
    outs = target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1", ids["gone"], ids["live"])),
                                          LoadItem("t2", _ticket("t2", ids["live"], ids["both"]))
                                          ]).outcomes
    tickets = [o.target_id for o in outs]
    assert sorted(target.delete(Entity.TICKETS, tickets)) == sorted(tickets)
    assert sorted(target.delete(Entity.END_USERS, list(ids.values()))) == sorted(ids.values())
    assert box.store.contacts == {} and box.store.tickets == {}  # not even in the trash
    assert box.store.conversations == {}
    with sqlite3.connect(ledger_path(target.workdir)) as db:
        assert db.execute("SELECT COUNT(*) FROM dormant").fetchone() == (0,)


def test_a_deleted_contact_sent_again_by_a_new_process_is_its_own(box, make) -> None:
    ids = _users(make())
    # Recovery resends the batch from another process: the e-mail is taken (409) by a contact the
    # lists leave out (deleted); the ledger says this target made it, so it stays "created".
    again = make().submit(Entity.END_USERS, [LoadItem("gone", EndUser(
        id="gone", name="Gone", email="gone@x.test", deleted=True))]).outcomes
    assert [(o.outcome, o.target_id) for o in again] == [(Outcome.CREATED, ids["gone"])]
    assert len(box.store.contacts) == 3


def test_a_ledger_from_an_older_release_is_read_in(box, make, tmp_path) -> None:
    import json
    from connectors.freshdesk.dormant import DormantContacts
    path = ledger_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.with_suffix(".json").write_text(json.dumps(
        {"acct": {"dormant": ["7", "8"], "revived": ["8"]}, "other": {"dormant": ["9"]}}))
    ledger = DormantContacts(make().client, path, "acct")
    assert "7" in ledger and "8" in ledger and "9" not in ledger
    assert ledger._ledger.revived() == ["8"]
    assert not path.with_suffix(".json").exists()  # read in once
    ledger.close()


def test_a_lookup_never_waits_behind_a_restore_in_flight() -> None:
    """Every ticket asks which of its people are dormant; that must not queue behind another
    thread's restore request (held under the writers' lock)."""
    import threading
    from connectors.freshdesk.dormant import DormantContacts
    release = threading.Event()

    class Blocking:
        def request(self, *args, **kwargs):
            release.wait(5)

    ledger = DormantContacts(Blocking(), None, "acct")
    ledger._ledger.add("42")
    restoring = threading.Thread(target=lambda: ledger.awake(["42"]).__enter__())
    restoring.start()
    answered = []
    lookup = threading.Thread(target=lambda: answered.append("7" in ledger))
    lookup.start()
    lookup.join(2)
    try:
        assert answered == [False]  # answered while the restore still waits for its answer
    finally:
        release.set()
        restoring.join()
        ledger.close()
