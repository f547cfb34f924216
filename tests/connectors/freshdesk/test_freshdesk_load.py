"""The Freshdesk target over pytest-httpx: a tiny in-memory account answers like Freshdesk."""

from __future__ import annotations

import html
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connectors.base import LoadItem
from connectors.freshdesk import render as R
from migrator.models import (Agent, Attachment, Comment, EndUser, Entity, Group, Membership,
                             Outcome, Ticket, TicketField)

BASE = "https://acme.freshdesk.com"


class FakeAccount:
    """Just enough of Freshdesk's write API to check what the target sends."""

    def __init__(self):
        self.seq = 1000
        self.fields = [{"id": 1, "name": "status", "label": "Status", "default": True,
                        "choices": {"2": ["Open", "Open"], "6": ["Waiting on Customer", "W"]}},
                       {"id": 2, "name": "ticket_type", "label": "Type", "default": True,
                        "choices": ["Question", "Incident"]}]
        self.tickets: dict[int, dict] = {}
        self.notes: dict[int, list[dict]] = {}
        self.contacts = {1: {"id": 1, "name": "Old", "email": "old@x.test"}}
        self.groups: dict[int, dict] = {7: {"id": 7, "name": "Billing/T1", "agent_ids": [50]}}
        self.agents = {50: {"id": 50, "contact": {"name": "Lead", "email": "lead@x.test"}}}
        self.roles = [{"id": 3, "name": "Agent", "default": True},
                      {"id": 4, "name": "Tier 2", "default": False}]
        self.requests: list[httpx.Request] = []
        self.search_lags = False

    def _id(self) -> int:
        self.seq += 1
        return self.seq

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path.removeprefix("/api/v2"), request.method
        q = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        body = self._body(request)
        for pattern, verb, handler in self.routes():
            m = re.fullmatch(pattern, path)
            if m and verb == method:
                return handler(body, q, *m.groups())
        return httpx.Response(404, json={"code": "not_found"})

    @staticmethod
    def _body(request: httpx.Request):
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            return json.loads(request.content)
        if ctype.startswith("multipart/form-data"):
            content = request.read()
            names = re.findall(rb'name="([^"]+)"(?:; filename="([^"]+)")?\r\n(?:[^\r]*\r\n)*?\r\n'
                               rb'(.*?)\r\n--', content, re.S)
            form: dict = {"__files__": []}
            for name, filename, value in names:
                if filename:
                    form["__files__"].append((filename.decode(), len(value)))
                else:
                    form.setdefault(name.decode(), []).append(value.decode())
            return form
        return None

    def routes(self):
        return [
            (r"/ticket_fields", "GET", lambda b, q: httpx.Response(200, json=self.fields)),
            (r"/admin/ticket_fields", "POST", self.create_field),
            (r"/tickets", "POST", self.create_ticket),
            (r"/tickets/(\d+)/notes", "POST", self.create_note),
            (r"/tickets/(\d+)/conversations", "GET", lambda b, q, t: httpx.Response(
                200, json=self.notes.get(int(t), []))),
            (r"/tickets/(\d+)", "GET", lambda b, q, t: httpx.Response(
                200, json=self.tickets[int(t)]) if int(t) in self.tickets else httpx.Response(404)),
            (r"/tickets/(\d+)", "DELETE", self.delete_ticket),
            (r"/tickets/(\d+)", "PUT", self.update_ticket),
            (r"/search/tickets", "GET", self.search),
            (r"/tickets", "GET", lambda b, q: httpx.Response(200, json=sorted(
                self.tickets.values(), key=lambda t: -t["id"]))),
            (r"/contacts", "POST", self.create_contact),
            (r"/contacts", "GET", lambda b, q: httpx.Response(200, json=[
                c for c in self.contacts.values() if c["email"] == q.get("email")])),
            (r"/agents", "GET", lambda b, q: httpx.Response(200, json=[
                a for a in self.agents.values() if a["contact"]["email"] == q.get("email")])),
            (r"/agents", "POST", self.create_agent),
            (r"/agents/me", "GET", lambda b, q: httpx.Response(200, json=self.agents[50])),
            (r"/agents/(\d+)", "PUT", self.update_agent),
            (r"/agents/(\d+)", "GET", lambda b, q, a: httpx.Response(
                200, json=self.agents[int(a)])),
            (r"/roles", "GET", lambda b, q: httpx.Response(200, json=self.roles)),
            (r"/groups", "GET", lambda b, q: httpx.Response(200, json=[
                {k: v for k, v in g.items() if k != "agent_ids"} for g in self.groups.values()])),
            (r"/groups", "POST", self.create_group),
            (r"/groups/(\d+)", "GET", lambda b, q, g: httpx.Response(200, json=self.groups[int(g)])),
            (r"/groups/(\d+)", "PUT", self.update_group),
        ]

    def create_field(self, body, q):
        name = "cf_" + re.sub(r"\W+", "_", body["label"].lower()) + f"_{self._id()}"
        row = {"id": self._id(), "name": name, "label": body["label"], "type": body["type"]}
        self.fields.append(row)
        return httpx.Response(201, json=row)

    def create_ticket(self, body, q):
        files = []
        if "__files__" in body:
            files = body.pop("__files__")
            body = {k: v if k.endswith("[]") else v[0] for k, v in body.items()}
            body["custom_fields"] = {k[14:-1]: v for k, v in body.items()
                                     if k.startswith("custom_fields[")}
        if body.get("type") not in (None, "Question", "Incident") or body.get("priority") == 9:
            return httpx.Response(400, json={"description": "Validation failed", "errors": [
                {"field": "type", "message": "It should be one of these values: 'Question'",
                 "code": "invalid_value"}]})
        tid = self._id()
        self.tickets[tid] = {"id": tid, **body, "files": files}
        return httpx.Response(201, json={"id": tid, **body})

    def create_note(self, body, q, tid):
        files = body.pop("__files__", []) if isinstance(body, dict) and "__files__" in body else []
        if files:
            body = {k: v[0] for k, v in body.items()}
        text = html.unescape(re.sub(r"<[^>]+>", "", body["body"]))
        note = {"id": self._id(), "body": body["body"], "body_text": text, "files": files, **{
            k: body[k] for k in ("private", "incoming", "user_id") if k in body}}
        self.notes.setdefault(int(tid), []).append(note)
        return httpx.Response(201, json=note)

    def update_ticket(self, body, q, tid):
        self.tickets[int(tid)].update(body)
        return httpx.Response(200, json=self.tickets[int(tid)])

    def delete_ticket(self, body, q, tid):
        return httpx.Response(204 if self.tickets.pop(int(tid), None) else 404)

    def search(self, body, q):
        if self.search_lags:
            return httpx.Response(200, json={"total": 0, "results": []})
        wanted = set(re.findall(r":'([^']+)'", q["query"]))
        name = re.findall(r"(cf_\w+):", q["query"])[0]
        rows = [t for t in self.tickets.values() if t["custom_fields"].get(name) in wanted]
        return httpx.Response(200, json={"total": len(rows), "results": rows})

    def create_contact(self, body, q):
        if any(c["email"] == body.get("email") for c in self.contacts.values()):
            return httpx.Response(409, json={"description": "Validation failed", "errors": [
                {"field": "email", "message": "It should be a unique value",
                 "code": "duplicate_value"}]})
        cid = self._id()
        self.contacts[cid] = {"id": cid, **body}
        return httpx.Response(201, json=self.contacts[cid])

    def create_agent(self, body, q):
        aid = self._id()
        self.agents[aid] = {"id": aid, "contact": {"email": body["email"]}, **body}
        return httpx.Response(201, json=self.agents[aid])

    def update_agent(self, body, q, aid):
        self.agents[int(aid)].update(body)
        return httpx.Response(200, json=self.agents[int(aid)])

    def create_group(self, body, q):
        gid = self._id()
        self.groups[gid] = {"id": gid, "agent_ids": [], **body}
        return httpx.Response(201, json=self.groups[gid])

    def update_group(self, body, q, gid):
        self.groups[int(gid)].update(body)
        return httpx.Response(200, json=self.groups[int(gid)])


@pytest.fixture
def account(httpx_mock) -> FakeAccount:
    fake = FakeAccount()
    httpx_mock.add_callback(fake, is_reusable=True, is_optional=True)
    return fake


def _ticket(tid="77", comments=None, **kw) -> Ticket:
    comments = comments if comments is not None else [
        Comment(id="desc-77", ticket_id=tid, author_id="1", body="help", public=True,
                created_at="2019-05-01T10:00:00Z"),
        Comment(id="501", ticket_id=tid, author_id="50", body="looking", public=False,
                created_at="2019-05-01T11:00:00Z",
                extra={"author_name": "Lead", "author_email": "lead@x.test",
                       "author_kind": "agent"}),
        Comment(id="502", ticket_id=tid, author_id="1", body="thanks", public=True,
                created_at="2019-05-02T09:00:00Z", extra={"author_kind": "end_user"}),
    ]
    base = dict(id=tid, subject="Printer", status="solved", priority="high", requester_id="1",
                group_id="7", assignee_id="50", tags=["hw"], custom_fields={"cf_x": "y"},
                created_at="2019-05-01T10:00:00Z", solved_at="2019-05-03T08:00:00Z",
                channel="email", comments=comments,
                extra={"requester_name": "Old", "requester_email": "old@x.test"})
    base.update(kw)
    return Ticket(**base)


def test_ticket_with_history_as_notes_never_replies(account, target_factory) -> None:
    target = target_factory()
    sub = target.submit(Entity.TICKETS, [LoadItem("77", _ticket())])
    [outcome] = target.collect(sub)
    assert outcome.outcome is Outcome.CREATED, outcome.reason
    ticket = account.tickets[int(outcome.target_id)]
    names = target.field_names()
    assert ticket["custom_fields"][names[R.SOURCE_ID_FIELD]] == "77"
    assert ticket["custom_fields"][names[R.CREATED_FIELD]] == "2019-05-01"
    assert ticket["custom_fields"][names[R.RESOLVED_FIELD]] == "2019-05-03"
    assert names[R.SOURCE_ID_FIELD].startswith("cf_migration_source_id_")  # suffix read back
    assert (ticket["status"], ticket["priority"], ticket["source"]) == (4, 3, 1)
    assert "migrated" in ticket["tags"] and "hw" in ticket["tags"]
    description = html.unescape(ticket["description"])
    assert "originally created by Old <old@x.test> on 2019-05-01T10:00:00Z" in description
    assert "resolved on 2019-05-03T08:00:00Z" in description
    notes = account.notes[int(outcome.target_id)]
    assert [n["private"] for n in notes] == [True, False]
    assert notes[0]["body_text"].startswith("Migrated comment #501 — private, originally by "
                                            "Lead <lead@x.test> on 2019-05-01T11:00:00Z")
    assert notes[1]["incoming"] is True and notes[1]["user_id"] == 1
    assert not any(r.url.path.endswith("/reply") for r in account.requests)


def test_validation_error_is_a_failed_record_with_field_messages(account, target_factory) -> None:
    target = target_factory()
    account.fields = account.fields[:1]  # types unknown to the loader: sent as they are
    [outcome] = target.submit(Entity.TICKETS, [LoadItem("77", _ticket(type="Bogus"))]).outcomes
    assert outcome.outcome is Outcome.FAILED and outcome.target_id is None
    assert "type: It should be one of these values: 'Question' (invalid_value)" in outcome.reason


def test_ticket_type_matches_target_spelling_or_is_reported(account, target_factory) -> None:
    target = target_factory()
    ok, odd = target.submit(Entity.TICKETS, [LoadItem("77", _ticket(type="incident")),
                                             LoadItem("78", _ticket("78", type="feature"))]).outcomes
    assert account.tickets[int(ok.target_id)]["type"] == "Incident"
    assert odd.outcome is Outcome.CREATED and "type" not in account.tickets[int(odd.target_id)]
    assert "'feature' is not a Freshdesk ticket type" in odd.reason


def test_recovering_item_adds_only_missing_notes(account, target_factory) -> None:
    first = target_factory()
    [done] = first.submit(Entity.TICKETS, [LoadItem("77", _ticket())]).outcomes
    tid = int(done.target_id)
    account.notes[tid].pop()  # the crash lost the last note
    again = target_factory()  # a new process: nothing in memory
    found = again.reconcile(Entity.TICKETS, ["77", "78"])
    assert found == {"77": str(tid)}
    [outcome] = again.submit(Entity.TICKETS, [LoadItem("77", _ticket(), recovering=True)]).outcomes
    assert outcome.outcome is Outcome.UPDATED and outcome.target_id == str(tid)
    assert "1 missing note(s) added" in outcome.reason
    assert len(account.tickets) == 1 and account.tickets[tid]["status"] == 4
    markers = R.note_markers(n["body_text"] for n in account.notes[tid])
    assert markers == {"501", "502"} and len(account.notes[tid]) == 2
    [same] = again.submit(Entity.TICKETS, [LoadItem("77", _ticket(), recovering=True)]).outcomes
    assert same.outcome is Outcome.UNCHANGED and len(account.notes[tid]) == 2


def test_description_leads_and_unknown_status_is_reported(account, target_factory) -> None:
    t = _ticket(status="Waiting on Vendor")
    desc = t.comments[0]
    desc.extra["description"] = True
    t.comments = [t.comments[1], desc, t.comments[2]]  # a tie on created_at sorted it second
    [outcome] = target_factory().submit(Entity.TICKETS, [LoadItem("77", t)]).outcomes
    ticket = account.tickets[int(outcome.target_id)]
    assert "help" in ticket["description"] and ticket["status"] == 2
    assert "Waiting on Vendor" in outcome.reason
    assert len(account.notes[int(outcome.target_id)]) == 2


def test_attachments_multipart_within_20mb_rest_listed(account, target_factory, tmp_path,
                                                      monkeypatch) -> None:
    monkeypatch.setattr(R, "MAX_TICKET_BYTES", 10)
    import connectors.freshdesk.load_tickets as LT
    monkeypatch.setattr(LT.plan_files, "__defaults__", (10,))
    for name, data in (("a.txt", b"123456"), ("b.txt", b"1234567")):
        (tmp_path / "att" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "att" / name).write_bytes(data)
    t = _ticket()
    t.comments[0].attachments = [Attachment(id="9", file_name="a.txt", size=6,
                                            local_path="att/a.txt")]
    t.comments[1].attachments = [Attachment(id="10", file_name="b.txt", size=7,
                                            local_path="att/b.txt")]
    target = target_factory()
    [outcome] = target.submit(Entity.TICKETS, [LoadItem("77", t, attachments_dir=tmp_path)]).outcomes
    ticket = account.tickets[int(outcome.target_id)]
    assert ticket["files"] == [("a.txt", 6)] and ticket["tags[]"] == ["hw", "migrated"]
    assert ticket["custom_fields"][target.field_names()[R.SOURCE_ID_FIELD]] == "77"
    assert ticket["status"] == "4" and ticket["requester_id"] == "1"  # multipart form values
    notes = account.notes[int(outcome.target_id)]
    leftover = [n for n in notes if "not migrated" in n["body_text"]]
    assert leftover and "b.txt" in leftover[0]["body_text"] and leftover[0]["private"] is True
    assert "b.txt" in outcome.reason and "20 MB" in outcome.reason


def test_files_never_downloaded_are_listed_with_why_and_verify_skips_that_note(
        account, target_factory, tmp_path) -> None:
    t = _ticket()
    t.comments[1].attachments = [Attachment(id="11", file_name="c.pdf", size=9)]  # no local file
    target = target_factory()
    [outcome] = target.submit(Entity.TICKETS, [LoadItem("77", t, attachments_dir=tmp_path)]).outcomes
    [note] = [n for n in account.notes[int(outcome.target_id)] if "c.pdf" in n["body_text"]]
    assert "not downloaded at export" in note["body_text"] and "20 MB" not in note["body_text"]
    assert "c.pdf" in outcome.reason and "not downloaded" in outcome.reason
    held = target.fetch(Entity.TICKETS, outcome.target_id)
    marked = [c for c in held.comments if c.extra.get("migrator_note")]
    assert [c.id for c in marked] == [str(note["id"])]


def test_duplicate_contact_409_is_reused(account, target_factory) -> None:
    target = target_factory()
    items = [LoadItem("c1", EndUser(id="c1", name="Old", email="old@x.test")),
             LoadItem("c2", EndUser(id="c2", name="New", email="new@x.test"))]
    reused, created = target.submit(Entity.END_USERS, items).outcomes
    assert (reused.outcome, reused.target_id) == (Outcome.REUSED, "1")
    assert created.outcome is Outcome.CREATED
    assert account.contacts[int(created.target_id)]["email"] == "new@x.test"


def test_agents_match_by_email_missing_ones_skipped_roles_by_name(account, target_factory) -> None:
    target = target_factory()
    items = [LoadItem("a1", Agent(id="a1", name="Lead", email="lead@x.test", role="Tier 2",
                                  ticket_scope="group")),
             LoadItem("a2", Agent(id="a2", name="New", email="new@x.test", role="Agent")),
             LoadItem("a3", Agent(id="a3", name="X", email="x@x.test", role="Tier 9"))]
    before = {k: account.agents[50].get(k) for k in ("role_ids", "ticket_scope")}
    lead, new, bad = target.submit(Entity.AGENTS, items).outcomes
    assert (lead.outcome, lead.target_id) == (Outcome.REUSED, "50")
    assert account.agents[50]["role_ids"] == [4] and account.agents[50]["ticket_scope"] == 2
    assert "a rollback restores them" in lead.reason  # what it had is said
    [change] = target.changes()  # kept by the engine with the run, for rollback
    assert (change.entity, change.target_id, change.before) == (Entity.AGENTS, "50", before)
    assert target.changes() == []
    [again] = target_factory().submit(Entity.AGENTS, items[:1]).outcomes
    assert "already had this role and ticket scope" in again.reason
    assert new.outcome is Outcome.SKIPPED and "create_agents" in new.reason
    assert bad.outcome is Outcome.FAILED and "create it in Admin" in bad.reason
    assert "Tier 2" in bad.reason  # the roles that do exist are named
    creator = target_factory(create_agents=True)
    [made] = creator.submit(Entity.AGENTS, items[1:2]).outcomes
    assert made.outcome is Outcome.CREATED and account.agents[int(made.target_id)]["role_ids"] == [3]
    account.agents[50].update(role_ids=[4], ticket_scope=2)
    target.restore(Entity.AGENTS, "50", {"role_ids": [3], "ticket_scope": 1})  # a rollback
    assert (account.agents[50]["role_ids"], account.agents[50]["ticket_scope"]) == ([3], 1)


def test_groups_with_escalation_and_members(account, target_factory) -> None:
    target = target_factory()
    items = [LoadItem("billing/t2", Group(id="billing/t2", name="Billing/T2", escalate_to="50",
                                          unassigned_for="1h")),
             LoadItem("billing/t1", Group(id="billing/t1", name="Billing/T1", escalate_to="50",
                                          unassigned_for="weird"))]
    created, reused = target.submit(Entity.GROUPS, items).outcomes
    group = account.groups[int(created.target_id)]
    assert (group["escalate_to"], group["unassigned_for"]) == (50, "1h")
    assert (reused.outcome, reused.target_id) == (Outcome.REUSED, "7")
    assert "unassigned_for" in reused.reason
    gid = created.target_id
    [m] = target.submit(Entity.MEMBERSHIPS, [LoadItem("50@billing/t2", Membership(
        id="50@billing/t2", agent_id="50", group_id=gid))]).outcomes
    assert m.outcome is Outcome.CREATED and account.groups[int(gid)]["agent_ids"] == [50]
    assert target.delete(Entity.MEMBERSHIPS, [m.target_id]) == [m.target_id]
    assert account.groups[int(gid)]["agent_ids"] == []


def test_ticket_field_created_with_generated_name_and_used(account, target_factory) -> None:
    target = target_factory()
    field = TicketField(id="f1", key="cf_x", title="X thing", type="text")
    [outcome] = target.submit(Entity.TICKET_FIELDS, [LoadItem("f1", field)]).outcomes
    assert outcome.outcome is Outcome.CREATED
    real = target.field_names()["cf_x"]
    [t] = target.submit(Entity.TICKETS, [LoadItem("77", _ticket())]).outcomes
    assert account.tickets[int(t.target_id)]["custom_fields"][real] == "y"
    [again] = target_factory().submit(Entity.TICKET_FIELDS, [LoadItem("f1", field)]).outcomes
    assert again.outcome is Outcome.REUSED


def test_fetch_and_delete_ticket(account, target_factory) -> None:
    target = target_factory()
    [outcome] = target.submit(Entity.TICKETS, [LoadItem("77", _ticket())]).outcomes
    fetched = target.fetch(Entity.TICKETS, outcome.target_id)
    assert fetched.subject == "Printer" and len(fetched.comments) == 3
    assert target.delete(Entity.TICKETS, [outcome.target_id, "999999"]) == [
        outcome.target_id, "999999"]
    assert target.fetch(Entity.TICKETS, outcome.target_id) is None


def test_capabilities_and_check_list_roles(account, target_factory) -> None:
    target = target_factory()
    caps = target.capabilities
    assert (caps.sets_timestamps, caps.writable_roles, caps.async_jobs) == (False, False, False)
    assert caps.max_attachment_bytes == 20 * 1024 * 1024
    checks = {c.name: c for c in target.check()}
    assert checks["Freshdesk target credentials"].ok
    assert "lead@x.test" in checks["Freshdesk target credentials"].detail
    assert "Tier 2" in checks["Freshdesk target roles"].detail


def test_requester_by_email_and_contact_rollback(account, target_factory, httpx_mock) -> None:
    target = target_factory()
    t = _ticket(requester_id=None, extra={"requester_email": "walk@in.test",
                                          "requester_name": "Walk In"})
    [outcome] = target.submit(Entity.TICKETS, [LoadItem("77", t)]).outcomes
    ticket = account.tickets[int(outcome.target_id)]
    assert (ticket["email"], ticket["name"]) == ("walk@in.test", "Walk In")
    assert "requester_id" not in ticket
    httpx_mock.add_response(method="DELETE", url=f"{BASE}/api/v2/contacts/5", status_code=204)
    httpx_mock.add_response(method="DELETE", url=f"{BASE}/api/v2/contacts/5/hard_delete?force=true",
                            status_code=204)
    assert target.delete(Entity.END_USERS, ["5"]) == ["5"]
    paths = [r.url.path for r in httpx_mock.get_requests() if r.method == "DELETE"]
    assert paths == ["/api/v2/contacts/5", "/api/v2/contacts/5/hard_delete"]


def test_reconcile_finds_fresh_tickets_the_search_index_lacks(account, target_factory) -> None:
    [done] = target_factory().submit(Entity.TICKETS, [LoadItem("77", _ticket())]).outcomes
    account.search_lags = True  # written seconds ago: not searchable yet
    assert target_factory().reconcile(Entity.TICKETS, ["77", "78"]) == {"77": done.target_id}
    listed = [r for r in account.requests if r.method == "GET" and r.url.path == "/api/v2/tickets"]
    assert listed and "updated_since" in str(listed[0].url)


def test_memberships_of_one_group_from_batches_in_flight_are_all_kept(account, target_factory,
                                                                      monkeypatch) -> None:
    """A membership rewrites the group's agent_ids: batches in flight at once must not each
    write their own list over the other's (verify found agents missing from their group)."""
    real_routes = account.routes

    def slow(handler):
        def read(*args):
            response = handler(*args)
            time.sleep(0.02)  # a read another batch can overtake before this one writes
            return response
        return read

    monkeypatch.setattr(account, "routes", lambda: [
        (pattern, verb, slow(h) if (pattern, verb) == (r"/groups/(\d+)", "GET") else h)
        for pattern, verb, h in real_routes()])
    target = target_factory()
    items = [LoadItem(f"{a}@billing/t1", Membership(id=f"{a}@billing/t1", agent_id=str(a),
                                                     group_id="7")) for a in (51, 52, 53)]
    with ThreadPoolExecutor(3) as pool:
        outcomes = [o for outs in pool.map(
            lambda i: target.submit(Entity.MEMBERSHIPS, [i]).outcomes, items) for o in outs]
    assert [o.outcome for o in outcomes] == [Outcome.CREATED] * 3
    assert sorted(account.groups[7]["agent_ids"]) == [50, 51, 52, 53]
    team = target.team_structure()
    assert team["7"].members == frozenset({"50", "51", "52", "53"})
    assert team["7"].name == "Billing/T1" and team["7"].escalate_to is None
