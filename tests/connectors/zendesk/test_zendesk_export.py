"""Zendesk Source over pytest-httpx: pagination rules, rate limits, fallbacks, comments, delta."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from connectors.zendesk.comments import choose_strategy
from connectors.zendesk.client import plan_limits, zendesk_header_hook
from migrator.errors import ConfigError
from migrator.models import Agent, EndUser, Entity, Role, status_category
from migrator.ratelimit import BudgetSet


def _pages(source, entity, cursor=None, **kw):
    return list(source.export(entity, cursor, **kw))


def _ticket(i, updated="2024-01-01T00:00:00Z", status="open", gen=1):
    return {"id": i, "subject": f"t{i}", "status": status, "priority": "high",
            "requester_id": 10, "updated_at": updated, "created_at": "2023-12-01T00:00:00Z",
            "generated_timestamp": gen, "via": {"channel": "email"}, "tags": ["a"],
            "custom_fields": [{"id": 555, "value": "gold"}, {"id": 556, "value": None}]}


def test_cbp_stops_on_has_more_false_even_with_next_link(source, router):
    router.on("GET", "/api/v2/organizations",
              {"organizations": [{"id": 1, "name": "A"}],
               "meta": {"has_more": True, "after_cursor": "c1"},
               "links": {"next": "https://acme.zendesk.com/api/v2/organizations?page[after]=c1"}},
              {"organizations": [{"id": 2, "name": "B"}],
               "meta": {"has_more": False, "after_cursor": "c2"},
               "links": {"next": "https://acme.zendesk.com/api/v2/organizations?page[after]=c2"}})
    pages = _pages(source, Entity.ORGANIZATIONS)
    assert [r.name for p in pages for r in p.records] == ["A", "B"]
    assert [p.done for p in pages] == [False, True]
    calls = router.calls("GET", "/api/v2/organizations")
    assert len(calls) == 2
    assert calls[1].url.params["page[after]"] == "c1"
    assert calls[0].url.params["page[size]"] == "100"


def test_cbp_repeated_cursor_is_a_stop_not_a_loop(source, router):
    page = {"groups": [{"id": 7, "name": "G"}], "meta": {"has_more": True, "after_cursor": "same"}}
    router.on("GET", "/api/v2/groups", page)  # the server keeps answering the same cursor
    pages = _pages(source, Entity.GROUPS)
    assert len(router.calls("GET", "/api/v2/groups")) == 2
    assert pages[-1].done is True


def test_incremental_tickets_end_of_stream_dedupe_and_params(source, router):
    router.on("GET", "/api/v2/incremental/tickets/cursor",
              {"tickets": [_ticket(1, gen=1), _ticket(2), _ticket(1, "2024-02-01T00:00:00Z",
                                                                  "solved", gen=5)],
               "after_cursor": "k1", "end_of_stream": False,
               "metric_sets": [{"ticket_id": 1, "solved_at": "2024-02-01T00:00:00Z"}]},
              {"tickets": [{**_ticket(3, status="deleted")}], "after_cursor": "k2",
               "end_of_stream": True})
    pages = _pages(source, Entity.TICKETS)
    first = router.calls("GET", "/api/v2/incremental/tickets/cursor")
    assert first[0].url.params["support_type_scope"] == "all"
    assert first[0].url.params["per_page"] == "1000"
    assert first[0].url.params["start_time"] == "0"
    assert first[1].url.params["cursor"] == "k1" and "start_time" not in first[1].url.params
    t1 = {t.id: t for t in pages[0].records}
    assert sorted(t1) == ["1", "2"]  # duplicate id 1 kept once, the newest
    assert t1["1"].status == "solved" and t1["1"].solved_at == "2024-02-01T00:00:00Z"
    assert t1["1"].custom_fields == {"555": "gold"} and t1["1"].channel == "email"
    deleted = pages[1].records[0]
    assert deleted.deleted and pages[1].done
    assert json.loads(pages[1].cursor) == {"after": "k2", "done": True, "mode": "incremental",
                                           "start_time": 0}


def test_finished_ticket_cursor_resumes_from_last_position(source, router):
    router.on("GET", "/api/v2/incremental/tickets/cursor",
              {"tickets": [_ticket(9)], "after_cursor": "k3", "end_of_stream": True})
    cursor = json.dumps({"mode": "incremental", "after": "k2", "done": True})
    pages = _pages(source, Entity.TICKETS, cursor)
    assert router.calls("GET", "/api/v2/incremental/tickets/cursor")[0].url.params["cursor"] == "k2"
    assert [t.id for t in pages[0].records] == ["9"]


def test_incremental_repeated_cursor_guard(source, router):
    router.on("GET", "/api/v2/incremental/users/cursor",
              {"users": [{"id": 1, "name": "c", "role": "end-user"}], "after_cursor": "u1",
               "end_of_stream": False})
    pages = _pages(source, Entity.END_USERS)
    assert len(router.calls("GET", "/api/v2/incremental/users/cursor")) == 2
    assert pages[-1].done
    assert isinstance(pages[0].records[0], EndUser)


def test_429_retry_after_is_honoured(source, router, sleeps):
    router.on("GET", "/api/v2/ticket_fields",
              httpx.Response(429, headers={"Retry-After": "1"}, text="Too Many Requests"),
              {"ticket_fields": [{"id": 5, "type": "tagger", "title": "Tier", "removable": True,
                                  "custom_field_options": [{"name": "Gold", "value": "gold"}]},
                                 {"id": 6, "type": "status", "title": "Status",
                                  "removable": False}],
               "meta": {"has_more": False}})
    pages = _pages(source, Entity.TICKET_FIELDS)
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] < 1.1
    (field,) = pages[0].records
    assert field.key == "5" and field.type == "dropdown"
    assert [(o.value, o.label) for o in field.options] == [("gold", "Gold")]
    assert source.stats()["account"]["throttled"] == 1


def test_custom_roles_403_falls_back_to_builtin_and_check_says_so(source, router):
    router.on("GET", "/api/v2/custom_roles", httpx.Response(403, json={"error": "Forbidden"}))
    router.on("GET", "/api/v2/users/me", {"user": {"id": 1, "role": "admin",
                                                   "email": "admin@acme.test"}})
    (page,) = _pages(source, Entity.ROLES)
    assert [r.name for r in page.records] == ["agent", "admin"]
    assert all(isinstance(r, Role) and r.builtin for r in page.records)
    item = {c.name: c for c in source.check()}["zendesk source custom roles"]
    assert item.ok and item.warning and "builtin" in item.detail


def test_agents_get_custom_role_names_and_groups(source, router):
    router.on("GET", "/api/v2/custom_roles", {"custom_roles": [{"id": 77, "name": "Tier 2"}]})
    router.on("GET", "/api/v2/group_memberships",
              {"group_memberships": [{"id": 1, "user_id": 5, "group_id": 30, "default": True}],
               "meta": {"has_more": False}})
    router.on("GET", "/api/v2/users",
              {"users": [{"id": 5, "name": "Ann", "email": "ann@acme.test", "role": "agent",
                          "custom_role_id": 77, "suspended": True},
                         {"id": 6, "name": "Cust", "role": "end-user"}],
               "meta": {"has_more": False}})
    (page,) = _pages(source, Entity.AGENTS)
    (agent,) = page.records
    assert isinstance(agent, Agent)
    assert (agent.custom_role, agent.group_ids, agent.suspended) == ("Tier 2", ["30"], True)


def test_cbp_delta_returns_only_newer_records(source, router):
    router.on("GET", "/api/v2/organizations",
              {"organizations": [{"id": 1, "name": "Old", "updated_at": "2024-01-01T00:00:00Z"},
                                 {"id": 2, "name": "New", "updated_at": "2024-03-01T00:00:00Z"}],
               "meta": {"has_more": False}})
    cursor = json.dumps({"mode": "cbp", "hwm": "2024-02-01T00:00:00Z", "done": True})
    (page,) = _pages(source, Entity.ORGANIZATIONS, cursor)
    assert [o.name for o in page.records] == ["New"]
    assert json.loads(page.cursor)["hwm"] == "2024-03-01T00:00:00Z"


def test_bad_cursor_is_a_config_error(source):
    with pytest.raises(ConfigError, match="cursor of tickets"):
        _pages(source, Entity.TICKETS, "not json")


def _comments(tid, n, more=False, after=None):
    return {"comments": [{"id": tid * 100 + k, "author_id": -1 if k == 1 else 5,
                          "body": f"c{k}", "html_body": f"<p>c{k}</p>", "public": k == 0,
                          "created_at": "2024-01-01T00:00:00Z",
                          "attachments": [{"id": tid * 1000 + k, "file_name": "a.png",
                                           "content_url": "https://cdn.example/a.png",
                                           "inline": True, "size": 3}]}
                         for k in range(n)],
            "meta": {"has_more": more, "after_cursor": after}, "links": {"next": "x"}}


def test_per_ticket_comments_run_concurrently_and_resume(source, router):
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow(request):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        tid = int(request.url.path.split("/")[4])
        assert request.url.params["include_inline_images"] == "true"
        return httpx.Response(200, json=_comments(tid, 2))

    for t in range(1, 9):
        router.on("GET", f"/api/v2/tickets/{t}/comments", slow)
    router.on("GET", "/api/v2/tickets/9/comments", httpx.Response(404, json={}))
    source.comments_strategy = "per_ticket"
    pages = list(source.export(Entity.COMMENTS, ticket_ids=[str(t) for t in range(1, 10)]))
    comments = [c for p in pages for c in p.records]
    assert len(comments) == 16 and pages[-1].done
    assert peak[0] > 1  # several tickets in flight at once
    c = comments[0]
    assert c.author_id == "5" and c.attachments[0].inline and c.html_body == "<p>c0</p>"
    assert comments[1].author_id is None  # -1 = Zendesk itself
    assert json.loads(pages[-1].cursor)["position"] == 9
    # resume after 8 tickets: only the 9th id is asked for
    router.requests.clear()
    cursor = json.dumps({"mode": "per_ticket", "strategy": "per_ticket", "position": 8})
    list(source.export(Entity.COMMENTS, cursor, ticket_ids=[str(t) for t in range(1, 10)]))
    assert [r.url.path for r in router.requests] == ["/api/v2/tickets/9/comments"]


def test_per_ticket_comment_pages_follow_after_cursor(source, router):
    router.on("GET", "/api/v2/tickets/4/comments", _comments(4, 2, True, "a1"),
              _comments(4, 1, False, "a2"))
    source.comments_strategy = "per_ticket"
    pages = list(source.export(Entity.COMMENTS, ticket_ids=["4"]))
    assert sum(len(p.records) for p in pages) == 3
    assert router.calls("GET", "/api/v2/tickets/4/comments")[1].url.params["page[after]"] == "a1"


def test_events_strategy_reads_comment_events(source, router):
    event = {"id": 1, "ticket_id": 4, "created_at": "2024-01-02T00:00:00Z", "updater_id": 5,
             "child_events": [{"id": 11, "event_type": "Comment", "body": "hi", "public": False,
                               "author_id": 5, "attachments": []},
                              {"id": 12, "event_type": "Change", "field_name": "status",
                               "status": "solved", "previous_value": "open"}]}
    other = {**event, "ticket_id": 99}
    router.on("GET", "/api/v2/incremental/ticket_events",
              {"ticket_events": [event, other], "end_time": 1700000000, "end_of_stream": True})
    source.comments_strategy = "events"
    (page,) = list(source.export(Entity.COMMENTS, ticket_ids=["4"]))
    (c,) = page.records
    assert (c.ticket_id, c.body, c.public, c.created_at) == ("4", "hi", False,
                                                             "2024-01-02T00:00:00Z")
    params = router.calls("GET", "/api/v2/incremental/ticket_events")[0].url.params
    assert params["include"] == "comment_events"
    router.on("GET", "/api/v2/incremental/ticket_events",
              {"ticket_events": [event], "end_time": 1700000000, "end_of_stream": True})
    (ev_page,) = list(source.export(Entity.TICKET_EVENTS))
    (ev,) = ev_page.records
    assert (ev.field, ev.previous, ev.value, ev.author_id) == ("status", "open", "solved", "5")


def test_events_strategy_reads_a_few_tickets_one_by_one(source, router):
    # Enterprise: one events page costs as much budget time as 70 per-ticket calls, so a
    # delta of a few tickets is read per ticket even with comments_strategy: events.
    source.client.budgets.get("account").observe(limit=700)
    source.client.budgets.get("incremental").observe(limit=10)
    source.comments_strategy = "events"
    for t in (4, 5):
        router.on("GET", f"/api/v2/tickets/{t}/comments", _comments(t, 2))
    pages = list(source.export(Entity.COMMENTS, ticket_ids=["4", "5"]))
    assert sorted(c.id for p in pages for c in p.records) == ["400", "401", "500", "501"]
    assert not router.calls("GET", "/api/v2/incremental/ticket_events")
    assert json.loads(pages[-1].cursor)["strategy"] == "per_ticket" and pages[-1].done
    router.on("GET", "/api/v2/incremental/ticket_events",
              {"ticket_events": [], "end_time": 1700000000, "end_of_stream": True})
    list(source.export(Entity.COMMENTS, ticket_ids=[str(t) for t in range(100)]))
    assert router.calls("GET", "/api/v2/incremental/ticket_events")  # 100 > 70: the stream


class _Selection:
    """Ticket ids answered ``in`` one at a time and listed lazily (the engine's changed tickets
    of a large pass, read from its state store): counts what was drawn and asked."""

    def __init__(self, ids):
        self.ids, self.asked, self.drawn = list(ids), [], 0

    def __contains__(self, tid):
        self.asked.append(tid)
        return tid in self.ids

    def __iter__(self):
        for tid in self.ids:
            self.drawn += 1
            yield tid


def test_comments_streams_ask_a_selection_in_and_never_copy_it(source, router, monkeypatch):
    import connectors.zendesk.export as export
    events = [{"id": e, "ticket_id": t, "created_at": "2024-01-02T00:00:00Z",
               "child_events": [{"id": e * 10, "event_type": "Comment", "body": "x"}]}
              for e, t in ((1, 1), (2, 3), (3, 99))]
    router.on("GET", "/api/v2/incremental/ticket_events",
              {"ticket_events": events, "end_time": 1700000000, "end_of_stream": True})
    source.comments_strategy = "events"
    wanted = _Selection(["1", "3"])
    (page,) = list(source.export(Entity.COMMENTS, ticket_ids=wanted))
    assert sorted(c.ticket_id for c in page.records) == ["1", "3"]
    assert wanted.drawn == 0 and sorted(wanted.asked) == ["1", "3", "99"]
    # auto: the sample is drawn from it, the stream then asks it (the sampled ones left out)
    monkeypatch.setattr(export, "SAMPLE_TICKETS", 1)
    source._decide = lambda n: "events"
    source.comments_strategy = "auto"
    router.on("GET", "/api/v2/tickets/1/comments", _comments(1, 2))
    wanted = _Selection(["1", "3"] + [str(t) for t in range(1000, 1100)])
    pages = list(source.export(Entity.COMMENTS, ticket_ids=wanted))
    by_ticket = sorted((c.ticket_id, c.id) for p in pages for c in p.records)
    assert by_ticket == [("1", "100"), ("1", "101"), ("3", "20")]
    assert wanted.drawn == 2  # the sample and one more, not the other hundred


@pytest.mark.parametrize("account,incremental,n,expected", [
    (700, 10, 5, "events"),       # A=6 < 1000*10/700 = 14.3
    (700, 10, 20, "per_ticket"),  # A=21 > 14.3
    (200, 10, 40, "events"),      # A=41 < 50
    (2500, 30, 15, "per_ticket"),  # A=16 > 12
    (0, 10, 1, "per_ticket"),     # unlimited account: concurrency wins
])
def test_choose_strategy_follows_limits_rule(account, incremental, n, expected):
    assert choose_strategy(account, incremental, n) == expected


def test_auto_strategy_samples_then_switches_to_events(source, router, monkeypatch):
    import connectors.zendesk.export as export
    monkeypatch.setattr(export, "SAMPLE_TICKETS", 2)
    source._decide = lambda n: choose_strategy(700, 10, n)  # Enterprise, 2 comments/ticket
    for t in (1, 2):
        router.on("GET", f"/api/v2/tickets/{t}/comments", _comments(t, 2))
    events = [{"id": e, "ticket_id": t, "created_at": "2024-01-02T00:00:00Z",
               "child_events": [{"id": e * 10, "event_type": "Comment", "body": "x"}]}
              for e, t in ((1, 1), (2, 3))]
    router.on("GET", "/api/v2/incremental/ticket_events",
              {"ticket_events": events, "end_time": 1700000000, "end_of_stream": True})
    pages = list(source.export(Entity.COMMENTS, ticket_ids=["1", "2", "3"]))
    assert json.loads(pages[-1].cursor)["strategy"] == "events" and pages[-1].done
    by_ticket = {}
    for c in (c for p in pages for c in p.records):
        by_ticket.setdefault(c.ticket_id, []).append(c.id)
    # sampled tickets come from per-ticket calls only; ticket 3 from the stream
    assert by_ticket == {"1": ["100", "101"], "2": ["200", "201"], "3": ["20"]}
    assert not router.calls("GET", "/api/v2/tickets/3/comments")


def test_header_hook_reads_every_spelling_into_the_right_bucket():
    budgets = BudgetSet(plan_limits("team"))
    resp = httpx.Response(200, headers={"ratelimit-limit": "700", "ratelimit-remaining": "650",
                                        "zendesk-ratelimit-incremental-exports":
                                            "total=30; remaining=29; resets=41"})
    zendesk_header_hook(resp, budgets, ("account",))
    assert budgets.get("account").per_minute == 700
    assert budgets.get("incremental").per_minute == 30
    old = httpx.Response(200, headers={"rate-limit": "400", "rate-limit-remaining": "3"})
    zendesk_header_hook(old, budgets, ("account",))
    assert budgets.get("account").per_minute == 400
    # an incremental response: account headers -> account, the endpoint bucket -> incremental
    inc = httpx.Response(200, headers={"x-rate-limit": "700", "zendesk-ratelimit-incremental-"
                                       "exports": "total=10; remaining=0; resets=30"})
    zendesk_header_hook(inc, budgets, ("incremental", "account"))
    assert budgets.get("account").per_minute == 700
    assert budgets.get("incremental").per_minute == 10
    assert budgets.get("incremental")._paused_until > time.monotonic() + 25  # remaining=0


def test_plan_limits_and_unknown_plan():
    assert plan_limits("Enterprise") == {"account": 700, "incremental": 10}
    assert plan_limits("high_volume") == {"account": 2500, "incremental": 30}
    with pytest.raises(ConfigError, match="unknown plan"):
        plan_limits("platinum")


def test_download_keeps_credentials_on_the_account_host(source, router, tmp_path):
    from migrator.models import Attachment
    router.on("GET", "/file.bin", httpx.Response(200, content=b"x" * 1000))
    size = source.download(Attachment(id="1", file_name="file.bin",
                                      url="https://cdn.example/file.bin"), tmp_path / "f.bin")
    assert size == 1000 and (tmp_path / "f.bin").read_bytes() == b"x" * 1000
    foreign = [r for r in router.requests if r.url.host == "cdn.example"]
    assert foreign and "authorization" not in foreign[0].headers
    router.on("GET", "/attachments/token/abc/", httpx.Response(200, content=b"own"))
    source.download(Attachment(id="2", file_name="o", url="https://acme.zendesk.com"
                               "/attachments/token/abc/"), tmp_path / "o")
    own = router.calls("GET", "/attachments/token/abc/")[0]
    assert own.headers["authorization"].startswith("Basic ")


def test_download_redirect_from_the_account_drops_credentials(source, router, tmp_path):
    from migrator.models import Attachment
    router.on("GET", "/attachments/token/r/", httpx.Response(
        302, headers={"Location": "https://files.zdusercontent.example/blob?sig=1"}))
    router.on("GET", "/blob", httpx.Response(200, content=b"payload"))
    size = source.download(Attachment(id="3", file_name="r.txt",
                                      url="https://acme.zendesk.com/attachments/token/r/"),
                           tmp_path / "r.txt")
    assert size == 7 and (tmp_path / "r.txt").read_bytes() == b"payload"
    first, second = router.requests
    assert "authorization" in first.headers
    assert second.url.host == "files.zdusercontent.example"
    assert "authorization" not in second.headers


def test_custom_status_staged_by_label_with_its_category(source, router):
    router.on("GET", "/api/v2/custom_statuses", {"custom_statuses": [
        {"id": 1, "agent_label": "Pending", "status_category": "pending", "default": True},
        {"id": 71, "agent_label": "Waiting on vendor", "status_category": "pending",
         "default": False, "active": True},
        {"id": 72, "agent_label": "Resolved by bot", "status_category": "solved",
         "default": False, "active": True}]})
    router.on("GET", "/api/v2/incremental/tickets/cursor", {"tickets": [
        {**_ticket(1, status="pending"), "custom_status_id": 71},
        {**_ticket(2, status="pending"), "custom_status_id": 1},  # a category default
        {**_ticket(3, status="solved"), "custom_status_id": 72},
        _ticket(4)], "after_cursor": "k1", "end_of_stream": True})
    [page] = _pages(source, Entity.TICKETS)
    got = {t.id: (t.status, t.extra.get("status_category")) for t in page.records}
    assert got == {"1": ("Waiting on vendor", "pending"), "2": ("pending", None),
                   "3": ("Resolved by bot", "solved"), "4": ("open", None)}
    assert len(router.calls("GET", "/api/v2/custom_statuses")) == 1
    assert [status_category(t) for t in page.records] == ["pending", "pending", "solved", "open"]


def test_custom_statuses_off_keeps_the_category(source, router):
    router.on("GET", "/api/v2/custom_statuses",
              httpx.Response(404, json={"error": "RecordNotFound"}))
    router.on("GET", "/api/v2/incremental/tickets/cursor", {"tickets": [
        {**_ticket(1, status="hold"), "custom_status_id": 9}],
        "after_cursor": "k1", "end_of_stream": True})
    [page] = _pages(source, Entity.TICKETS)
    assert page.records[0].status == "hold" and "status_category" not in page.records[0].extra
