"""Export runner: staging, cursors, comments per ticket, attachments, resume and delta."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from migrator.engine import StopFlag, run_export
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
