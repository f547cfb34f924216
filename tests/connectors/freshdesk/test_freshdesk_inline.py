"""Freshdesk inline images: found in bodies, downloaded once without credentials, re-attached."""

from __future__ import annotations

import base64
import html
import json

import pytest

from connectors.base import LoadItem
from connectors.freshdesk import render as R
from connectors.freshdesk.inline import inline_attachments, rewrite_inline
from migrator.models import Attachment, Comment, Entity
from tests.connectors.freshdesk.test_freshdesk_load import FakeAccount, _ticket

BASE = "https://acme.freshdesk.com"
CDN = "https://attachment.freshdesk.com/inline/attachment"
PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 10
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg" * 10


def _jwt(att_id: int) -> str:
    """A token shaped like Freshdesk's: header.payload.signature, the id in the payload."""
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'typ': 'JWT', 'alg': 'HS256'})}.{part({'id': att_id, 'domain': 'x'})}.sig"


def _img(att_id: int, **attrs) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<img src="{CDN}?token={_jwt(att_id)}" class="fr-fil fr-dib"{extra}>'


# -- pure ------------------------------------------------------------------------------------
def test_inline_links_become_attachments_by_data_id_or_token() -> None:
    body = (f'<div>see {_img(801, data_id=801)}</div><p>{_img(802)}</p>'
            f'<img src="https://example.com/logo.png"><p>{_img(801, data_id=801)}</p>')
    found = inline_attachments(body)
    assert [a.id for a in found] == ["inline-801", "inline-802"]  # repeated link: one file
    assert all(a.inline and a.url and a.url.startswith(CDN) for a in found)
    assert inline_attachments("<p>no images</p>") == [] and inline_attachments(None) == []


def test_alt_file_name_is_kept_and_amp_entities_decoded() -> None:
    body = f'<img alt="screen shot.png" src="{CDN}?token=17.abc&amp;x=1">'
    [att] = inline_attachments(body)
    assert (att.id, att.file_name, att.url) == ("inline-17", "screen shot.png",
                                                f"{CDN}?token=17.abc&x=1")


def test_rewrite_replaces_only_the_migrated_images() -> None:
    body = f'<p>a {_img(801, data_id=801)} b <img src="https://example.com/x.png"> {_img(9)}</p>'
    att = Attachment(id="inline-801", file_name="inline-801.png", inline=True, url="old-url")
    out = rewrite_inline(body, [att])
    assert "[inline image: inline-801.png]" in out
    assert "https://example.com/x.png" in out  # not an inline image: untouched
    assert out.count("/inline/attachment") == 1  # image 9 was not exported: left as it was
    regular = Attachment(id="801", file_name="r.txt")
    assert rewrite_inline(body, [regular]) == body


# -- export ----------------------------------------------------------------------------------
def _view(tid: int, description: str, convs: list[dict]) -> dict:
    return {"id": tid, "requester_id": 9, "created_at": "2019-01-01T00:00:00Z", "source": 2,
            "description": description, "description_text": "d", "attachments": [],
            "conversations": convs}


def _conv(cid: int, body: str) -> dict:
    return {"id": cid, "body": body, "body_text": "c", "private": False, "user_id": 5,
            "source": 0, "attachments": [], "created_at": f"2019-01-01T00:{cid % 60:02d}:00Z"}


def test_export_downloads_each_inline_image_once_without_credentials(
        httpx_mock, source, tmp_path) -> None:
    logo, shot = f"{CDN}?token={_jwt(801)}", f"{CDN}?token={_jwt(802)}"
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/1?include=conversations", json=_view(
        1, f"<p>hi</p>{_img(801, data_id=801)}",
        [_conv(11, f"<p>thanks</p>{_img(801, data_id=801)}"),
         _conv(12, f'<p>shot</p>{_img(802, alt="shot.jpg")}')]))
    httpx_mock.add_response(url=logo, content=PNG)
    httpx_mock.add_response(url=shot, content=JPEG)
    comments = [c for p in source.export(Entity.COMMENTS, ticket_ids=["1"]) for c in p.records]
    desc, first, second = comments
    [a], [b], [c] = desc.attachments, first.attachments, second.attachments
    assert a.inline and (a.file_name, a.content_type) == ("inline-801.png", "image/png")
    assert (tmp_path / a.local_path).read_bytes() == PNG and a.size == len(PNG) and a.sha256
    assert (b.local_path, b.sha256) == (a.local_path, a.sha256)  # the logo: one file
    assert (c.file_name, c.content_type) == ("shot.jpg", "image/jpeg")
    assert (tmp_path / c.local_path).read_bytes() == JPEG
    cdn = [r for r in httpx_mock.get_requests() if r.url.host == "attachment.freshdesk.com"]
    assert len(cdn) == 2 and not any("authorization" in r.headers for r in cdn)


def test_expired_inline_token_rereads_the_conversation(httpx_mock, source, tmp_path) -> None:
    old = f'<img data-id="803" src="{CDN}?token=old">'
    new = f'<img data-id="803" src="{CDN}?token=new">'
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/2?include=conversations",
                            json=_view(2, "<p>d</p>", [_conv(21, old)]))
    httpx_mock.add_response(url=f"{CDN}?token=old", status_code=403, text="<Error/>")
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/2/conversations?per_page=100",
                            json=[_conv(21, new)])
    httpx_mock.add_response(url=f"{CDN}?token=new", content=PNG)
    comment = next(source.export(Entity.COMMENTS, ticket_ids=["2"])).records[1]
    [att] = comment.attachments
    assert (tmp_path / att.local_path).read_bytes() == PNG and att.url.endswith("token=new")


def test_inline_images_off_leaves_bodies_alone(httpx_mock, source) -> None:
    source.fetcher.inline_images = False
    httpx_mock.add_response(url=f"{BASE}/api/v2/tickets/4?include=conversations",
                            json=_view(4, f"<p>x</p>{_img(804)}", []))
    [desc] = next(source.export(Entity.COMMENTS, ticket_ids=["4"])).records
    assert desc.attachments == [] and "/inline/attachment" in desc.html_body


# -- load ------------------------------------------------------------------------------------
@pytest.fixture
def account(httpx_mock) -> FakeAccount:
    fake = FakeAccount()
    httpx_mock.add_callback(fake, is_reusable=True, is_optional=True)
    return fake


def test_load_attaches_inline_images_and_marks_them_in_the_body(account, target_factory,
                                                                tmp_path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "logo.png").write_bytes(PNG)
    (tmp_path / "img" / "shot.jpg").write_bytes(JPEG)
    logo = Attachment(id="inline-801", file_name="logo.png", content_type="image/png",
                      size=len(PNG), inline=True, local_path="img/logo.png",
                      url=f"{CDN}?token={_jwt(801)}")
    shot = Attachment(id="inline-802", file_name="shot.jpg", content_type="image/jpeg",
                      size=len(JPEG), inline=True, local_path="img/shot.jpg",
                      url=f"{CDN}?token=refreshed")  # renewed at export: matched by its id
    t = _ticket()
    t.comments[0] = Comment(id="desc-77", ticket_id="77", author_id="1", body="help",
                            html_body=f"<p>help</p>{_img(801, data_id=801)}",
                            created_at="2019-05-01T10:00:00Z", attachments=[logo])
    t.comments[1].html_body = f"<p>looking</p>{_img(802)}"
    t.comments[1].attachments = [shot]
    target = target_factory()
    [outcome] = target.submit(Entity.TICKETS, [LoadItem("77", t, attachments_dir=tmp_path)]
                              ).outcomes
    ticket = account.tickets[int(outcome.target_id)]
    assert ticket["files"] == [("logo.png", len(PNG))]
    description = html.unescape(ticket["description"])
    assert "[inline image: logo.png]" in description and "/inline/attachment" not in description
    note = next(n for n in account.notes[int(outcome.target_id)] if n["files"])
    assert note["files"] == [("shot.jpg", len(JPEG))]
    assert "[inline image: shot.jpg]" in note["body_text"] and "<img" not in note["body"]


def test_render_note_keeps_plain_bodies_and_other_images() -> None:
    c = Comment(id="5", ticket_id="1", author_id=None, body="a\nb",
                html_body='<p><img src="https://example.com/x.png"></p>')
    assert 'src="https://example.com/x.png"' in R.render_note(c)["body"]
    c.html_body = None
    assert "a<br>b" in R.render_note(c)["body"]
