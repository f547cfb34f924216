"""The Zendesk emulator over real loopback HTTP: envelopes, exports, limits, faults, jobs, imports,
and every served operation's body validated against the official OAS response schemas."""

from __future__ import annotations

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
            codes = [c.post("/api/v2/organizations/create_many", json=body).status_code
                     for _ in range(3)]
            assert codes == [200, 200, 429]
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
