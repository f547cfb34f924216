"""Inline images with the events comment strategy (E2): the stream does not list them, so the
tickets whose comments show one are read per ticket; E1 and E2 then stage the same files."""

from __future__ import annotations

import pytest

from connectors.zendesk import comments as zc
from migrator.engine import commands
from migrator.models import Comment, Entity
from migrator.project import Project
from tests.connectors.zendesk.projects import ENV, write_project

IMG = '<p>see</p><img src="https://acme.zendesk.com/attachments/token/AbC123/?name=s.png">'


def test_only_tickets_showing_an_inline_image_are_read_again(source, router):
    router.on("GET", "/api/v2/tickets/7/comments", {"comments": [
        {"id": 70, "body": "see", "html_body": IMG, "attachments": [
            {"id": 5, "file_name": "s.png", "size": 9, "inline": True,
             "content_url": "https://acme.zendesk.com/attachments/token/AbC123/?name=s.png"},
            {"id": 6, "file_name": "a.pdf", "size": 4}]}], "meta": {"has_more": False}})
    shown = Comment(id="70", ticket_id="7", author_id="1", body="see", html_body=IMG,
                    attachments=[])
    plain = Comment(id="80", ticket_id="8", author_id="1", body="hi",
                    html_body='<img src="https://cdn.example/logo.png">')
    out = zc.add_inline_images(source.client, [shown, plain])
    assert [(a.id, a.inline) for a in out[0].attachments] == [("5", True), ("6", False)]
    assert out[1] is plain
    calls = [r for r in router.requests if r.url.path.startswith("/api/v2/tickets/")]
    assert [r.url.path for r in calls] == ["/api/v2/tickets/7/comments"]
    assert calls[0].url.params["include_inline_images"] == "true"


def _staged_attachments(project) -> set[tuple]:
    return {(a.id, a.inline, a.size, a.sha256) for c in project.state.iter_staged(Entity.COMMENTS)
            for a in c.attachments}


@pytest.mark.e2e
def test_e1_and_e2_stage_the_same_attachments(tmp_path, monkeypatch):
    run = pytest.importorskip("connectors.sandbox.run")
    monkeypatch.setenv(ENV["zendesk"], "sandbox-token")
    monkeypatch.setenv(ENV["freshdesk"], "sandbox-key")
    staged = {}
    with run.start_sandbox("zendesk", tickets=60) as src:
        company = src.company
        for strategy in ("per_ticket", "events"):
            folder = tmp_path / strategy
            folder.mkdir()
            path = write_project(folder, ("zendesk", src.url), ("freshdesk", "http://127.0.0.1:9"),
                                 source_extra={"comments_strategy": strategy})
            with Project.load(path) as project:
                commands.export_project(project)
                staged[strategy] = _staged_attachments(project)
    want = {(a.id, a.inline) for c in company.comments for a in c.attachments}
    assert any(inline for _, inline in want), "the seed has inline images"
    assert {(i, inline) for i, inline, _, _ in staged["events"]} == want
    assert staged["events"] == staged["per_ticket"]
    assert all(size and sha for _, _, size, sha in staged["events"])
