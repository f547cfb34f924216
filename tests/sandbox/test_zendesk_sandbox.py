"""The Zendesk emulator over real loopback HTTP: envelopes, exports, limits, faults, jobs, imports,
and every served operation's body validated against the official OAS response schemas."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

import httpx
import pytest
import yaml

from connectors.sandbox.common import Faults, SandboxKnobs, serve_in_thread
from connectors.sandbox.run import start_sandbox
from connectors.sandbox.seed import attachment_bytes, build_company
from connectors.sandbox.zendesk import create_app
from tests.oas_relax import relax

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
AUTH = ("admin@sandbox.test/token", "sandbox-token")


@pytest.fixture(scope="module")
def company():
    return build_company(seed=11, tickets=60, now=NOW)


@pytest.fixture(scope="module")
def sandbox(company):
    with start_sandbox("zendesk", company=company) as running:
        yield running


@pytest.fixture
def client(sandbox):
    with httpx.Client(base_url=sandbox.url, auth=AUTH, timeout=10) as c:
        yield c


def _serve(company=None, **knobs):
    return serve_in_thread(create_app(company, SandboxKnobs(**knobs)))


def _walk_cbp(client, path, key, size):
    seen, params, pages = [], {"page[size]": size}, 0
    url = path
    while True:
        body = client.get(url, params=params).raise_for_status().json()
        seen += [r["id"] for r in body[key]]
        pages += 1
        assert pages < 500
        if not body["meta"]["has_more"]:
            return seen, body
        url, params = body["links"]["next"], None


# -- auth -------------------------------------------------------------------------------------
def test_wrong_or_missing_credentials_get_401(sandbox):
    for auth in (None, ("admin@sandbox.test/token", "wrong"), ("admin@sandbox.test", "x")):
        r = httpx.get(f"{sandbox.url}/api/v2/users/me.json", auth=auth)
        assert r.status_code == 401
        assert r.json() == {"error": "Couldn't authenticate you"}
    bearer = httpx.get(f"{sandbox.url}/api/v2/users/me",
                       headers={"Authorization": "Bearer sandbox-oauth"})
    assert bearer.status_code == 200 and bearer.json()["user"]["role"] == "admin"


# -- pagination -------------------------------------------------------------------------------
def test_cursor_walk_returns_every_user_once(client, company):
    ids, last = _walk_cbp(client, "/api/v2/users.json", "users", 17)
    expected = {int(a.id) for a in company.agents} | {int(u.id) for u in company.end_users}
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert last["links"]["next"], "like Zendesk, links.next stays set on the last page"
    assert last["links"]["next"].startswith(client.base_url.scheme + "://127.0.0.1")


def test_role_filter_and_paths_without_json(client, company):
    agents, _ = _walk_cbp(client, "/api/v2/users", "users", 100)
    r = client.get("/api/v2/users", params=[("role[]", "agent"), ("role[]", "admin"),
                                            ("page[size]", "100")])
    assert {u["id"] for u in r.json()["users"]} == {int(a.id) for a in company.agents}
    assert client.get("/api/v2/users", params={"page[size]": 101}).status_code == 400


def test_deleted_groups_only_when_asked(client, company):
    live = client.get("/api/v2/groups.json").json()["groups"]
    every = client.get("/api/v2/groups.json", params={"exclude_deleted": "false"}).json()
    assert len(every["groups"]) == len(company.groups) == len(live) + 1
    assert any(g["deleted"] for g in every["groups"]) and not any(g["deleted"] for g in live)


# -- exports ----------------------------------------------------------------------------------
def test_incremental_cursor_export_walks_all_tickets(client, company):
    params = {"start_time": 0, "per_page": 13}
    ids, pages = [], 0
    while True:
        body = client.get("/api/v2/incremental/tickets/cursor.json",
                          params=params).raise_for_status().json()
        ids += [t["id"] for t in body["tickets"]]
        pages += 1
        if body["end_of_stream"]:
            break
        params = {"cursor": body["after_cursor"], "per_page": 13}
    assert sorted(ids) == sorted(int(t.id) for t in company.tickets) and pages == 5
    deleted = {int(t.id) for t in company.tickets if t.deleted}
    kept = client.get("/api/v2/incremental/tickets/cursor", params={
        "start_time": 0, "exclude_deleted": "true"}).json()["tickets"]
    assert deleted and not deleted & {t["id"] for t in kept}
    r = client.get("/api/v2/incremental/tickets/cursor", params={"start_time": int(time.time())})
    assert r.status_code == 400


def test_ticket_events_carry_comments_only_with_comment_events(client, company):
    def walk(include):
        start, comments, changes = 0, 0, 0
        while True:
            params = {"start_time": start, "per_page": 200}
            if include:
                params["include"] = "comment_events"
            body = client.get("/api/v2/incremental/ticket_events.json", params=params).json()
            for event in body["ticket_events"]:
                for child in event["child_events"]:
                    comments += child["event_type"] == "Comment"
                    changes += child["event_type"] in ("Create", "Change")
            if body["end_of_stream"]:
                return comments, changes
            start = body["end_time"]
    comments, changes = walk(True)
    assert comments == len(company.comments) and changes == len(company.ticket_events)
    assert walk(False) == (0, changes)


def _export_after(c, cursor):
    body = c.get("/api/v2/incremental/tickets/cursor", params={"cursor": cursor}).json()
    return {t["id"]: t for t in body["tickets"]}, body["after_cursor"]


def test_ticket_update_moves_the_ticket_into_the_exports(company):
    server = _serve(company)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH) as c:
            first = c.get("/api/v2/incremental/tickets/cursor",
                          params={"start_time": 0, "per_page": 1000}).json()
            assert first["end_of_stream"]
            tid = next(t["id"] for t in first["tickets"]
                       if t["status"] in ("open", "pending") and t["priority"] != "urgent")
            before = c.get(f"/api/v2/tickets/{tid}/comments").json()["comments"]
            agent = int(company.agents[1].id)
            r = c.put(f"/api/v2/tickets/{tid}.json", json={"ticket": {
                "status": "solved", "priority": "urgent",
                "comment": {"body": "Fixed now", "public": False, "author_id": agent}}})
            assert r.status_code == 200
            ticket, audit = r.json()["ticket"], r.json()["audit"]
            assert (ticket["status"], ticket["priority"]) == ("solved", "urgent")
            changed = {e["field_name"]: (e["previous_value"], e["value"])
                       for e in audit["events"] if e["type"] == "Change"}
            assert changed["status"][1] == "solved" and changed["priority"][1] == "urgent"
            note = next(e for e in audit["events"] if e["type"] == "Comment")
            assert (note["body"], note["public"], note["author_id"]) == ("Fixed now", False, agent)
            after = c.get(f"/api/v2/tickets/{tid}/comments").json()["comments"]
            assert [x["id"] for x in after] == [x["id"] for x in before] + [note["id"]]
            assert after[-1]["created_at"] == ticket["updated_at"] > before[-1]["created_at"]
            # the next export from the saved cursor holds exactly that ticket
            again, cursor = _export_after(c, first["after_cursor"])
            assert list(again) == [tid] and again[tid]["updated_at"] == ticket["updated_at"]
            events = c.get("/api/v2/incremental/ticket_events", params={
                "start_time": 0, "include": "comment_events"}).json()["ticket_events"]
            last = [e for e in events if e["ticket_id"] == tid][-1]
            kinds = sorted(ch["event_type"] for ch in last["child_events"])
            assert kinds == ["Change", "Change", "Comment"] and last["id"] == audit["id"]
            # a new ticket through the API, then nothing more
            made = c.post("/api/v2/tickets", json={"ticket": {
                "subject": "New one", "requester_id": int(company.end_users[0].id),
                "comment": {"body": "Hello"}, "priority": "high"}})
            assert made.status_code == 201 and made.headers["Location"]
            new = made.json()["ticket"]
            assert (new["status"], new["description"]) == ("new", "Hello")
            fresh, cursor = _export_after(c, cursor)
            assert list(fresh) == [new["id"]]
            assert _export_after(c, cursor)[0] == {}
    finally:
        server.stop()


def test_ticket_update_refusals(company):
    server = _serve(company)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH) as c:
            closed = next(int(t.id) for t in company.tickets
                          if t.status == "closed" and not t.deleted)
            r = c.put(f"/api/v2/tickets/{closed}", json={"ticket": {"comment": {"body": "x"}}})
            assert r.status_code == 422 and "closed prevents ticket update" in r.text
            assert c.put("/api/v2/tickets/99999999", json={"ticket": {}}).status_code == 404
            open_id = next(int(t.id) for t in company.tickets
                           if t.status == "open" and not t.deleted)
            bad = c.put(f"/api/v2/tickets/{open_id}", json={"ticket": {"status": "done"}})
            assert bad.status_code == 422 and bad.json()["error"] == "RecordInvalid"
            blank = c.post("/api/v2/tickets", json={"ticket": {"subject": "no comment"}})
            assert blank.status_code == 422
    finally:
        server.stop()


def test_comments_attachments_come_from_a_foreign_host(client, sandbox, company):
    ticket = next(c.ticket_id for c in company.comments
                  if any(a.inline for a in c.attachments))
    plain = client.get(f"/api/v2/tickets/{ticket}/comments.json").json()["comments"]
    full = client.get(f"/api/v2/tickets/{ticket}/comments.json",
                      params={"include_inline_images": "true"}).json()["comments"]
    inline = [a for c in full for a in c["attachments"] if a["inline"]]
    assert inline and not any(a["inline"] for c in plain for a in c["attachments"])
    att = inline[0]
    assert att["content_url"].startswith(sandbox.cdn_url) and sandbox.cdn_url != sandbox.url
    assert any(att["content_url"] in c["html_body"] for c in full)
    data = httpx.get(att["content_url"]).raise_for_status().content  # no credentials needed
    source = next(a for c in company.comments for a in c.attachments if int(a.id) == att["id"])
    assert data == attachment_bytes(source) and len(data) == att["size"]


# -- limits and faults ------------------------------------------------------------------------
def test_429_with_exact_retry_after_past_the_window_limit():
    server = _serve(limits={"account": 3, "incremental": 2}, window=2.0)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH) as c:
            ok = [c.get("/api/v2/groups") for _ in range(3)]
            assert [r.status_code for r in ok] == [200, 200, 200]
            assert ok[-1].headers["X-Rate-Limit"] == "3"
            assert ok[-1].headers["X-Rate-Limit-Remaining"] == "0"
            refused = c.get("/api/v2/groups")
            assert refused.status_code == 429
            assert refused.headers["content-type"].startswith("text/plain")
            assert refused.headers["Retry-After"] in ("1", "2")
            time.sleep(float(refused.headers["Retry-After"]) + 0.05)
            r = c.get("/api/v2/incremental/tickets/cursor", params={"start_time": 0})
            assert r.status_code == 200
            assert re.fullmatch(r"total=2; remaining=1; resets=\d+",
                                r.headers["zendesk-ratelimit-incremental-exports"])
            stats = httpx.get(f"{server.url}/_sandbox/stats").json()
            assert stats["buckets"]["account"]["throttled"] == 1
    finally:
        server.stop()


def test_plan_sets_the_account_limit():
    server = _serve(plan="growth")
    try:
        r = httpx.get(f"{server.url}/api/v2/groups", auth=AUTH)
        assert r.headers["X-Rate-Limit"] == "400" and r.headers["ratelimit-limit"] == "400"
        roles = httpx.get(f"{server.url}/api/v2/custom_roles", auth=AUTH)
        assert roles.status_code == 403, "custom roles need an Enterprise plan"
    finally:
        server.stop()


def test_injected_503_and_dropped_connections():
    server = _serve(faults=Faults(rate_503=1.0))
    try:
        r = httpx.get(f"{server.url}/api/v2/groups", auth=AUTH)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    finally:
        server.stop()
    server = _serve(faults=Faults(drop_rate=1.0))
    try:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/api/v2/groups", auth=AUTH)
    finally:
        server.stop()


def test_drop_after_processing_still_applies_the_write(company):
    app = create_app(company, SandboxKnobs(faults=Faults(drop_after_rate=1.0)))
    server = serve_in_thread(app)
    try:
        before = app.state.store.counts()["groups"]
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{server.url}/api/v2/groups", auth=AUTH, json={"group": {"name": "X"}})
        assert app.state.store.counts()["groups"] == before + 1
    finally:
        server.stop()


# -- jobs -------------------------------------------------------------------------------------
def test_job_lifecycle_results_and_failed_items():
    server = _serve(job_seconds=0.6)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH) as c:
            users = [{"name": "Ann", "email": "ann@x.example"},
                     {"name": "Ann again", "email": "ann@x.example"}]
            job = c.post("/api/v2/users/create_many.json", json={"users": users}).json()
            job = job["job_status"]
            assert job["status"] == "queued" and job["results"] is None
            org = c.post("/api/v2/organizations/create_many",
                         json={"organizations": [{"name": "Acme"}]}).json()["job_status"]
            time.sleep(0.35)
            mid = c.get(f"/api/v2/job_statuses/{job['id']}.json").json()["job_status"]
            assert mid["status"] == "working"
            assert c.get("/api/v2/users/search", params={"query": "email:ann@x.example"}
                         ).json()["users"] == []
            time.sleep(0.4)
            both = c.get("/api/v2/job_statuses/show_many.json",
                         params={"ids": f"{job['id']},{org['id']}"}).json()["job_statuses"]
            assert [j["status"] for j in both] == ["completed", "completed"]
            first, second = both[0]["results"]
            assert set(first) == {"id", "status"} and first["status"] == "Created"
            assert second["status"] == "Failed" and second["error"] == "DuplicateValue"
            assert "index" not in both[1]["results"][0]
    finally:
        server.stop()


def test_queued_job_cap_answers_429():
    server = _serve(job_seconds=30, max_jobs=2)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH) as c:
            body = {"organizations": [{"name": "A"}]}
            answers = [c.post("/api/v2/organizations/create_many", json=body)
                       for _ in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 429]
            refused = answers[2]
            assert refused.json()["error"] == "TooManyJobs"
            assert 1 <= int(refused.headers["Retry-After"]) <= 30
            assert int(refused.headers["X-Rate-Limit-Remaining"]) > 0  # not the rate limit
            stats = c.get("/_sandbox/stats").json()["jobs"]
            assert (stats["active"], stats["rejected"]) == (2, 1)
            queued = c.get(f"/api/v2/job_statuses/{answers[0].json()['job_status']['id']}")
            assert queued.json()["job_status"]["status"] == "queued"  # 30 s jobs stay queued
            too_many = c.post("/api/v2/organizations/create_many",
                              json={"organizations": [{"name": str(i)} for i in range(101)]})
            assert too_many.status_code == 400 and too_many.json()["error"] == "TooManyValues"
    finally:
        server.stop()


# -- writes -----------------------------------------------------------------------------------
def test_import_keeps_timestamps_and_upload_round_trip(client, company):
    agent, user = company.agents[3], company.end_users[5]
    blob = b"%PDF-1.4 tiny invoice \xe2\x82\xac"
    up = client.post("/api/v2/uploads.json", params={"filename": "invoice.pdf"}, content=blob,
                     headers={"Content-Type": "application/pdf"})
    assert up.status_code == 201 and up.headers["Location"]
    token = up.json()["upload"]["token"]
    ticket = {"subject": "Imported", "requester_id": int(user.id), "assignee_id": int(agent.id),
              "status": "solved", "created_at": "2019-03-01T10:00:00Z",
              "updated_at": "2019-03-05T10:00:00Z", "solved_at": "2019-03-04T10:00:00Z",
              "tags": ["migrated"],
              "comments": [{"author_id": int(user.id), "created_at": "2019-03-01T10:00:00Z",
                            "value": "Grüße, it broke 😞"},
                           {"author_id": int(agent.id), "created_at": "2019-03-02T09:00:00Z",
                            "value": "note", "public": False, "uploads": [token]}]}
    created = client.post("/api/v2/imports/tickets.json", json={"ticket": ticket})
    assert created.status_code == 201
    tid = created.json()["ticket"]["id"]
    shown = client.get(f"/api/v2/tickets/{tid}.json").json()["ticket"]
    assert (shown["created_at"], shown["updated_at"]) == ("2019-03-01T10:00:00Z",
                                                          "2019-03-05T10:00:00Z")
    comments = client.get(f"/api/v2/tickets/{tid}/comments").json()["comments"]
    assert [c["created_at"] for c in comments] == ["2019-03-01T10:00:00Z",
                                                   "2019-03-02T09:00:00Z"]
    assert comments[0]["body"] == "Grüße, it broke 😞" and comments[1]["public"] is False
    url = comments[1]["attachments"][0]["content_url"]
    assert httpx.get(url).content == blob


def test_import_rejects_unknown_people_and_empty_tickets(client):
    r = client.post("/api/v2/imports/tickets", json={"ticket": {"subject": "x"}})
    assert r.status_code == 422
    r = client.post("/api/v2/imports/tickets", json={"ticket": {
        "subject": "x", "requester_id": 1, "comments": [{"value": "hi"}]}})
    assert r.status_code == 422 and r.json()["error"] == "RecordInvalid"
    assert "requester_id" in r.json()["details"]


def test_import_many_results_have_index_and_failures(client, company):
    user = int(company.end_users[0].id)
    tickets = [{"subject": "ok", "requester_id": user, "comments": [{"value": "a"}]},
               {"subject": "bad", "requester_id": 12345, "comments": [{"value": "b"}]}]
    job = client.post("/api/v2/imports/tickets/create_many",
                      json={"tickets": tickets}).json()["job_status"]
    done = client.get(f"/api/v2/job_statuses/{job['id']}").json()["job_status"]
    ok, bad = done["results"]
    assert done["status"] == "completed" and ok["index"] == 0 and "id" in ok
    assert bad["index"] == 1 and bad["status"] == "Failed"
    hundred_one = [tickets[0]] * 101
    r = client.post("/api/v2/imports/tickets/create_many", json={"tickets": hundred_one})
    assert r.status_code == 400 and r.json()["max_count"] == 100


def test_requester_collision_knob_answers_409_text():
    server = _serve(requester_collision_rate=1.0)
    try:
        r = httpx.post(f"{server.url}/api/v2/imports/tickets", auth=AUTH, json={"ticket": {
            "requester": {"email": "new@x.example", "name": "New"},
            "comments": [{"value": "hi"}]}})
        assert r.status_code == 409 and r.text == "Requester creation collision - please try again"
    finally:
        server.stop()


def test_soft_delete_restore_and_purge(company):
    server = _serve(company)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH) as c:
            tid = next(int(t.id) for t in company.tickets if not t.deleted)
            assert c.delete(f"/api/v2/tickets/{tid}").status_code == 204
            assert c.get(f"/api/v2/tickets/{tid}").status_code == 404
            listed = c.get("/api/v2/deleted_tickets", params={"page[size]": 100}).json()
            assert tid in {t["id"] for t in listed["deleted_tickets"]}
            assert c.put(f"/api/v2/deleted_tickets/{tid}/restore").status_code == 200
            assert c.get(f"/api/v2/tickets/{tid}").status_code == 200
            c.delete("/api/v2/tickets/destroy_many", params={"ids": str(tid)})
            job = c.delete("/api/v2/deleted_tickets/destroy_many",
                           params={"ids": str(tid)}).json()["job_status"]
            done = c.get(f"/api/v2/job_statuses/{job['id']}").json()["job_status"]
            assert done["results"] == {"success": True}
            assert c.put(f"/api/v2/deleted_tickets/{tid}/restore").status_code == 404
    finally:
        server.stop()


def test_ticket_field_delete_as_the_real_api(company):
    server = _serve(company)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH) as c:
            fields = c.get("/api/v2/ticket_fields").json()["ticket_fields"]
            system = next(f for f in fields if f["removable"] is False)
            created = c.post("/api/v2/ticket_fields", json={"ticket_field": {
                "type": "text", "title": "Source id"}}).json()["ticket_field"]
            gone = c.delete(f"/api/v2/ticket_fields/{created['id']}.json")
            assert gone.status_code == 204 and gone.content == b""
            assert c.get(f"/api/v2/ticket_fields/{created['id']}").status_code == 404
            again = c.delete(f"/api/v2/ticket_fields/{created['id']}")
            assert again.status_code == 404 and again.json()["error"] == "RecordNotFound"
            refused = c.delete(f"/api/v2/ticket_fields/{system['id']}")
            assert refused.status_code == 422 and refused.json()["error"] == "RecordInvalid"
            after = c.get("/api/v2/ticket_fields").json()["ticket_fields"]
            assert [f["id"] for f in after] == [f["id"] for f in fields]
    finally:
        server.stop()


def test_deleted_groups_are_counted_apart(company):
    server = _serve(company)
    try:
        before = httpx.get(f"{server.url}/_sandbox/counts").json()
        gid = next(int(g.id) for g in company.groups if not g.deleted)
        assert httpx.delete(f"{server.url}/api/v2/groups/{gid}", auth=AUTH).status_code == 204
        after = httpx.get(f"{server.url}/_sandbox/counts").json()
        assert after["groups"] == before["groups"] - 1
        assert after["deleted_groups"] == before["deleted_groups"] + 1
    finally:
        server.stop()


def test_control_endpoints_reset_and_count(company):
    app = create_app(company, SandboxKnobs())
    server = serve_in_thread(app)
    try:
        counts = httpx.get(f"{server.url}/_sandbox/counts").json()
        assert counts["tickets"] == sum(not t.deleted for t in company.tickets)
        httpx.post(f"{server.url}/api/v2/groups", auth=AUTH, json={"group": {"name": "New"}})
        assert httpx.get(f"{server.url}/_sandbox/counts").json()["groups"] == counts["groups"] + 1
        httpx.post(f"{server.url}/_sandbox/reset")
        assert httpx.get(f"{server.url}/_sandbox/counts").json() == counts
    finally:
        server.stop()


# -- the official OAS response schemas --------------------------------------------------------
@pytest.fixture(scope="session")
def zendesk_oas(shared):
    class Loader(yaml.CSafeLoader):
        pass
    # The spec has one ``!!value`` tag that a plain safe_load rejects; read it as a string.
    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    with open(shared / "specs" / "zendesk-support-oas.yaml", encoding="utf-8") as fh:
        spec = yaml.load(fh, Loader=Loader)
    relax(spec["components"])
    # Users and organisations create_many jobs really answer {"id", "status": "Created"}
    # without "index" (zenpy recordings, reference §5.4); the OAS only knows {"id", "index"}.
    spec["components"]["schemas"]["JobStatusResultObject"] = {"anyOf": [
        *spec["components"]["schemas"]["JobStatusResultObject"]["anyOf"],
        {"type": "object", "required": ["status"], "properties": {
            "id": {"type": "integer"}, "index": {"type": "integer"},
            "status": {"type": "string"}, "error": {"type": "string"}}}]}
    # Deleted tickets stay in the incremental export with status "deleted" (Zendesk's
    # incremental export docs, "Excluding deleted tickets"); the OAS enum omits it.
    spec["components"]["schemas"]["TicketObject"]["properties"]["status"]["enum"].append(
        "deleted")
    return spec


def _template(spec, path):
    path = path.removesuffix(".json")
    matches = []
    for tpl in spec["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(tpl)) + "$"
        if re.match(pattern, path):
            matches.append((tpl.count("{"), tpl))
    return min(matches)[1] if matches else None


def _schema_errors(spec, method, path, status, body):
    from openapi_schema_validator import OAS30Validator
    tpl = _template(spec, path)
    assert tpl, f"{method} {path} is not in the OAS"
    response = spec["paths"][tpl][method.lower()]["responses"].get(str(status))
    assert response is not None, f"{method} {tpl} has no {status} response in the OAS"
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    validator = OAS30Validator({**schema, "components": spec["components"]})
    return tpl, [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:160]}"
                 for e in validator.iter_errors(body)][:3]


def _exercise(c, company):
    """Call every operation the emulator serves (responses are recorded by an event hook)."""
    user, agent = int(company.end_users[0].id), int(company.agents[2].id)
    group, org = int(company.groups[0].id), int(company.organizations[0].id)
    ticket = int(company.tickets[0].id)
    member = int(company.memberships[0].id)
    field = int(company.ticket_fields[0].id)
    for path, params in [
        ("/api/v2/users", {"page[size]": 5}), (f"/api/v2/users/{user}", None),
        ("/api/v2/users/show_many", {"ids": f"{user},{agent}"}),
        ("/api/v2/users/search", {"query": f"email:{company.end_users[0].email}"}),
        ("/api/v2/users/me", None), ("/api/v2/custom_roles", None),
        ("/api/v2/groups", {"page[size]": 5}), (f"/api/v2/groups/{group}", None),
        ("/api/v2/group_memberships", {"page[size]": 5}),
        (f"/api/v2/group_memberships/{member}", None),
        ("/api/v2/organizations", {"page[size]": 5}), (f"/api/v2/organizations/{org}", None),
        ("/api/v2/organizations/show_many", {"ids": str(org)}),
        ("/api/v2/ticket_fields", None), (f"/api/v2/ticket_fields/{field}", None),
        ("/api/v2/tickets", {"page[size]": 5}), (f"/api/v2/tickets/{ticket}", None),
        ("/api/v2/tickets/show_many", {"ids": str(ticket)}),
        (f"/api/v2/tickets/{ticket}/comments", {"include_inline_images": "true"}),
        ("/api/v2/deleted_tickets", {"page[size]": 5}),
        ("/api/v2/satisfaction_ratings", {"page[size]": 5}),
        ("/api/v2/incremental/tickets/cursor", {"start_time": 0, "per_page": 5,
                                                "include": "users,groups"}),
        ("/api/v2/incremental/users/cursor", {"start_time": 0, "per_page": 5}),
        ("/api/v2/incremental/users", {"start_time": 0, "per_page": 5}),
        ("/api/v2/incremental/organizations", {"start_time": 0, "per_page": 5}),
        ("/api/v2/incremental/ticket_events", {"start_time": 0, "per_page": 5,
                                               "include": "comment_events"}),
    ]:
        c.get(path, params=params).raise_for_status()
    jobs = [
        c.post("/api/v2/users/create_many", json={"users": [{"name": "N", "email": "n@x.ex"}]}),
        c.post("/api/v2/users/create_or_update_many", json={"users": [{"name": "M"}]}),
        c.post("/api/v2/organizations/create_many", json={"organizations": [{"name": "Org"}]}),
        c.post("/api/v2/group_memberships/create_many", json={"group_memberships": [
            {"user_id": agent, "group_id": int(company.groups[7].id)}]}),
        c.post("/api/v2/imports/tickets/create_many", json={"tickets": [
            {"requester_id": user, "comments": [{"value": "hi"}]}]}),
    ]
    c.post("/api/v2/users", json={"user": {"name": "Solo", "email": "solo@x.ex"}})
    c.post("/api/v2/users/create_or_update", json={"user": {"name": "Solo2", "email": "s2@x.ex"}})
    c.post("/api/v2/organizations", json={"organization": {"name": "Solo Org"}})
    new_group = c.post("/api/v2/groups", json={"group": {"name": "Tier 3"}}).json()["group"]
    c.post("/api/v2/group_memberships", json={"group_membership": {
        "user_id": agent, "group_id": new_group["id"]}})
    new_field = c.post("/api/v2/ticket_fields", json={"ticket_field": {
        "type": "tagger", "title": "Tier", "custom_field_options": [
            {"name": "One", "value": "one"}]}}).json()["ticket_field"]
    c.post(f"/api/v2/ticket_fields/{new_field['id']}/options",
           json={"custom_field_option": {"name": "Two", "value": "two"}})
    c.delete(f"/api/v2/ticket_fields/{new_field['id']}")
    open_id = next(int(t.id) for t in company.tickets if t.status == "open" and not t.deleted)
    c.put(f"/api/v2/tickets/{open_id}", json={"ticket": {
        "status": "pending", "comment": {"body": "Any news?", "public": True}}})
    c.post("/api/v2/tickets", json={"ticket": {"subject": "Live", "requester_id": user,
                                               "comment": {"body": "Hi there"}}})
    token = c.post("/api/v2/uploads", params={"filename": "a.txt"}, content=b"hello",
                   headers={"Content-Type": "text/plain"}).json()["upload"]["token"]
    c.post("/api/v2/imports/tickets", json={"ticket": {
        "requester_id": user, "subject": "s", "comments": [{"value": "v", "uploads": [token]}]}})
    jobs += [c.delete("/api/v2/tickets/destroy_many", params={"ids": str(ticket)}),
             c.delete("/api/v2/users/destroy_many", params={"ids": str(user)}),
             c.delete("/api/v2/organizations/destroy_many", params={"ids": str(org)}),
             c.delete("/api/v2/group_memberships/destroy_many", params={"ids": str(member)}),
             c.delete("/api/v2/deleted_tickets/destroy_many", params={"ids": str(ticket)})]
    ids = [j.json()["job_status"]["id"] for j in jobs]
    c.get(f"/api/v2/job_statuses/{ids[0]}")
    c.get("/api/v2/job_statuses/show_many", params={"ids": ",".join(ids)})


def test_every_served_operation_matches_the_oas_response_schema(zendesk_oas, company):
    seen = []

    def record(response):
        if response.request.url.path.startswith("/api/"):
            response.read()
            seen.append((response.request.method, response.request.url.path,
                         response.status_code, response.json() if response.content else None))

    server = _serve(company)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH,
                          event_hooks={"response": [record]}) as c:
            _exercise(c, company)
    finally:
        server.stop()
    assert all(status in (200, 201, 204) for _, _, status, _ in seen), [
        (m, p, s, b) for m, p, s, b in seen if s not in (200, 201, 204)]
    problems, operations = {}, set()
    for method, path, status, body in seen:
        if status == 204:  # no content: the OAS must say so too
            tpl = _template(zendesk_oas, path)
            assert body is None and "204" in zendesk_oas["paths"][tpl][method.lower()]["responses"]
            operations.add((method, tpl))
            continue
        tpl, errors = _schema_errors(zendesk_oas, method, path, status, body)
        operations.add((method, tpl))
        if errors:
            problems[f"{method} {tpl}"] = errors
    assert not problems, problems
    assert len(operations) >= 40
    assert {("PUT", "/api/v2/tickets/{ticket_id}"), ("POST", "/api/v2/tickets"),
            ("DELETE", "/api/v2/ticket_fields/{ticket_field_id}")} <= operations


def test_live_ticket_write_bodies_match_the_oas_request_schemas(zendesk_oas, company):
    from openapi_schema_validator import OAS30Validator
    sent = []

    def record(request):
        if request.method in ("PUT", "POST") and request.url.path.startswith("/api/v2/tickets"):
            sent.append((request.method, request.url.path, request.read()))

    server = _serve(company)
    try:
        with httpx.Client(base_url=server.url, auth=AUTH,
                          event_hooks={"request": [record]}) as c:
            _exercise(c, company)
    finally:
        server.stop()
    assert {m for m, _, _ in sent} == {"PUT", "POST"}
    for method, path, raw in sent:
        tpl = _template(zendesk_oas, path)
        op = zendesk_oas["paths"][tpl][method.lower()]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        validator = OAS30Validator({**schema, "components": zendesk_oas["components"]})
        body = json.loads(raw)
        assert not list(validator.iter_errors(body)), (op["operationId"], body)
        assert list(validator.iter_errors({"ticket": {"status": 12}})), "the schema can fail"


# -- runner and CLI ---------------------------------------------------------------------------
def test_start_sandbox_empty_target_with_plan():
    from migrator.errors import ConfigError
    with start_sandbox("zendesk", tickets=10, now=NOW, empty=True, plan="team") as running:
        counts = httpx.get(f"{running.url}/_sandbox/counts").json()
        assert counts["tickets"] == counts["groups"] == counts["end_users"] == 0
        active = [a for a in running.company.agents]
        assert counts["agents"] == len(active) > 20
        r = httpx.get(f"{running.url}/api/v2/users", auth=AUTH, params={"page[size]": 100})
        assert r.headers["X-Rate-Limit"] == "200"
        assert all(u["custom_role_id"] is None for u in r.json()["users"])
    assert not running.server.thread.is_alive() and not running.cdn.thread.is_alive()
    with pytest.raises(ConfigError):
        start_sandbox("zendesk", tickets=5, colour="blue")
    with pytest.raises(ConfigError):
        start_sandbox("helpscout", tickets=5)
    with pytest.raises(ConfigError):
        start_sandbox("zendesk", tickets=5, plan="platinum")


def test_start_sandbox_serves_freshdesk_lazily():
    with start_sandbox("freshdesk", tickets=10, now=NOW) as running:
        assert running.kind == "freshdesk" and running.cdn_url is None
        r = httpx.get(f"{running.url}/api/v2/agents", auth=("sandbox-key", "X"))
        assert r.status_code == 200 and r.json()


def test_cli_serves_until_ctrl_c(monkeypatch):
    from click.testing import CliRunner

    import migrator.cli.sandbox as module
    from migrator.cli import cli
    served = []

    def fake_start(*args, **kwargs):
        served.append(start_sandbox(*args, **kwargs))
        return served[-1]

    def interrupt():
        served.append(httpx.get(f"{served[0].url}/api/v2/groups", auth=AUTH).status_code)
        raise KeyboardInterrupt

    runner = CliRunner()
    result = runner.invoke(cli, ["sandbox", "--help"])
    assert result.exit_code == 0 and "--rate-429" in result.output and "--empty" in result.output
    monkeypatch.setattr("connectors.sandbox.run.start_sandbox", fake_start)
    monkeypatch.setattr(module, "_wait_forever", interrupt)
    result = runner.invoke(cli, ["sandbox", "zendesk", "--tickets", "5", "--plan", "growth"])
    assert result.exit_code == 0, result.output
    assert served[0].url in result.output and "sandbox-token" in result.output
    assert served[1] == 200 and served[0].knobs.plan == "growth"
    assert not served[0].server.thread.is_alive(), "Ctrl-C must stop the server"
    bad = runner.invoke(cli, ["sandbox", "zendesk", "--tickets", "5", "--plan", "gold"])
    assert bad.exit_code == 2 and "unknown Zendesk plan" in bad.output


# -- same shapes as the real recordings ------------------------------------------------------
def _recorded(recordings, name, uri_part):
    import base64
    import gzip
    import json
    cassette = json.loads((recordings / "zendesk" / name).read_text(encoding="utf-8"))
    for interaction in cassette["http_interactions"]:
        if uri_part in interaction["request"]["uri"]:
            body = interaction["response"]["body"]
            if "base64_string" in body:
                raw = base64.b64decode(body["base64_string"])
                raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
                return json.loads(raw)
            return json.loads(body["string"])
    raise AssertionError(f"{uri_part} not in {name}")


@pytest.mark.parametrize("name, uri_part, path, params, key", [
    ("zenpy-TicketsIncrementalTest.test_get_values.json", "tickets/cursor.json?per_page",
     "/api/v2/incremental/tickets/cursor", {"start_time": 0, "per_page": 1}, "tickets"),
    ("zenpy-UsersIncrementalTest.test_get_values.json", "users/cursor.json",
     "/api/v2/incremental/users/cursor", {"start_time": 0, "per_page": 1}, "users"),
    ("zenpy-TestGroupMemberships.test_values.json", "group_memberships",
     "/api/v2/group_memberships", {"page[size]": 1}, "group_memberships"),
])
def test_envelopes_and_records_have_the_recorded_keys(client, recordings, name, uri_part, path,
                                                      params, key):
    real = _recorded(recordings, name, uri_part)
    ours = client.get(path, params=params).json()
    assert set(real) <= set(ours), set(real) - set(ours)
    if real[key]:
        extra_real = set(real[key][0]) - set(ours[key][0])
        assert not extra_real, f"the sandbox lacks {sorted(extra_real)}"
