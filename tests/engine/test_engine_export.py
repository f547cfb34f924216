"""Export runner: staging, cursors, comments per ticket, attachments, resume and delta."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import threading

import pytest

from connectors.base import Page
from migrator.engine import StopFlag, exporter, run_export
from migrator.errors import InterruptedRun
from migrator.models import Entity
from migrator.state import StateStore
from tests.engine.fakes import FakeSource, company


@pytest.fixture
def fresh(tmp_path, options):
    data, files, _ = company()
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield state, data, files, tmp_path, options
    state.close()


def test_export_stages_everything_with_comments_and_attachments(fresh):
    state, data, files, workdir, options = fresh
    report = run_export(FakeSource(data, files), state, workdir, options=options)
    assert state.count_staged() == {e.value: len(v) for e, v in data.items()}
    assert report.staged["tickets"] == 6 and report.attachments == 2
    c = state.get_staged(Entity.COMMENTS, "c1-0")
    by_id = {a.id: a for a in c.attachments}
    path = workdir / by_id["f1"].local_path
    assert path.read_bytes() == b"hello"
    assert by_id["f1"].sha256 == hashlib.sha256(b"hello").hexdigest() and by_id["f1"].size == 5
    # a hostile file name cannot climb out of the attachments folder
    evil = (workdir / by_id["f2"].local_path).resolve()
    assert evil.is_relative_to((workdir / "attachments").resolve()) and evil.name == "evil.png"


def test_reexport_fetches_only_what_changed(fresh):
    state, data, files, workdir, options = fresh
    run_export(FakeSource(data, files), state, workdir, options=options)
    data[Entity.TICKETS][0] = dataclasses.replace(data[Entity.TICKETS][0],
                                                  updated_at="2024-03-01T00:00:00Z", status="solved")
    source = FakeSource(data, files)
    report = run_export(source, state, workdir, options=options)
    assert report.staged["tickets"] == 1 and report.staged["organizations"] == 0
    comment_calls = [c for c in source.calls if c[0] is Entity.COMMENTS]
    assert comment_calls == [(Entity.COMMENTS, None, ("1",))]
    assert state.get_staged(Entity.TICKETS, "1").status == "solved"
    assert source.downloads == []  # files already on disk with the right size are kept


def test_missing_attachment_is_listed_not_fatal(fresh):
    state, data, files, workdir, options = fresh
    del files["f1"]
    report = run_export(FakeSource(data, files), state, workdir, options=options)
    assert len(report.attachment_failures) == 1 and "f1" in report.attachment_failures[0]
    assert report.attachments_failed == 1 and report.as_dict()["attachments_failed"] == 1
    att = {a.id: a for a in state.get_staged(Entity.COMMENTS, "c1-0").attachments}
    assert att["f1"].local_path is None and att["f2"].local_path


def test_inline_images_can_be_left_out(fresh):
    state, data, files, workdir, options = fresh
    opts = options.model_copy(update={"inline_images": False})
    report = run_export(FakeSource(data, files), state, workdir, options=opts)
    assert report.attachments == 1


def test_interrupted_export_resumes_from_the_saved_cursor(fresh):
    state, data, files, workdir, options = fresh
    stop = StopFlag()
    source = FakeSource(data, files)
    real = source.export

    def stopping(entity, cursor=None, **kw):
        for i, page in enumerate(real(entity, cursor, **kw)):
            if entity is Entity.TICKETS and i == 1:
                stop.set("test stop")
            yield page

    source.export = stopping
    with pytest.raises(InterruptedRun):
        run_export(source, state, workdir, options=options, stop=stop)
    assert state.count_staged(Entity.TICKETS) == 2  # the second page was never staged
    source2 = FakeSource(data, files)
    run_export(source2, state, workdir, options=options)
    assert state.count_staged(Entity.TICKETS) == 6
    ticket_call = next(c for c in source2.calls if c[0] is Entity.TICKETS)
    assert ticket_call[1] is not None  # resumed from the cursor, not from the start
    assert [r["status"] for r in state.list_runs()] == ["interrupted", "done"]


def test_interrupted_comments_pass_resumes_with_the_same_ids(fresh):
    state, data, files, workdir, options = fresh
    stop = StopFlag()
    source = FakeSource(data, files, page_size=6)  # one tickets page: one pass of six tickets
    real = source.export

    def stopping(entity, cursor=None, **kw):
        for i, page in enumerate(real(entity, cursor, **kw)):
            if entity is Entity.COMMENTS and i == 3:
                stop.set("test stop")
            yield page

    source.export = stopping
    with pytest.raises(InterruptedRun):
        run_export(source, state, workdir, options=options, stop=stop)
    # a ticket changes meanwhile: the unfinished pass still resumes with its own list
    data[Entity.TICKETS][0] = dataclasses.replace(data[Entity.TICKETS][0],
                                                  updated_at="2024-03-01T00:00:00Z")
    source2 = FakeSource(data, files)
    run_export(source2, state, workdir, options=options)
    comment_calls = [c for c in source2.calls if c[0] is Entity.COMMENTS]
    assert comment_calls[0][1] == '{"index": 3}' and len(comment_calls[0][2]) == 6
    assert comment_calls[1] == (Entity.COMMENTS, None, ("1",))  # then a pass for the change
    assert state.count_staged(Entity.COMMENTS) == len(data[Entity.COMMENTS])


def test_streams_read_at_once_and_comments_follow_the_ticket_pages(fresh):
    import threading
    import time
    state, data, files, workdir, options = fresh
    source = FakeSource(data, files)  # tickets in pages of two
    real = source.export
    events: list[tuple[str, str]] = []

    def slow(entity, cursor=None, **kw):
        for page in real(entity, cursor, **kw):
            if entity is Entity.TICKETS:
                time.sleep(0.1)  # a rate-limited listing
            yield page
        events.append(("end", entity.value))

    def first_call(entity, cursor=None, **kw):
        events.append(("start", entity.value))
        return slow(entity, cursor, **kw)

    source.export = first_call
    writers = set()
    stage = state.stage

    def staging(*a, **kw):
        writers.add(threading.get_ident())
        return stage(*a, **kw)

    state.stage = staging
    run_export(source, state, workdir, options=options)
    order = [f"{k}:{e}" for k, e in events]
    tickets_end = order.index("end:tickets")
    assert order.index("start:comments") < tickets_end  # comments of staged tickets meanwhile
    assert order.index("end:organizations") < tickets_end  # the lists lane ran alongside
    assert writers == {threading.get_ident()}  # one writer: the caller's thread
    assert state.count_staged(Entity.COMMENTS) == len(data[Entity.COMMENTS])


# -- bounded comments passes ------------------------------------------------------------------
def _spy_meta(state) -> list[str]:
    """The values the exporter saves as its comments pass."""
    seen: list[str] = []
    set_meta = state.set_meta

    def spying(key, value):
        if key == "export:comments:pass":
            seen.append(value)
        return set_meta(key, value)

    state.set_meta = spying
    return seen


def _comment_calls(source) -> list[tuple]:
    return [c for c in source.calls if c[0] is Entity.COMMENTS]


def test_comments_passes_stay_bounded_and_ask_each_ticket_once(tmp_path, state_url, options,
                                                               monkeypatch):
    data, files, _ = company(60)
    state = StateStore(state_url)
    opts = options.model_copy(update={"batch_size": 1})  # passes of 5; 20 tickets wait at most
    source = FakeSource(data, files, page_size=10)
    real, listed = source.export, threading.Event()

    def listing_first(entity, cursor=None, **kw):
        if entity is Entity.COMMENTS:
            listed.wait(10)  # comments slower than the listing: tickets pile up
        yield from real(entity, cursor, **kw)
        if entity is Entity.TICKETS:
            listed.set()

    source.export = listing_first
    saved = _spy_meta(state)
    waiting: list[int] = []
    stage = exporter._Exporter._stage

    def staging(self, *a, **kw):
        stage(self, *a, **kw)
        waiting.append(len(self.fresh))

    monkeypatch.setattr(exporter._Exporter, "_stage", staging)
    run_export(source, state, tmp_path, options=opts)
    passes = [c[2] for c in _comment_calls(source)]
    asked = [tid for ids in passes for tid in ids]
    assert max(map(len, passes)) <= 5 and len(passes) == 12
    assert sorted(asked) == sorted(t.id for t in data[Entity.TICKETS])  # each ticket once
    assert max(waiting) == 20  # the others were left to the scan
    assert saved and max(map(len, saved)) < 200  # a pass's list, not every ticket's
    assert state.count_staged(Entity.COMMENTS) == len(data[Entity.COMMENTS])
    source2 = FakeSource(data, files)
    run_export(source2, state, tmp_path, options=opts)
    assert _comment_calls(source2) == []  # every ticket marked at its version
    state.close()


def test_a_crash_mid_pass_resumes_that_pass_and_never_redoes_closed_ones(tmp_path, state_url,
                                                                         options):
    data, files, _ = company(40)
    state = StateStore(state_url)
    opts = options.model_copy(update={"batch_size": 1})  # passes of 5 tickets
    stop = StopFlag()
    source = FakeSource(data, files, page_size=40)
    real = source.export

    def stopping(entity, cursor=None, **kw):
        for i, page in enumerate(real(entity, cursor, **kw)):
            if entity is Entity.COMMENTS and len(_comment_calls(source)) == 4 and i == 3:
                stop.set("test stop")
            yield page

    source.export = stopping
    with pytest.raises(InterruptedRun):
        run_export(source, state, tmp_path, options=opts, stop=stop)
    first = [c[2] for c in _comment_calls(source)]
    assert len(first) == 4
    source2 = FakeSource(data, files)
    run_export(source2, state, tmp_path, options=opts)
    again = _comment_calls(source2)
    assert again[0][1:] == ('{"index": 3}', first[3])  # the same pass, from its cursor
    closed = {tid for ids in first[:3] for tid in ids}
    later = [tid for c in again[1:] for tid in c[2]]
    assert not closed & set(later) and not set(first[3]) & set(later)
    assert sorted([*closed, *first[3], *later]) == sorted(t.id for t in data[Entity.TICKETS])
    assert max(len(c[2]) for c in again) <= 5
    assert state.count_staged(Entity.COMMENTS) == len(data[Entity.COMMENTS])
    state.close()


class StreamSource(FakeSource):
    """Comments as one stream of every ticket's, kept when ``in`` the ids asked for (as
    Zendesk's events strategy reads them); the cursor is the position in the stream."""

    comments_strategy = "events"

    def export(self, entity, cursor=None, *, since=None, ticket_ids=None):
        if entity is not Entity.COMMENTS:
            return super().export(entity, cursor, since=since, ticket_ids=ticket_ids)
        self.calls.append((entity, cursor, ticket_ids))
        return self._stream(cursor, ticket_ids)

    def _stream(self, cursor, wanted):
        rows = self.data[Entity.COMMENTS]
        start = json.loads(cursor)["at"] if cursor else 0
        for i in range(start, len(rows), 3):
            yield Page([copy.deepcopy(c) for c in rows[i:i + 3] if c.ticket_id in wanted],
                       cursor=json.dumps({"at": i + 3}), done=i + 3 >= len(rows))


def test_a_one_stream_strategy_reads_once_and_never_holds_the_ticket_ids(tmp_path, state_url,
                                                                         options, monkeypatch):
    monkeypatch.setattr(exporter, "LIST_MOST", 4)  # more changed tickets: a stream pass
    data, files, _ = company(30)
    state = StateStore(state_url)
    source = StreamSource(data, files, page_size=10)
    saved = _spy_meta(state)
    run_export(source, state, tmp_path, options=options)
    (call,) = _comment_calls(source)  # one read of the stream for all 30 tickets
    assert not isinstance(call[2], (list, tuple, set, dict))  # asked `in`, read from the store
    assert saved and max(map(len, saved)) < 40
    assert state.count_staged(Entity.COMMENTS) == len(data[Entity.COMMENTS])
    source2 = StreamSource(data, files)
    run_export(source2, state, tmp_path, options=options)
    assert _comment_calls(source2) == []  # every ticket marked
    for i in (0, 1):  # a delta of a few tickets: a list, as before
        data[Entity.TICKETS][i] = dataclasses.replace(data[Entity.TICKETS][i],
                                                      updated_at="2024-03-01T00:00:00Z")
    source3 = StreamSource(data, files)
    run_export(source3, state, tmp_path, options=options)
    assert [c[2] for c in _comment_calls(source3)] == [["1", "2"]]
    state.close()


def test_an_interrupted_stream_pass_resumes_before_the_listing_goes_on(tmp_path, state_url,
                                                                      options, monkeypatch):
    monkeypatch.setattr(exporter, "LIST_MOST", 4)
    data, files, _ = company(30)
    state = StateStore(state_url)
    stop = StopFlag()
    source = StreamSource(data, files, page_size=10)
    real = source._stream

    def stopping(cursor, wanted):
        for i, page in enumerate(real(cursor, wanted)):
            if i == 4:
                stop.set("test stop")
            yield page

    source._stream = stopping
    with pytest.raises(InterruptedRun):
        run_export(source, state, tmp_path, options=options, stop=stop)
    assert state.get_meta("export:comments:pass") == '{"stream": "changed"}'
    cursor = state.get_cursor("export:comments")
    assert 0 < state.count_staged(Entity.COMMENTS) < len(data[Entity.COMMENTS])
    data[Entity.TICKETS][0] = dataclasses.replace(data[Entity.TICKETS][0],
                                                  updated_at="2024-03-01T00:00:00Z")
    source2 = StreamSource(data, files)
    open_when_listed = []
    export = source2.export

    def listing(entity, cursor=None, **kw):
        if entity is Entity.TICKETS:
            open_when_listed.append(state.get_meta("export:comments:pass"))
        return export(entity, cursor, **kw)

    source2.export = listing
    run_export(source2, state, tmp_path, options=options)
    calls = _comment_calls(source2)
    assert calls[0][1] == cursor  # resumed where the stream stopped, not from its start
    assert open_when_listed == [""]  # the tickets were listed once the pass was closed
    assert [c[2] for c in calls[1:]] == [["1"]]  # then the ticket that changed meanwhile
    assert state.count_staged(Entity.COMMENTS) == len(data[Entity.COMMENTS])
    state.close()
