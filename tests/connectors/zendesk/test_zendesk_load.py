"""Zendesk Target over pytest-httpx: jobs and their per-item results, fallbacks, errors."""

from __future__ import annotations

import httpx
import pytest

from connectors.base import LoadItem
from connectors.zendesk.jobs import job_outcomes
from migrator.models import (
    Agent, Attachment, Comment, EndUser, Entity, Group, Membership, Organization, Outcome, Ticket,
)

JOB = "/api/v2/job_statuses/show_many"


def _queued(job_id):
    return {"job_status": {"id": job_id, "status": "queued", "results": None}}


def _done(job_id, results, status="completed"):
    return {"job_statuses": [{"id": job_id, "status": status, "results": results}]}


def _ticket(tid, *, author="501", attachments=(), status="open"):
    comments = [Comment(id=f"{tid}01", ticket_id=tid, author_id=author, body="first",
                        html_body="<p>first</p>", created_at="2020-01-01T10:00:00Z",
                        attachments=list(attachments)),
                Comment(id=f"{tid}02", ticket_id=tid, author_id="501", body="note",
                        public=False, created_at="2020-01-02T10:00:00Z")]
    return Ticket(id=tid, subject=f"S{tid}", status=status, priority="high", requester_id="700",
                  assignee_id="501", group_id="42", tags=["vip"], created_at="2020-01-01T10:00:00Z",
                  updated_at="2020-01-03T10:00:00Z", solved_at=None, comments=comments,
                  custom_fields={"Plan": "gold"})


def test_org_job_results_without_index_and_reuse_by_name(target, router):
    router.on("GET", "/api/v2/organizations",
              {"organizations": [{"id": 9, "name": "Existing Co"}], "meta": {"has_more": False}})
    router.on("POST", "/api/v2/organizations/create_many", _queued("J1"))
    router.on("GET", JOB, _done("J1", [{"id": 11, "status": "Created"},
                                       {"status": "Failed", "error": "DuplicateValue",
                                        "details": "Name has already been taken"}]))
    items = [LoadItem("o1", Organization(id="o1", name="A")),
             LoadItem("o2", Organization(id="o2", name="existing co ")),
             LoadItem("o3", Organization(id="o3", name="B"))]
    sub = target.submit(Entity.ORGANIZATIONS, items)
    body = router.body(router.calls("POST", "/api/v2/organizations/create_many")[0])
    assert [o["name"] for o in body["organizations"]] == ["A", "B"]
    assert body["organizations"][0]["external_id"] == "o1"
    out = target.collect(sub)
    assert [(o.source_id, o.outcome, o.target_id) for o in out] == [
        ("o1", Outcome.CREATED, "11"), ("o2", Outcome.REUSED, "9"), ("o3", Outcome.FAILED, None)]
    assert "Name has already been taken" in out[2].reason


def test_users_bulk_403_falls_back_to_one_by_one_and_keeps_422_reason(target, router):
    router.on("GET", "/api/v2/custom_roles", {"custom_roles": [{"id": 77, "name": "Tier 2"}]})
    router.on("POST", "/api/v2/users/create_or_update_many",
              httpx.Response(403, json={"error": "Forbidden",
                                        "description": "Bulk user import is not enabled"}))

    def one(request):
        user = router.body(request)["user"]
        if user["email"] == "dup@acme.test":
            return httpx.Response(422, json={
                "error": "RecordInvalid", "description": "Record validation errors",
                "details": {"email": [{"description": "Email: dup@acme.test is already being "
                                       "used by another user", "error": "DuplicateValue"}]}})
        return httpx.Response(201, json={"user": {"id": 900 + len(router.requests)}})
    router.on("POST", "/api/v2/users/create_or_update", one)
    items = [LoadItem("5", Agent(id="5", name="Ann", email="ann@acme.test", role="Tier 2")),
             LoadItem("6", Agent(id="6", name="Bo", email="dup@acme.test", role="admin"))]
    out = target.collect(target.submit(Entity.AGENTS, items))
    assert out[0].outcome == Outcome.CREATED and out[0].target_id
    assert out[1].outcome == Outcome.FAILED
    assert "DuplicateValue" in out[1].reason and "already being used" in out[1].reason
    sent = [router.body(r)["user"] for r in router.calls("POST", "/api/v2/users/create_or_update")]
    assert sent[0]["custom_role_id"] == 77 and sent[0]["role"] == "agent"
    assert sent[1]["role"] == "admin" and sent[0]["skip_verify_email"] is True
    assert target.bulk_users is False


def test_end_users_bulk_job_matched_by_external_id(target, router):
    router.on("POST", "/api/v2/users/create_or_update_many", _queued("J2"))
    router.on("GET", JOB, {"job_statuses": [{"id": "J2", "status": "working"}]},
              _done("J2", [{"id": 31, "status": "Updated", "external_id": "u2"},
                           {"id": 30, "status": "Created", "external_id": "u1"}]))
    items = [LoadItem("u1", EndUser(id="u1", name="C1", email="c1@x.test")),
             LoadItem("u2", EndUser(id="u2", name="C2", email="c2@x.test"))]
    out = target.collect(target.submit(Entity.END_USERS, items))
    assert [(o.outcome, o.target_id) for o in out] == [(Outcome.CREATED, "30"),
                                                       (Outcome.UPDATED, "31")]
    assert len(router.calls("GET", JOB)) == 2  # polled until completed


def test_ticket_import_uploads_placeholder_and_failed_item(target, router, tmp_path):
    (tmp_path / "attachments").mkdir()
    (tmp_path / "attachments" / "a.txt").write_bytes(b"hello")
    router.on("GET", "/api/v2/ticket_fields",
              {"ticket_fields": [{"id": 555, "title": "Plan", "type": "text"}],
               "meta": {"has_more": False}})
    router.on("POST", "/api/v2/uploads", httpx.Response(201, json={"upload": {"token": "tok1"}}))
    router.on("POST", "/api/v2/users/create_or_update", httpx.Response(201, json={"user": {"id": 1}}))
    router.on("POST", "/api/v2/imports/tickets/create_many", _queued("J3"))
    router.on("GET", JOB, _done("J3", [{"index": 0, "id": 1001, "account_id": 1},
                                       {"index": 1, "error": "RecordInvalid",
                                        "details": "Requester is suspended"}]))
    att = Attachment(id="a1", file_name="a.txt", content_type="text/plain",
                     local_path="attachments/a.txt")
    target.options.archive_closed = True
    items = [LoadItem("t1", _ticket("t1", author=None, attachments=[att], status="closed")),
             LoadItem("t2", _ticket("t2"))]
    out = target.collect(target.submit(Entity.TICKETS, items))
    assert (out[0].outcome, out[0].target_id) == (Outcome.CREATED, "1001")
    assert "placeholder agent" in out[0].reason
    assert out[1].outcome == Outcome.FAILED and "Requester is suspended" in out[1].reason
    upload = router.calls("POST", "/api/v2/uploads")[0]
    assert upload.url.params["filename"] == "a.txt" and upload.content == b"hello"
    post = router.calls("POST", "/api/v2/imports/tickets/create_many")[0]
    assert router.requests.index(upload) < router.requests.index(post)
    assert post.url.params["archive_immediately"] == "true"
    first = router.body(post)["tickets"][0]
    assert first["external_id"] == "t1" and first["created_at"] == "2020-01-01T10:00:00Z"
    assert first["custom_fields"] == [{"id": 555, "value": "gold"}]
    assert "migrated" in first["tags"] and "vip" in first["tags"]
    c0, c1 = first["comments"]
    assert c0 == {"author_id": 1, "public": True, "html_body": "<p>first</p>",
                  "created_at": "2020-01-01T10:00:00Z", "uploads": ["tok1"]}
    assert c1["public"] is False and c1["author_id"] == 501
    placeholder = router.body(router.calls("POST", "/api/v2/users/create_or_update")[0])
    assert placeholder["user"]["email"] == "migration-placeholder@acme.test"


def test_ticket_batch_refused_goes_one_by_one_409_retried_422_reason(target, router, sleeps):
    router.on("GET", "/api/v2/ticket_fields", {"ticket_fields": [], "meta": {"has_more": False}})
    router.on("POST", "/api/v2/imports/tickets/create_many",
              httpx.Response(400, json={"error": "TooManyValues", "description": "too many"}))
    answers = {"t1": [httpx.Response(409, text="Requester creation collision - please try again"),
                      httpx.Response(201, json={"ticket": {"id": 77}})],
               "t2": [httpx.Response(422, json={
                   "error": "RecordInvalid", "description": "Record validation errors",
                   "details": {"base": [{"description": "Comment: value is blank",
                                         "error": "BlankValue"}]}})]}
    router.on("POST", "/api/v2/imports/tickets",
              lambda r: answers[router.body(r)["ticket"]["external_id"]].pop(0))
    items = [LoadItem("t1", _ticket("t1")), LoadItem("t2", _ticket("t2"))]
    sub = target.submit(Entity.TICKETS, items)
    out = target.collect(sub)
    assert (out[0].outcome, out[0].target_id) == (Outcome.CREATED, "77")
    assert out[1].outcome == Outcome.FAILED and "BlankValue" in out[1].reason
    assert "Comment: value is blank" in out[1].reason
    assert len(router.calls("POST", "/api/v2/imports/tickets")) == 3
    assert "Plan" in out[0].reason  # the dropped custom field is reported


def test_job_cap_waits_for_a_free_slot(target, router):
    target.jobs.cap = 1
    router.on("POST", "/api/v2/group_memberships/create_many", _queued("A"), _queued("B"))
    router.on("GET", "/api/v2/group_memberships", {"group_memberships": [
        {"id": 3, "user_id": 1, "group_id": 2}], "meta": {"has_more": False}})
    router.on("GET", JOB, _done("A", [{"id": 10, "index": 0}]), _done("B", [{"id": 11}]))
    first = target.submit(Entity.MEMBERSHIPS, [
        LoadItem("m1", Membership(id="m1", agent_id="5", group_id="6", default=True)),
        LoadItem("m0", Membership(id="m0", agent_id="1", group_id="2"))])
    assert target.jobs.open_jobs == 1
    second = target.submit(Entity.MEMBERSHIPS, [
        LoadItem("m2", Membership(id="m2", agent_id="7", group_id="6"))])
    polls = router.calls("GET", JOB)
    assert polls and polls[0].url.params["ids"] == "A"  # polled before the second POST
    assert router.requests.index(polls[0]) < router.requests.index(
        router.calls("POST", "/api/v2/group_memberships/create_many")[1])
    out = target.collect(first)
    assert [(o.outcome, o.target_id) for o in out] == [(Outcome.CREATED, "10"),
                                                       (Outcome.REUSED, "3")]
    assert router.body(router.calls("POST", "/api/v2/group_memberships/create_many")[0]) == {
        "group_memberships": [{"user_id": 5, "group_id": 6, "default": True}]}
    assert target.collect(second)[0].target_id == "11"


def test_job_polls_start_soon_and_back_off(target, router, sleeps):
    router.on("POST", "/api/v2/group_memberships/create_many", _queued("A"))
    router.on("GET", "/api/v2/group_memberships", {"group_memberships": [],
                                                   "meta": {"has_more": False}})
    running = {"job_statuses": [{"id": "A", "status": "working", "results": None}]}
    router.on("GET", JOB, *[running] * 5, _done("A", [{"id": 10, "index": 0}]))
    sub = target.submit(Entity.MEMBERSHIPS, [LoadItem("m1", Membership(
        id="m1", agent_id="1", group_id="6"))])
    assert target.collect(sub)[0].target_id == "10"
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.0]  # a short job is seen after 0.1 s
    assert len(router.calls("GET", JOB)) == 6


def test_a_full_job_queue_is_learnt_not_a_rate_limit(target, router, sleeps):
    full = httpx.Response(429, json={"error": "TooManyJobs", "description": "over the limit"},
                          headers={"Retry-After": "7", "X-Rate-Limit-Remaining": "650"})
    router.on("POST", "/api/v2/group_memberships/create_many", _queued("A"), full, _queued("B"))
    router.on("GET", "/api/v2/group_memberships", {"group_memberships": [],
                                                   "meta": {"has_more": False}})
    router.on("GET", JOB, _done("A", [{"id": 10, "index": 0}]), _done("B", [{"id": 11}]))

    def batch(n):
        return [LoadItem(f"m{n}", Membership(id=f"m{n}", agent_id=str(n), group_id="6"))]
    first = target.submit(Entity.MEMBERSHIPS, batch(1))
    second = target.submit(Entity.MEMBERSHIPS, batch(2))  # refused once, sent again
    assert target.jobs.refused == 1 and target.jobs.effective_cap == 1
    assert 7 not in sleeps  # one of our jobs was open: waited for it, not for Retry-After
    assert target.client.budgets.get("account").stats.throttled == 0
    posts = router.calls("POST", "/api/v2/group_memberships/create_many")
    assert len(posts) == 3 and router.requests.index(router.calls("GET", JOB)[0]) < \
        router.requests.index(posts[2])
    assert target.collect(first)[0].target_id == "10"
    assert target.collect(second)[0].target_id == "11"


def test_a_rate_limit_429_on_a_submission_pauses_the_budget(target, router):
    limited = httpx.Response(429, text="Rate limit exceeded", headers={"Retry-After": "0"})
    router.on("POST", "/api/v2/group_memberships/create_many", limited, _queued("A"))
    router.on("GET", "/api/v2/group_memberships", {"group_memberships": [],
                                                   "meta": {"has_more": False}})
    target.submit(Entity.MEMBERSHIPS, [LoadItem("m1", Membership(id="m1", agent_id="1",
                                                                 group_id="6"))])
    assert target.jobs.refused == 0 and target.jobs.effective_cap == 30
    assert target.client.budgets.get("account").stats.throttled == 1


def test_groups_reuse_by_name_and_create(target, router):
    router.on("GET", "/api/v2/groups", {"groups": [{"id": 4, "name": "Billing/L1"},
                                                   {"id": 5, "name": "Gone", "deleted": True}],
                                        "meta": {"has_more": False}})
    router.on("POST", "/api/v2/groups", httpx.Response(201, json={"group": {"id": 8,
                                                                             "name": "Gone"}}))
    out = target.collect(target.submit(Entity.GROUPS, [
        LoadItem("billing/l1", Group(id="billing/l1", name="billing/l1")),
        LoadItem("x", Group(id="x", name="Gone"))]))
    assert [(o.outcome, o.target_id) for o in out] == [(Outcome.REUSED, "4"),
                                                       (Outcome.CREATED, "8")]


def test_completed_job_with_empty_or_missing_results_fails_those_items():
    job = {"id": "J", "status": "completed", "results": [{}, {"id": 3, "index": 2}]}
    out = job_outcomes(job, ["a", "b", "c"])
    assert [o.outcome for o in out] == [Outcome.FAILED, Outcome.FAILED, Outcome.CREATED]
    assert "empty result" in out[0].reason and "no result" in out[1].reason


def test_reconcile_by_external_id(target, router):
    router.on("GET", "/api/v2/tickets",
              lambda r: httpx.Response(200, json={"tickets": [
                  {"id": 30, "external_id": r.url.params["external_id"]},
                  {"id": 20, "external_id": r.url.params["external_id"]}]
                  if r.url.params["external_id"] == "t1" else []}))
    assert target.reconcile(Entity.TICKETS, ["t1", "t2"]) == {"t1": "20"}
    router.on("GET", "/api/v2/users/show_many",
              {"users": [{"id": 5, "external_id": "U1"}]})
    assert target.reconcile(Entity.END_USERS, ["u1", "u2"]) == {"u1": "5"}
    assert router.calls("GET", "/api/v2/users/show_many")[0].url.params["external_ids"] == "u1,u2"


def _existing(router, tid, status, comments):
    router.on("GET", "/api/v2/ticket_fields", {"ticket_fields": [], "meta": {"has_more": False}})
    router.on("GET", "/api/v2/tickets", {"tickets": [{"id": tid, "external_id": "t1"}]})
    router.on("GET", f"/api/v2/tickets/{tid}", {"ticket": {"id": tid, "status": status}})
    router.on("GET", f"/api/v2/tickets/{tid}/comments", {"comments": [
        {"id": k, "body": "x", "public": public, "created_at": at}
        for k, (at, public) in enumerate(comments)], "meta": {"has_more": False}})


def test_recovering_ticket_found_complete_is_unchanged(target, router):
    _existing(router, 3, "open", [("2020-01-01T10:00:00Z", True),
                                  ("2020-01-02T10:00:00Z", False)])
    out = target.collect(target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1"),
                                                                 recovering=True)]))
    assert (out[0].outcome, out[0].target_id) == (Outcome.UNCHANGED, "3")
    assert not router.calls("POST", "/api/v2/imports/tickets/create_many")
    assert not router.calls("PUT", "/api/v2/tickets/3")


def test_recovering_ticket_gets_its_missing_comments_appended(target, router):
    _existing(router, 4, "open", [("2020-01-01T10:00:00Z", True)])
    router.on("PUT", "/api/v2/tickets/4", {"ticket": {"id": 4}})
    out = target.collect(target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1"),
                                                                 recovering=True)]))
    assert (out[0].outcome, out[0].target_id) == (Outcome.UPDATED, "4")
    assert "1 comments appended" in out[0].reason
    (put,) = router.calls("PUT", "/api/v2/tickets/4")
    assert router.body(put) == {"ticket": {"comment": {"author_id": 501, "public": False,
                                                       "body": "note"}}}


def test_recovering_closed_ticket_reports_what_cannot_be_added(target, router):
    _existing(router, 5, "closed", [])
    out = target.collect(target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1"),
                                                                 recovering=True)]))
    assert out[0].outcome == Outcome.UNCHANGED and "2 newer comments" in out[0].reason
    assert not router.calls("PUT", "/api/v2/tickets/5")


def test_delete_tickets_soft_then_permanent(target, router):
    router.on("DELETE", "/api/v2/tickets/destroy_many", _queued("D1"))
    router.on("DELETE", "/api/v2/deleted_tickets/destroy_many", _queued("D2"))
    router.on("GET", JOB, _done("D1", None), _done("D2", {"success": True}))
    router.on("GET", "/api/v2/tickets/1", httpx.Response(404, json={"error": "RecordNotFound"}))
    router.on("GET", "/api/v2/tickets/2", {"ticket": {"id": 2}})
    assert target.delete(Entity.TICKETS, ["1", "2"]) == ["1"]
    assert router.calls("DELETE", "/api/v2/tickets/destroy_many")[0].url.params["ids"] == "1,2"


def test_fetch_ticket_with_comments(target, router):
    router.on("GET", "/api/v2/tickets/5", {"ticket": {"id": 5, "subject": "x", "status": "open",
                                                      "external_id": "t5"}})
    router.on("GET", "/api/v2/tickets/5/comments",
              {"comments": [{"id": 1, "author_id": 2, "body": "b", "public": True}],
               "meta": {"has_more": False}})
    ticket = target.fetch(Entity.TICKETS, "5")
    assert ticket.external_id == "t5" and [c.body for c in ticket.comments] == ["b"]
    router.on("GET", "/api/v2/tickets/6", httpx.Response(404, json={}))
    assert target.fetch(Entity.TICKETS, "6") is None


@pytest.mark.parametrize("entity", [Entity.SATISFACTION_RATINGS, Entity.TICKET_EVENTS])
def test_entities_zendesk_cannot_load_are_skipped_with_reason(target, entity):
    out = target.collect(target.submit(entity, [LoadItem("1", object())]))
    assert out[0].outcome == Outcome.SKIPPED and "does not load" in out[0].reason


def test_requester_collision_inside_a_job_is_retried_alone(target, router):
    router.on("GET", "/api/v2/ticket_fields", {"ticket_fields": [], "meta": {"has_more": False}})
    router.on("POST", "/api/v2/imports/tickets/create_many", _queued("J9"))
    router.on("GET", JOB, _done("J9", [{"index": 0, "error": "Conflict",
                                       "details": "Requester creation collision - please try "
                                                  "again"}]))
    router.on("POST", "/api/v2/imports/tickets", httpx.Response(201, json={"ticket": {"id": 8}}))
    out = target.collect(target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1"))]))
    assert (out[0].outcome, out[0].target_id) == (Outcome.CREATED, "8")
    retry = router.body(router.calls("POST", "/api/v2/imports/tickets")[0])
    assert retry["ticket"]["external_id"] == "t1" and len(retry["ticket"]["comments"]) == 2


def test_collect_of_a_submission_rebuilt_after_a_crash(target, router):
    from connectors.base import Submission
    router.on("GET", JOB, _done("J7", [{"id": 41, "status": "Created", "external_id": "u2"},
                                       {"id": 40, "status": "Created", "external_id": "u1"}]))
    items = [LoadItem("u1", EndUser(id="u1", name="A")), LoadItem("u2", EndUser(id="u2",
                                                                                name="B"))]
    out = target.collect(Submission(Entity.END_USERS, items, job_id="J7"))
    assert [(o.source_id, o.target_id) for o in out] == [("u1", "40"), ("u2", "41")]


def test_placeholder_falls_back_to_an_end_user_when_no_agent_seat(target, router):
    answers = [httpx.Response(422, json={"error": "RecordInvalid", "description":
                                         "Agent seats exhausted"}),
               httpx.Response(201, json={"user": {"id": 66}})]
    router.on("POST", "/api/v2/users/create_or_update", lambda r: answers.pop(0))
    assert target.placeholder_id() == 66 and target.placeholder_id() == 66
    sent = [router.body(r)["user"]["role"] for r in
            router.calls("POST", "/api/v2/users/create_or_update")]
    assert sent == ["agent", "end-user"]


def test_upload_is_streamed_and_a_retry_resends_every_byte(target, router, tmp_path):
    from connectors.zendesk.uploads import upload_one
    data = bytes(range(256)) * 1000  # several chunks
    (tmp_path / "big.bin").write_bytes(data)
    router.on("POST", "/api/v2/uploads", httpx.Response(503, text="busy"),
              httpx.Response(201, json={"upload": {"token": "tk"}}))
    att = Attachment(id="1", file_name="big.bin", local_path="big.bin")
    assert upload_one(target.client, att, tmp_path / "big.bin") == "tk"
    first, second = router.calls("POST", "/api/v2/uploads")
    assert first.content == data and second.content == data
    assert second.headers["content-length"] == str(len(data))
    assert second.headers["content-type"] == "application/binary"


def _drop(request):
    raise httpx.RemoteProtocolError("server disconnected", request=request)


def test_lost_answer_to_a_bulk_create_is_looked_up_not_resent(target, router):
    router.on("GET", "/api/v2/organizations", {"organizations": [], "meta": {"has_more": False}})
    router.on("POST", "/api/v2/organizations/create_many", _drop)
    router.on("GET", "/api/v2/organizations/show_many",
              {"organizations": [{"id": 12, "external_id": "o1"}]})
    out = target.collect(target.submit(Entity.ORGANIZATIONS,
                                       [LoadItem("o1", Organization(id="o1", name="A"))]))
    assert (out[0].outcome, out[0].target_id) == (Outcome.CREATED, "12")
    assert len(router.calls("POST", "/api/v2/organizations/create_many")) == 1


def test_lost_answer_and_nothing_created_is_a_transient_error(target, router):
    from migrator.errors import TransientError
    target.unknown_wait = 3 * target.jobs.poll_interval
    router.on("GET", "/api/v2/ticket_fields", {"ticket_fields": [], "meta": {"has_more": False}})
    router.on("POST", "/api/v2/imports/tickets/create_many", _drop)
    router.on("GET", "/api/v2/tickets", {"tickets": []})
    with pytest.raises(TransientError, match="not in Zendesk") as info:
        target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1"))])
    assert "run the same command again" in info.value.hint
    assert len(router.calls("POST", "/api/v2/imports/tickets/create_many")) == 1
    assert len(router.calls("GET", "/api/v2/tickets")) == 3  # looked for it while it may queue


def test_group_create_whose_answer_was_lost_is_found_by_name(target, router):
    lists = [{"groups": [], "meta": {"has_more": False}},
             {"groups": [{"id": 31, "name": "Billing"}], "meta": {"has_more": False}}]
    router.on("GET", "/api/v2/groups", lambda r: httpx.Response(200, json=lists.pop(0)))
    router.on("POST", "/api/v2/groups", _drop)
    out = target.collect(target.submit(Entity.GROUPS, [LoadItem("g", Group(id="g",
                                                                           name="Billing"))]))
    assert (out[0].outcome, out[0].target_id) == (Outcome.CREATED, "31")
    assert len(router.calls("POST", "/api/v2/groups")) == 1


def test_connection_refused_before_sending_is_simply_sent_again(target, router):
    def refuse_once(request, state={"n": 0}):
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={"group": {"id": 5}})
    router.on("GET", "/api/v2/groups", {"groups": [], "meta": {"has_more": False}})
    router.on("POST", "/api/v2/groups", refuse_once)
    out = target.collect(target.submit(Entity.GROUPS, [LoadItem("g", Group(id="g", name="X"))]))
    assert (out[0].outcome, out[0].target_id) == (Outcome.CREATED, "5")
    assert len(router.calls("POST", "/api/v2/groups")) == 2


def test_comments_appended_earlier_are_recognised_by_text(target, router):
    # the note was appended by an earlier completion: dated then, not at its original time
    router.on("GET", "/api/v2/ticket_fields", {"ticket_fields": [], "meta": {"has_more": False}})
    router.on("GET", "/api/v2/tickets", {"tickets": [{"id": 4, "external_id": "t1"}]})
    router.on("GET", "/api/v2/tickets/4", {"ticket": {"id": 4, "status": "open"}})
    router.on("GET", "/api/v2/tickets/4/comments", {"comments": [
        {"id": 1, "html_body": "<div class='zd-comment'><p>first</p></div>", "public": True,
         "created_at": "2020-01-01T10:00:00Z"},
        {"id": 2, "body": "note", "public": False, "created_at": "2024-05-05T00:00:00Z"}],
        "meta": {"has_more": False}})
    out = target.collect(target.submit(Entity.TICKETS, [LoadItem("t1", _ticket("t1"),
                                                                 recovering=True)]))
    assert out[0].outcome == Outcome.UNCHANGED
    assert not router.calls("PUT", "/api/v2/tickets/4")


def test_delete_one_by_one_keeps_going_past_a_refusal(target, router):
    router.on("DELETE", "/api/v2/ticket_fields/1", httpx.Response(
        405, json={"error": "InvalidEndpoint", "description": "Method not allowed"}))
    router.on("DELETE", "/api/v2/ticket_fields/2", httpx.Response(204))
    router.on("DELETE", "/api/v2/ticket_fields/3", httpx.Response(404, json={}))
    assert target.delete(Entity.TICKET_FIELDS, ["1", "2", "3"]) == ["2", "3"]


def test_existing_agents_changed_are_reported_with_what_they_had_and_restored(target, router):
    router.on("GET", "/api/v2/custom_roles", {"custom_roles": [{"id": 77, "name": "Tier 2"}]})
    router.on("GET", "/api/v2/users", {"users": [
        {"id": 41, "name": "Ann A.", "email": "ANN@acme.test", "role": "agent",
         "custom_role_id": 12, "external_id": None, "tags": ["vip"], "suspended": False},
        {"id": 42, "name": "Same", "email": "same@acme.test", "role": "admin",
         "custom_role_id": None, "external_id": "7", "tags": [], "suspended": False}],
        "meta": {"has_more": False}})
    router.on("POST", "/api/v2/users/create_or_update_many", _queued("J9"))
    router.on("GET", JOB, _done("J9", [{"id": 41, "status": "Updated", "external_id": "5"},
                                       {"id": 42, "status": "Updated", "external_id": "7"},
                                       {"id": 43, "status": "Created", "external_id": "8"}]))
    router.on("PUT", "/api/v2/users/41", {"user": {"id": 41}})
    items = [LoadItem("5", Agent(id="5", name="Ann", email="ann@acme.test", role="Tier 2")),
             LoadItem("7", Agent(id="7", name="Same", email="same@acme.test", role="admin")),
             LoadItem("8", Agent(id="8", name="New", email="new@acme.test", role="agent"))]
    target.collect(target.submit(Entity.AGENTS, items))
    [change] = target.changes()  # the unchanged admin and the new agent are not changes
    assert (change.entity, change.target_id) == (Entity.AGENTS, "41")
    assert change.before == {"name": "Ann A.", "role": "agent", "custom_role_id": 12,
                             "external_id": None, "tags": ["vip"], "suspended": False}
    assert target.changes() == []
    target.restore(Entity.AGENTS, "41", change.before)
    [put] = router.calls("PUT", "/api/v2/users/41")
    assert router.body(put)["user"] == change.before


def test_existing_end_users_matched_by_email_are_noted_before_the_job_and_restored(
        target, router):
    """create_or_update_many updates a user the account has with the e-mail sent: what it had
    is noted before the job (for a rollback), once per user it changes; the account's users
    are listed once for every batch."""
    router.on("GET", "/api/v2/users", {"users": [
        {"id": 41, "name": "Cy (theirs)", "email": "CY@x.test", "role": "end-user",
         "custom_role_id": None, "external_id": None, "tags": ["vip"], "suspended": False,
         "phone": "+49 30 1", "organization_id": 9},
        {"id": 42, "name": "Same", "email": "same@x.test", "role": "end-user",
         "custom_role_id": None, "external_id": "u2", "tags": [], "suspended": False,
         "phone": None, "organization_id": None},
        {"id": 43, "name": "Agent Al", "email": "al@x.test", "role": "agent",
         "custom_role_id": 12, "external_id": None, "tags": [], "suspended": False}],
        "meta": {"has_more": False}})
    router.on("POST", "/api/v2/users/create_or_update_many", _queued("J2"))
    router.on("GET", JOB, _done("J2", [{"id": 41, "status": "Updated", "external_id": "u1"},
                                       {"id": 42, "status": "Updated", "external_id": "u2"},
                                       {"id": 50, "status": "Created", "external_id": "u3"}]))
    router.on("PUT", "/api/v2/users/41", {"user": {"id": 41}})
    items = [LoadItem("u1", EndUser(id="u1", name="Cy", email="cy@x.test")),
             LoadItem("u2", EndUser(id="u2", name="Same", email="same@x.test")),
             LoadItem("u3", EndUser(id="u3", name="New", email="new@x.test"))]
    target.collect(target.submit(Entity.END_USERS, items))
    [change] = target.changes()  # the user sent as it is and the new one are not changes
    assert (change.entity, change.target_id) == (Entity.END_USERS, "41")
    assert change.before == {"name": "Cy (theirs)", "role": "end-user", "custom_role_id": None,
                             "external_id": None, "tags": ["vip"], "suspended": False,
                             "phone": "+49 30 1", "organization_id": 9}
    # an end user carrying an agent's e-mail does not make it an end user (no role sent); what
    # it changes (name, external id) is noted with the rest
    target.collect(target.submit(Entity.END_USERS, [
        LoadItem("u4", EndUser(id="u4", name="Al", email="al@x.test"))]))
    [agent] = target.changes()
    assert (agent.target_id, agent.before["role"], agent.before["custom_role_id"]) == (
        "43", "agent", 12)
    sent = router.body(router.calls("POST", "/api/v2/users/create_or_update_many")[-1])
    assert "role" not in sent["users"][0] and sent["users"][0]["external_id"] == "u4"
    assert len(router.calls("GET", "/api/v2/users")) == 1  # listed once, looked up per batch
    # a new run (a new sink: follow runs one per round) reads the account again
    noted = []
    target.watch_changes(noted.extend)
    target.collect(target.submit(Entity.END_USERS, [items[0]]))
    assert len(router.calls("GET", "/api/v2/users")) == 2
    assert [c.target_id for c in noted] == ["41"]
    target.watch_changes(None)
    target.restore(Entity.END_USERS, "41", change.before)
    [put] = router.calls("PUT", "/api/v2/users/41")
    assert router.body(put)["user"] == {
        "name": "Cy (theirs)", "role": "end-user", "external_id": None, "tags": ["vip"],
        "suspended": False, "phone": "+49 30 1", "organization_id": 9}
