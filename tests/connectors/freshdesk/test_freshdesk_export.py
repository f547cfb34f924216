"""The Freshdesk source over pytest-httpx: paging, windows, budgets, attachments."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connectors.freshdesk.client import choose_budgets, next_link
from connectors.freshdesk.export_tickets import RatingIndex, TicketWalk
from migrator.errors import ConfigError
from migrator.models import Entity, Ticket

BASE = "https://acme.freshdesk.com"


def _q(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}


def _ticket(i: int, updated: str) -> dict:
    return {"id": i, "subject": f"T{i}", "status": 2, "priority": 1, "source": 1,
            "requester_id": 100 + i, "created_at": "2020-01-01T00:00:00Z", "updated_at": updated,
            "description": f"<p>d{i}</p>", "description_text": f"d{i}", "tags": [],
            "custom_fields": {}, "stats": {"resolved_at": None}}


class FakeTicketList:
    """A ticket list with Freshdesk's rules: 30-day default, updated_since asc, page cap -> 400."""

    def __init__(self, tickets: list[dict], cap: int, per_page: int = 2):
        self.tickets, self.cap, self.per_page = tickets, cap, per_page
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = _q(request)
        self.calls.append(q)
        if "updated_since" not in q:  # the 30-day window: old tickets are simply not there
            return httpx.Response(200, json=[])
        page = int(q.get("page", 1))
        if page > self.cap:
            return httpx.Response(400, json={"description": "Validation failed", "errors": [
                {"field": "page", "message": "too deep", "code": "invalid_value"}]})
        rows = sorted((t for t in self.tickets if t["updated_at"] >= q["updated_since"]),
                      key=lambda t: (t["updated_at"], t["id"]))
        chunk = rows[(page - 1) * self.per_page: page * self.per_page]
        headers = {"X-RateLimit-Total": "60000", "X-RateLimit-Remaining": "59999",
                   "X-RateLimit-Used-CurrentRequest": "5"}
        if page * self.per_page < len(rows):
            nxt = f"{BASE}/api/v2/tickets?page={page + 1}"
            headers["Link"] = f'< {nxt}>;rel="next"'  # the docs' stray space
        return httpx.Response(200, json=chunk, headers=headers)


def test_link_header_with_stray_space() -> None:
    r = httpx.Response(200, headers={"Link": '< https://a.freshdesk.com/api/v2/x?page=2>;rel="next"'})
    assert next_link(r) == "https://a.freshdesk.com/api/v2/x?page=2"
    assert next_link(httpx.Response(200)) is None
    both = '<https://h/p?page=1>; rel="prev", <https://h/p?page=3>; rel="next"'
    assert next_link(httpx.Response(200, headers={"Link": both})) == "https://h/p?page=3"


def test_budgets_by_endpoint() -> None:
    assert choose_budgets("GET", "/api/v2/tickets") == ("tickets_list", "account")
    assert choose_budgets("GET", "/api/v2/contacts") == ("contacts_list", "account")
    assert choose_budgets("POST", "/api/v2/tickets") == ("ticket_create", "account")
    assert choose_budgets("PUT", "/api/v2/tickets/7") == ("ticket_update", "account")
    assert choose_budgets("POST", "/api/v2/tickets/7/notes") == ("account",)


def test_all_tickets_across_page_cap_windows_deduped(httpx_mock, source) -> None:
    # 9 tickets, 2 per page, cap 2 pages: the walk must restart windows by updated_at.
    times = ["2019-01-01T00:00:00Z", "2019-01-02T00:00:00Z", "2019-01-03T00:00:00Z",
             "2019-01-03T00:00:00Z", "2019-01-04T00:00:00Z", "2019-01-05T00:00:00Z",
             "2019-01-06T00:00:00Z", "2019-01-07T00:00:00Z", "2019-01-08T00:00:00Z"]
    fake = FakeTicketList([_ticket(i + 1, t) for i, t in enumerate(times)], cap=2)
    httpx_mock.add_callback(fake, is_reusable=True)
    source.cfg = source.cfg.model_copy(update={"page_cap": 2})
    source._status_names, source._ratings = {}, RatingIndex()
    pages = list(source.export(Entity.TICKETS))
    tickets = [r for p in pages for r in p.records if isinstance(r, Ticket)]
    assert sorted(int(t.id) for t in tickets) == list(range(1, 10))
    assert len({t.id for t in tickets}) == len(tickets)  # boundary repeats dropped
    assert all(c["include"] == "stats" for c in fake.calls)
    assert all(c["order_by"] == "updated_at" and c["order_type"] == "asc" for c in fake.calls)
    assert all("updated_since" in c for c in fake.calls)  # never the 30-day default
    assert max(int(c["page"]) for c in fake.calls) <= 2
    assert len({c["updated_since"] for c in fake.calls}) >= 3  # windows restarted
    assert pages[-1].done and json.loads(pages[-1].cursor)["max"] == "2019-01-08T00:00:00Z"
    assert source.client.budgets.get("account").per_minute == 60000  # X-RateLimit-Total adopted


def test_server_cap_lower_than_ours_is_detected_by_the_400(httpx_mock, source) -> None:
    fake = FakeTicketList([_ticket(i, f"2019-02-{i:02d}T00:00:00Z") for i in range(1, 8)], cap=1)
    httpx_mock.add_callback(fake, is_reusable=True)
    source._status_names, source._ratings = {}, RatingIndex()
    tickets = [r for p in source.export(Entity.TICKETS) for r in p.records
               if isinstance(r, Ticket)]
    assert sorted(int(t.id) for t in tickets) == list(range(1, 8))
    assert any(c["page"] == "2" for c in fake.calls)  # it met the 400 once per window


def test_resume_from_cursor_and_delta(httpx_mock, source) -> None:
    fake = FakeTicketList([_ticket(i, f"2019-03-{i:02d}T00:00:00Z") for i in range(1, 6)], cap=50)
    httpx_mock.add_callback(fake, is_reusable=True)
    source._status_names, source._ratings = {}, RatingIndex()
    pages = source.export(Entity.TICKETS)
    first = next(pages)
    pages.close()
    rest = list(source.export(Entity.TICKETS, first.cursor))
    ids = [r.id for p in [first, *rest] for r in p.records if isinstance(r, Ticket)]
    assert sorted(ids, key=int) == ["1", "2", "3", "4", "5"]
    fake.tickets.append(_ticket(6, "2019-04-01T00:00:00Z"))
    delta = [r.id for p in source.export(Entity.TICKETS, rest[-1].cursor) for r in p.records
             if isinstance(r, Ticket)]
    assert "6" in delta and "1" not in delta


def test_spam_and_deleted_on_request(httpx_mock, fd_cfg, tmp_path) -> None:
    from connectors.freshdesk import make_source
    from migrator.config import Options
    src = make_source(fd_cfg, workdir=tmp_path,
                      options=Options(include_spam=True, include_deleted=True))
    src._status_names, src._ratings = {}, RatingIndex()
    seen = []

    def handler(request):
        q = _q(request)
        seen.append(q.get("filter"))
        rows = {"spam": [{**_ticket(7, "2019-01-01T00:00:00Z"), "spam": True}],
                "deleted": [{**_ticket(8, "2019-01-01T00:00:00Z"), "deleted": True}]}
        return httpx.Response(200, json=rows.get(q.get("filter"), []))

    httpx_mock.add_callback(handler, is_reusable=True)
    tickets = {r.id: r for p in src.export(Entity.TICKETS) for r in p.records
               if isinstance(r, Ticket)}
    src.close()
    assert seen == [None, "spam", "deleted"]
    assert tickets["7"].spam and tickets["8"].deleted


def test_429_retry_after_is_honoured(httpx_mock, source, sleeps) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v2/products?per_page=100", status_code=429,
                            headers={"Retry-After": "1"})
    httpx_mock.add_response(url=f"{BASE}/api/v2/products?per_page=100",
                            json=[{"id": 1, "name": "P"}])
    pages = list(source.export(Entity.PRODUCTS))
    assert [p.name for p in pages[0].records] == ["P"]
    assert sleeps and 1 <= sleeps[0] < 1.1
    assert source.stats()["account"]["throttled"] == 1


def test_auth_is_api_key_basic_and_401_is_a_config_error(httpx_mock, source) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v2/roles?per_page=100", status_code=401,
                            json={"code": "invalid_credentials"})
    with pytest.raises(ConfigError) as err:
        list(source.export(Entity.ROLES))
    sent = httpx_mock.get_requests()[0].headers["authorization"]
    assert base64.b64decode(sent.split()[1]).decode() == "fd-test-key-123:X"
    assert "fd-test-key-123" not in str(err.value)


def test_agents_fetch_details_for_roles_and_groups(httpx_mock, source) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v2/agents?per_page=100", json=[
        {"id": 5, "ticket_scope": 1, "contact": {"name": "Ann", "email": "ann@x.test"}}])
    httpx_mock.add_response(url=f"{BASE}/api/v2/roles?per_page=100",
                            json=[{"id": 9, "name": "Supervisor", "default": True}])
    httpx_mock.add_response(url=f"{BASE}/api/v2/agents/5", json={
        "id": 5, "ticket_scope": 2, "role_ids": [9], "group_ids": [3],
        "contact": {"name": "Ann", "email": "ann@x.test"}})
    agent = next(source.export(Entity.AGENTS)).records[0]
    assert (agent.role, agent.group_ids, agent.ticket_scope) == ("Supervisor", ["3"], "group")


def test_contacts_include_blocked_and_deleted(httpx_mock, source) -> None:
    for state, cid in ((None, 1), ("blocked", 2), ("deleted", 3)):
        url = f"{BASE}/api/v2/contacts?per_page=100" + (f"&state={state}" if state else "")
        httpx_mock.add_response(url=url, json=[{"id": cid, "name": f"c{cid}",
                                                "email": f"c{cid}@x.test"}])
    users = {u.id: u for p in source.export(Entity.END_USERS) for u in p.records}
    assert users["2"].blocked and users["3"].deleted and not users["1"].blocked


def _view(tid: int, convs: list[dict], attachments=()) -> dict:
    return {"id": tid, "requester_id": 9, "created_at": "2019-01-01T00:00:00Z", "source": 2,
            "description": "<p>hi</p>", "description_text": "hi",
            "attachments": list(attachments), "conversations": convs}


def _conv(cid: int, **kw) -> dict:
    return {"id": cid, "body_text": f"c{cid}", "private": True, "user_id": 5, "source": 2,
            "attachments": [], "created_at": f"2019-01-01T00:{cid % 60:02d}:00Z", **kw}


def test_description_first_then_conversations_files_without_credentials(
        httpx_mock, source, tmp_path) -> None:
    cdn = "https://s3.amazonaws.com/cdn/file.txt?X-Amz-Expires=300"
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/1?include=conversations", json=_view(
        1, [_conv(11, attachments=[{"id": 71, "name": "c.txt", "size": 1,
                                    "attachment_url": cdn + "&c"}]),
            _conv(12, private=False, incoming=True, user_id=9, source=0)],
        attachments=[{"id": 70, "name": "../file.txt", "size": 5, "attachment_url": cdn}]))
    httpx_mock.add_response(url=cdn, content=b"hello")
    httpx_mock.add_response(url=cdn + "&c", content=b"x")
    pages = list(source.export(Entity.COMMENTS, ticket_ids=["1"]))
    comments = [c for p in pages for c in p.records]
    assert [c.id for c in comments] == ["desc-1", "11", "12"]
    desc = comments[0]
    assert desc.author_id == "9" and desc.public and desc.body == "hi"
    assert comments[1].public is False and comments[2].extra["incoming"] is True
    att = desc.attachments[0]
    assert (tmp_path / att.local_path).read_bytes() == b"hello" and att.size == 5
    assert att.local_path == "attachments/freshdesk/70/file.txt" and att.sha256
    assert comments[1].attachments[0].local_path == "attachments/freshdesk/71/c.txt"
    cdn_requests = [r for r in httpx_mock.get_requests() if r.url.host == "s3.amazonaws.com"]
    assert len(cdn_requests) == 2 and not any("authorization" in r.headers for r in cdn_requests)
    assert pages[-1].done and json.loads(pages[-1].cursor)["last"] == "1"


def test_long_threads_are_read_in_full_over_link_pages(httpx_mock, source) -> None:
    conv = f"{BASE}/api/v2/tickets/3/conversations"
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/3?include=conversations",
                            json=_view(3, [_conv(i) for i in range(1, 11)]))
    httpx_mock.add_response(url=f"{conv}?per_page=100", json=[_conv(i) for i in range(1, 101)],
                            headers={"Link": f'< {conv}?per_page=100&page=2>;rel="next"'})
    httpx_mock.add_response(url=f"{conv}?per_page=100&page=2",
                            json=[_conv(i) for i in range(101, 106)])
    comments = [c for p in source.export(Entity.COMMENTS, ticket_ids=["3"]) for c in p.records]
    assert len(comments) == 106 and len({c.id for c in comments}) == 106


def test_expired_attachment_url_rereads_the_conversation(httpx_mock, source, tmp_path) -> None:
    old, new = "https://cdn.test/a?sig=old", "https://cdn.test/a?sig=new"
    att = {"id": 80, "name": "a.bin", "size": 3}
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/2?include=conversations", json=_view(
        2, [_conv(21, attachments=[{**att, "attachment_url": old}])]))
    httpx_mock.add_response(url=old, status_code=403, text="<Error>Request has expired</Error>")
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/2/conversations?per_page=100",
                            json=[_conv(21, attachments=[{**att, "attachment_url": new}])])
    httpx_mock.add_response(url=new, content=b"abc")
    comment = next(source.export(Entity.COMMENTS, ticket_ids=["2"])).records[1]
    assert (tmp_path / comment.attachments[0].local_path).read_bytes() == b"abc"
    assert comment.attachments[0].url == new


def test_comments_resume_after_cursor(httpx_mock, source) -> None:
    from connectors.freshdesk import export as E
    E.TICKETS_PER_COMMENT_PAGE, saved = 1, E.TICKETS_PER_COMMENT_PAGE
    try:
        for tid in (1, 2, 3):
            httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/{tid}?include=conversations",
                                    json=_view(tid, [_conv(tid * 10)]))
        it = source.export(Entity.COMMENTS, ticket_ids=["1", "2", "3"])
        first = next(it)
        it.close()
        rest = list(source.export(Entity.COMMENTS, first.cursor, ticket_ids=["1", "2", "3"]))
    finally:
        E.TICKETS_PER_COMMENT_PAGE = saved
    assert [c.id for p in rest for c in p.records] == ["desc-2", "20", "desc-3", "30"]


def test_walk_refuses_a_window_it_cannot_leave() -> None:
    walk = TicketWalk(phases=["all"], since="2019-01-01T00:00:00Z", page=3)
    with pytest.raises(Exception, match="share updated_at"):
        walk.restart_window([{"id": 1, "updated_at": "2019-01-01T00:00:00Z"}])


def test_plan_features_missing_are_skipped_not_fatal(httpx_mock, source) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v2/time_entries?per_page=100", status_code=403,
                            json={"code": "require_feature"})
    httpx_mock.add_response(
        url=f"{BASE}/api/v2/surveys/satisfaction_ratings?per_page=100&created_since=1970-01-01T00:00:00Z",
        json=[{"id": 1, "ticket_id": 4, "ratings": {"default_question": -103}}])
    assert next(source.export(Entity.TIME_ENTRIES)).records == []
    [rating] = next(source.export(Entity.SATISFACTION_RATINGS)).records
    assert rating.score == "bad"


def test_source_check_reports_identity_and_limit(httpx_mock, fd_cfg, tmp_path) -> None:
    from connectors.freshdesk import make_source
    from migrator.config import Options
    src = make_source(fd_cfg.model_copy(update={"plan": "growth"}), workdir=tmp_path,
                      options=Options())
    httpx_mock.add_response(url=f"{BASE}/api/v2/agents/me",
                            json={"id": 1, "contact": {"email": "admin@acme.test"}})
    httpx_mock.add_response(url=f"{BASE}/api/v2/roles?per_page=100",
                            json=[{"id": 1, "name": "Agent", "default": True}])
    checks = {c.name: c for c in src.check()}
    src.close()
    assert "admin@acme.test" in checks["Freshdesk source credentials"].detail
    assert checks["Freshdesk source rate limit"].detail == "200/min"
    assert src.client.budgets.get("tickets_list").per_minute == 20


@pytest.mark.parametrize("cfg,message", [
    ({"domain": "https://acme.freshdesk.com/"}, None),
    ({"domain": "bad domain"}, "not a Freshdesk account name"),
    ({"base_url": "http://example.com"}, "plain http"),
    ({"plan": "platinum"}, "unknown Freshdesk plan"),
])
def test_config_errors_say_what_to_fix(fd_cfg, tmp_path, cfg, message) -> None:
    from connectors.freshdesk import make_source
    from migrator.config import Options
    changed = fd_cfg.model_copy(update=cfg)
    if message is None:
        src = make_source(changed, workdir=tmp_path, options=Options())
        assert src.client.base_url == BASE
        src.close()
        return
    with pytest.raises(ConfigError, match=message):
        make_source(changed, workdir=tmp_path, options=Options())


def test_a_file_that_stays_unavailable_does_not_stop_the_export(httpx_mock, source) -> None:
    url = "https://cdn.test/gone?sig=1"
    att = {"id": 90, "name": "gone.bin", "size": 3, "attachment_url": url}
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/4?include=conversations",
                            json=_view(4, [_conv(41, attachments=[att])]))
    httpx_mock.add_response(url=url, status_code=404, text="<Error>NoSuchKey</Error>")
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/4/conversations?per_page=100",
                            json=[_conv(41, attachments=[])])
    comments = next(source.export(Entity.COMMENTS, ticket_ids=["4"])).records
    assert [c.id for c in comments] == ["desc-4", "41"]
    assert comments[1].attachments[0].local_path is None  # left for the engine to report
