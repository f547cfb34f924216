"""Memory does not grow with the account: lists are yielded one API page per Page with a cursor
that resumes at the next page, ratings live in an on-disk index, and the conversation fetcher
keeps no per-attachment state once a download finished."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connectors.freshdesk import conversations as C
from connectors.freshdesk import make_source
from connectors.freshdesk.export_tickets import RatingIndex
from migrator.config import Options
from migrator.models import Entity, SatisfactionRating

BASE = "https://acme.freshdesk.com"
CDN = "https://attachment.freshdesk.com/inline/attachment"


def _q(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}


class FakeList:
    """A Freshdesk list endpoint: ``per_page`` rows by id, a ``Link rel=next`` while more remain
    (``per`` is small so that a few rows make several pages), ``updated_since`` honoured."""

    def __init__(self, rows_by_key: dict[str | None, list[dict]], key: str = "state",
                 per: int = 2):
        self.rows, self.key, self.per = rows_by_key, key, per
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = _q(request)
        self.calls.append(q)
        rows = sorted(self.rows.get(q.get(self.key), []), key=lambda r: r["id"])
        if q.get("updated_since"):
            rows = [r for r in rows if r["updated_at"] >= q["updated_since"]]
        page = int(q.get("page", 1))
        chunk = rows[(page - 1) * self.per: page * self.per]
        headers = {}
        if page * self.per < len(rows):
            headers["Link"] = f'< {BASE}{request.url.path}?page={page + 1}>;rel="next"'
        return httpx.Response(200, json=chunk, headers=headers)


def _contact(i: int, updated: str = "2020-01-01T00:00:00Z") -> dict:
    return {"id": i, "name": f"c{i}", "email": f"c{i}@x.test", "updated_at": updated}


def _contacts_fake() -> FakeList:
    return FakeList({None: [_contact(i) for i in range(1, 6)],       # 3 pages
                     "blocked": [_contact(i) for i in range(11, 13)],  # 1 page
                     "deleted": [_contact(i) for i in range(21, 24)]})  # 2 pages


def _fresh(fd_cfg, tmp_path):
    return make_source(fd_cfg, workdir=tmp_path, options=Options(max_in_flight=2))


def _ids(pages) -> list[str]:
    return [r.id for p in pages for r in p.records]


def test_contacts_one_page_per_api_page_and_every_cursor_resumes_exactly_the_rest(
        httpx_mock, source, fd_cfg, tmp_path) -> None:
    fake = _contacts_fake()
    httpx_mock.add_callback(fake, url=re.compile(rf"{BASE}/api/v2/contacts.*"), is_reusable=True)
    pages = list(source.export(Entity.END_USERS))
    assert [len(p.records) for p in pages] == [2, 2, 1, 2, 2, 1]  # never a whole state at once
    full = _ids(pages)
    assert sorted(full, key=int) == [str(i) for i in (1, 2, 3, 4, 5, 11, 12, 21, 22, 23)]
    assert [p.done for p in pages] == [False] * 5 + [True]
    assert json.loads(pages[1].cursor) == {"state_index": 0, "page": 3, "since": None,
                                           "max": "2020-01-01T00:00:00Z", "done": False}
    # Killed after any page k: a new process resuming from its cursor gets exactly the rest.
    for k in range(1, len(pages)):
        resumed = _fresh(fd_cfg, tmp_path)
        try:
            rest = _ids(resumed.export(Entity.END_USERS, pages[k - 1].cursor))
        finally:
            resumed.close()
        assert rest == full[sum(len(p.records) for p in pages[:k]):], k


def test_contacts_killed_after_the_second_page(httpx_mock, source, fd_cfg, tmp_path) -> None:
    fake = _contacts_fake()
    httpx_mock.add_callback(fake, url=re.compile(rf"{BASE}/api/v2/contacts.*"), is_reusable=True)
    it = source.export(Entity.END_USERS)
    first, second = next(it), next(it)
    it.close()  # the crash: nothing after page 2 was staged
    calls_before = len(fake.calls)
    again = _fresh(fd_cfg, tmp_path)
    try:
        rest = list(again.export(Entity.END_USERS, second.cursor))
    finally:
        again.close()
    assert _ids([first, second]) == ["1", "2", "3", "4"]
    assert _ids(rest) == ["5", "11", "12", "21", "22", "23"]  # no loss, no repeat
    resumed_calls = fake.calls[calls_before:]
    assert (resumed_calls[0].get("state"), resumed_calls[0].get("page")) == (None, "3")


def test_old_contacts_cursor_resumes_at_the_start_of_its_state(httpx_mock, source) -> None:
    fake = _contacts_fake()
    httpx_mock.add_callback(fake, url=re.compile(rf"{BASE}/api/v2/contacts.*"), is_reusable=True)
    old = json.dumps({"state_index": 1, "max": "2020-01-01T00:00:00Z", "done": False})
    assert _ids(source.export(Entity.END_USERS, old)) == ["11", "12", "21", "22", "23"]


def test_a_resumed_delta_keeps_its_updated_since(httpx_mock, source, fd_cfg, tmp_path) -> None:
    fake = FakeList({None: [_contact(i, f"2020-0{1 + i % 2}-01T00:00:00Z") for i in range(1, 9)],
                     "blocked": [], "deleted": []})
    httpx_mock.add_callback(fake, url=re.compile(rf"{BASE}/api/v2/contacts.*"), is_reusable=True)
    finished = list(source.export(Entity.END_USERS))[-1].cursor
    calls_before = len(fake.calls)
    assert json.loads(finished)["max"] == "2020-02-01T00:00:00Z"
    it = source.export(Entity.END_USERS, finished)  # the delta: only the February ones
    first = next(it)
    it.close()
    assert json.loads(first.cursor)["since"] == "2020-02-01T00:00:00Z"
    again = _fresh(fd_cfg, tmp_path)
    try:
        rest = _ids(again.export(Entity.END_USERS, first.cursor))
    finally:
        again.close()
    assert _ids([first]) + rest == ["1", "3", "5", "7"]
    delta_calls = fake.calls[calls_before:]
    assert len(delta_calls) == 4
    assert all(c.get("updated_since") == "2020-02-01T00:00:00Z" for c in delta_calls)


@pytest.mark.parametrize("entity,path,row", [
    (Entity.ORGANIZATIONS, "companies", lambda i: {"id": i, "name": f"co{i}"}),
    (Entity.TIME_ENTRIES, "time_entries",
     lambda i: {"id": i, "ticket_id": 1, "agent_id": 2, "time_spent": "01:00"}),
    (Entity.SATISFACTION_RATINGS, "surveys/satisfaction_ratings",
     lambda i: {"id": i, "ticket_id": i, "ratings": {"default_question": 103}}),
])
def test_company_time_entry_and_rating_lists_page_and_resume(
        httpx_mock, source, fd_cfg, tmp_path, entity, path, row) -> None:
    fake = FakeList({None: [row(i) for i in range(1, 8)]}, key="none")
    httpx_mock.add_callback(fake, url=re.compile(rf"{BASE}/api/v2/{path}.*"), is_reusable=True)
    pages = list(source.export(entity))
    assert [len(p.records) for p in pages] == [2, 2, 2, 1] and pages[-1].done
    assert [json.loads(p.cursor) for p in pages[:2]] == [{"page": 2, "done": False},
                                                         {"page": 3, "done": False}]
    again = _fresh(fd_cfg, tmp_path)
    try:
        rest = _ids(again.export(entity, pages[1].cursor))
        assert rest == ["5", "6", "7"]
        # finished (also the old {"done": true}): the list is read again from its first page
        assert _ids(again.export(entity, json.dumps({"done": True}))) == [
            str(i) for i in range(1, 8)]
    finally:
        again.close()


def test_a_plan_without_time_entries_gives_one_empty_last_page(httpx_mock, source) -> None:
    httpx_mock.add_response(url=f"{BASE}/api/v2/time_entries?per_page=100", status_code=404,
                            json={"code": "not_found"})
    [page] = list(source.export(Entity.TIME_ENTRIES))
    assert page.records == [] and page.done


# -- satisfaction ratings on tickets -------------------------------------------------------------
def _rating(rid: int, tid: int, created: str | None, score: str = "good") -> SatisfactionRating:
    return SatisfactionRating(id=str(rid), ticket_id=str(tid), score=score, comment=f"r{rid}",
                              created_at=created)


def test_rating_index_keeps_each_tickets_latest_rating() -> None:
    index = RatingIndex()
    try:
        index.add([_rating(1, 5, "2019-03-01T00:00:00Z", "good"),
                   _rating(2, 5, "2019-02-01T00:00:00Z", "bad"),   # older: ignored
                   _rating(3, 6, None, "bad"), _rating(4, 6, None, "neutral"),  # tie: last
                   _rating(5, 7, "2019-01-01T00:00:00Z")])
        index.add([_rating(6, 7, "2019-01-02T00:00:00Z", "bad")])  # a later page wins
        found = index.lookup(["5", "6", "7", "8"])
        assert {t: v["id"] for t, v in found.items()} == {"5": "1", "6": "4", "7": "6"}
        assert found["5"] == {"id": "1", "score": "good", "comment": "r1",
                              "created_at": "2019-03-01T00:00:00Z"}
        index.add(_rating(100 + i, 1000 + i, "2020-01-01T00:00:00Z") for i in range(1200))
        many = index.lookup(str(1000 + i) for i in range(0, 1200, 1))  # > one IN (...) chunk
        assert len(many) == 1200 and len(index) == 1203
    finally:
        index.close()


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1))


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"), reason="Linux RSS")
def test_rating_index_memory_does_not_grow_with_the_ratings() -> None:
    index = RatingIndex()
    try:
        comment = "x" * 200
        index.add([_rating(0, 0, "2020-01-01T00:00:00Z")])
        before = _rss_kib()
        for block in range(30):  # 300,000 ratings, ~70 MB of rows if they were kept in memory
            index.add(SatisfactionRating(id=str(i), ticket_id=str(i), score="good",
                                         comment=comment, created_at="2020-01-01T00:00:00Z")
                      for i in range(block * 10_000, (block + 1) * 10_000))
        grown = _rss_kib() - before
        assert len(index) == 300_000 and index.lookup(["299999"])["299999"]["comment"] == comment
        assert grown < 25 * 1024, f"RSS grew by {grown} KiB"
    finally:
        index.close()


def test_tickets_get_ratings_read_page_by_page_and_nothing_is_listed_in_memory(
        httpx_mock, source) -> None:
    source._status_names = {}
    ratings = FakeList({None: [{"id": i, "ticket_id": i % 4 + 1,
                                "ratings": {"default_question": 103 if i % 2 else -103},
                                "created_at": f"2019-01-{i:02d}T00:00:00Z"} for i in range(1, 10)]},
                       key="none")
    httpx_mock.add_callback(ratings, url=re.compile(rf"{BASE}/api/v2/surveys/.*"),
                            is_reusable=True)
    rows = [{"id": i, "subject": "s", "status": 4, "requester_id": 1, "created_at":
             "2019-01-01T00:00:00Z", "updated_at": f"2019-01-0{i}T00:00:00Z"} for i in range(1, 7)]
    httpx_mock.add_response(url=re.compile(rf"{BASE}/api/v2/tickets\?.*"), json=rows)
    tickets = {t.id: t for p in source.export(Entity.TICKETS) for t in p.records}
    latest = {t: tickets[t].extra["satisfaction_rating"]["id"] for t in ("1", "2", "3", "4")}
    assert latest == {"1": "8", "2": "9", "3": "6", "4": "7"}  # the latest of each, over pages
    assert tickets["3"].extra["satisfaction_rating"]["score"] == "bad"
    assert "satisfaction_rating" not in tickets["5"].extra
    assert len(ratings.calls) == 5 and isinstance(source._ratings, RatingIndex)
    assert not any(isinstance(v, list) and v for v in vars(source).values())


# -- conversation fetcher --------------------------------------------------------------------
def _view(tid: int, convs: list[dict], attachments=(), description="<p>hi</p>") -> dict:
    return {"id": tid, "requester_id": 9, "created_at": "2019-01-01T00:00:00Z", "source": 2,
            "description": description, "description_text": "hi",
            "attachments": list(attachments), "conversations": convs}


def _conv(cid: int, body: str = "<p>c</p>", **kw) -> dict:
    return {"id": cid, "body": body, "body_text": "c", "private": True, "user_id": 5,
            "source": 2, "attachments": [], "created_at": "2019-01-01T00:00:00Z", **kw}


def test_refreshers_are_dropped_once_downloads_finish(httpx_mock, source, monkeypatch) -> None:
    monkeypatch.setattr(C, "FAILED_REMEMBERED", 2)
    for tid in range(1, 6):
        atts = [{"id": tid * 10 + k, "name": f"f{k}.txt", "size": 1,
                 "attachment_url": f"https://cdn.test/{tid}/{k}"} for k in range(3)]
        httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/{tid}?include=conversations",
                                json=_view(tid, [_conv(tid * 100, attachments=atts)]))
    httpx_mock.add_response(url=re.compile(r"https://cdn\.test/[1-4]/.*"), content=b"x",
                            is_reusable=True)
    # ticket 5's files stay gone: 404, re-read once for fresh URLs, 404 again
    httpx_mock.add_response(url=re.compile(r"https://cdn\.test/5/.*"), status_code=404,
                            is_reusable=True)
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/5/conversations?per_page=100",
                            json=[_conv(500, attachments=[])], is_reusable=True)
    comments = [c for p in source.export(Entity.COMMENTS, ticket_ids=["1", "2", "3", "4"])
                for c in p.records]
    assert sum(1 for c in comments for a in c.attachments if a.local_path) == 12
    assert len(source.fetcher.refreshers) == 0  # nothing kept per attachment
    failed = [a for p in source.export(Entity.COMMENTS, ticket_ids=["5"]) for c in p.records
              for a in c.attachments]
    assert len(failed) == 3 and not any(a.local_path for a in failed)
    assert list(source.fetcher.refreshers) == ["51", "52"]  # only the last failures, bounded
    with pytest.raises(Exception):
        source.download(failed[2], source.workdir / "retry.bin")  # the engine's retry ...
    assert list(source.fetcher.refreshers) == ["51"]  # ... uses its refresher once, dropped


def _inline(att_id: int) -> str:
    return f'<img src="{CDN}?token={att_id}.sig" data-id="{att_id}">'


def test_inline_images_use_striped_locks_and_a_bounded_memory(
        httpx_mock, source, monkeypatch) -> None:
    monkeypatch.setattr(C, "INLINE_REMEMBERED", 3)
    monkeypatch.setattr(source.client, "max_in_flight", 1)  # tickets in order: LRU order known
    png = b"\x89PNG\r\n\x1a\n" + b"p" * 20
    for tid in range(1, 5):  # every ticket links the shared logo (900) and two images of its own
        body = _inline(900) + _inline(tid * 10) + _inline(tid * 10 + 1)
        httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/{tid}?include=conversations",
                                json=_view(tid, [_conv(tid * 100, body)], description=body))
    httpx_mock.add_response(url=re.compile(rf"{re.escape(CDN)}.*"), content=png,
                            is_reusable=True)
    comments = [c for p in source.export(Entity.COMMENTS, ticket_ids=["1", "2", "3", "4"])
                for c in p.records]
    assert all(a.local_path and a.file_name.endswith(".png")
               for c in comments for a in c.attachments)
    fetcher = source.fetcher
    assert len(fetcher._stripes) == C.LOCK_STRIPES and not hasattr(fetcher, "_locks")
    assert len(fetcher._inline_done) <= 3
    logo = [r for r in httpx_mock.get_requests() if "token=900." in str(r.url)]
    assert len(logo) == 1  # the shared logo stays remembered (recently used): downloaded once
