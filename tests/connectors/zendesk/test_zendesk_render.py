"""Pure rendering rules of the Zendesk loader."""

from __future__ import annotations

from connectors.zendesk import render
from migrator.models import Comment, Ticket, TicketField, FieldOption


def test_tagify_makes_option_tags_and_is_idempotent():
    assert render.tagify("Mobile App") == "mobile_app"
    assert render.tagify("Server error (5xx)") == "server_error_5xx"
    assert render.tagify("mobile_app") == "mobile_app"


def test_ticket_with_custom_status_dropdown_and_unknown_field():
    t = Ticket(id="9", subject="s", status="Waiting on Third Party", requester_id="4",
               type="Feature Request",
               custom_fields={"Product": "Mobile App", "Tags": ["A b", "c"], "Gone": 1},
               comments=[Comment(id="1", ticket_id="9", author_id="4", body="   ")])
    body, notes = render.render_ticket(t, "9", placeholder_id=None,
                                       field_ids={"product": 5, "tags": 6}, uploads={},
                                       tag_fields=frozenset({5, 6}))
    assert body["status"] == "open"
    assert body["custom_fields"] == [{"id": 5, "value": "mobile_app"},
                                     {"id": 6, "value": ["a_b", "c"]}]
    assert body["comments"][0]["body"] == render.EMPTY_BODY
    assert any("Waiting on Third Party" in n for n in notes)
    assert any("Gone" in n for n in notes)
    assert "type" not in body and any("Feature Request" in n for n in notes)
    assert render.render_ticket(Ticket(id="1", subject="s", type="Incident"), "1",
                                placeholder_id=None, field_ids={}, uploads={})[0]["type"] == \
        "incident"
    assert "solved_at" not in body and body["external_id"] == "9"


def test_ticket_field_dropdown_options_are_tags():
    f = TicketField(id="1", key="cf_x", title="X", type="dropdown",
                    options=[FieldOption(value="Gold Plan", label="Gold Plan")])
    assert render.render_ticket_field(f)["ticket_field"]["custom_field_options"] == [
        {"name": "Gold Plan", "value": "gold_plan"}]
