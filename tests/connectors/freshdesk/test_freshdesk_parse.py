"""Every recorded Freshdesk response parses into the model without losing the fields it keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.freshdesk import parse as P
from migrator.models import Entity, from_dict, iso, to_dict

RECORD_KIND = {
    "get_company": "company", "companies": "company", "company": "company",
    "get_contact": "contact", "get_group": "group", "group_1": "group", "groups": "group",
    "get_product": "product", "get_ticket": "ticket", "ticket_1": "ticket",
    "agent_1": "agent", "agents": "agent", "conversations": "conversation",
    "note_1": "conversation", "reply_1": "conversation",
}


def _kind(path: Path) -> str:
    stem = path.stem.split("-", 2)[-1]
    return RECORD_KIND[stem]


def _check_company(raw: dict) -> None:
    org = P.parse_company(raw)
    assert org.id == str(raw["id"]) and org.name == raw["name"]
    assert org.domains == raw["domains"] and org.notes == raw["note"]
    assert org.custom_fields == (raw.get("custom_fields") or {})
    assert org.created_at == iso(raw["created_at"])
    for key in ("description", "health_score", "account_tier", "renewal_date", "industry"):
        assert org.extra[key] == raw[key]


def _check_contact(raw: dict) -> None:
    user = P.parse_contact(raw)
    assert (user.id, user.name, user.email) == (str(raw["id"]), raw["name"], raw["email"])
    assert user.organization_id == str(raw["company_id"]) and user.active is raw["active"]
    assert user.custom_fields == raw["custom_fields"] and user.locale == raw["language"]
    assert user.extra["other_companies"] == raw["other_companies"]
    assert user.extra["avatar"]["name"] == raw["avatar"]["name"]
    assert not user.blocked and not user.deleted


def _check_group(raw: dict) -> None:
    group = P.parse_group(raw)
    assert group.escalate_to == str(raw["escalate_to"])
    assert group.unassigned_for == raw["unassigned_for"]
    assert group.extra["auto_ticket_assign"] == raw["auto_ticket_assign"]
    members = P.parse_memberships(raw)
    assert sorted(m.agent_id for m in members) == sorted(str(a) for a in raw.get("agent_ids", []))
    assert all(m.group_id == str(raw["id"]) for m in members)


def _check_product(raw: dict) -> None:
    product = P.parse_product(raw)
    assert (product.id, product.name, product.description) == (
        str(raw["id"]), raw["name"], raw["description"])


def _check_ticket(raw: dict) -> None:
    ticket = P.parse_ticket(raw)
    assert ticket.status == P.STATUS[raw["status"]]
    assert ticket.priority == P.PRIORITY[raw["priority"]]
    assert ticket.channel == P.SOURCE[raw["source"]]
    assert ticket.requester_id == str(raw["requester_id"])
    assert ticket.assignee_id == str(raw["responder_id"])
    assert ticket.tags == raw["tags"] and ticket.custom_fields == raw["custom_fields"]
    assert ticket.type == raw["type"] and ticket.due_at == iso(raw["due_by"])
    assert ticket.created_at == iso(raw["created_at"])
    stats = raw.get("stats") or {}
    assert ticket.solved_at == iso(stats.get("resolved_at"))
    assert ticket.first_responded_at == iso(stats.get("first_responded_at"))
    for key in ("cc_emails", "fr_due_by", "is_escalated", "email_config_id"):
        assert ticket.extra[key] == raw[key]
    desc = P.parse_description(raw)
    assert desc.body == raw["description_text"] and desc.html_body == raw["description"]
    assert desc.author_id == ticket.requester_id and desc.created_at == ticket.created_at
    assert [a.id for a in desc.attachments] == [str(a["id"]) for a in raw["attachments"]]
    for att, src in zip(desc.attachments, raw["attachments"]):
        assert att.size == src.get("size", src.get("file_size"))
        assert att.url == src["attachment_url"] and att.file_name == src["name"]


def _check_agent(raw: dict) -> None:
    agent = P.parse_agent(raw)
    assert agent.email == raw["contact"]["email"] and agent.name == raw["contact"]["name"]
    assert agent.ticket_scope == P.SCOPE[raw["ticket_scope"]]
    assert agent.active is raw["contact"]["active"]
    assert agent.last_login_at == iso(raw["contact"]["last_login_at"])
    assert agent.extra["occasional"] == raw["occasional"]
    assert agent.extra["contact_job_title"] == raw["contact"]["job_title"]


def _check_conversation(raw: dict) -> None:
    comment = P.parse_conversation(raw)
    assert comment.public is (not raw["private"])
    assert comment.author_id == str(raw["user_id"]) and comment.ticket_id == str(raw["ticket_id"])
    assert comment.body == raw["body_text"] and comment.html_body == raw["body"]
    assert comment.extra["incoming"] is raw["incoming"] and comment.extra["source"] == raw["source"]
    assert comment.channel == P.CONVERSATION_SOURCE[raw["source"]]
    assert comment.extra["from_email"] == raw["from_email"]


CHECKS = {"company": _check_company, "contact": _check_contact, "group": _check_group,
          "product": _check_product, "ticket": _check_ticket, "agent": _check_agent,
          "conversation": _check_conversation}


def test_every_recording_is_known(recordings: Path) -> None:
    files = sorted((recordings / "freshdesk").glob("*.json"))
    assert len(files) >= 15
    for path in files:
        assert _kind(path) in CHECKS, path.name


@pytest.mark.parametrize("name", sorted(RECORD_KIND))
def test_recording_parses_without_loss(recordings: Path, name: str) -> None:
    paths = list((recordings / "freshdesk").glob(f"*-{name}.json"))
    assert paths, name
    for path in paths:
        data = json.loads(path.read_text())
        for raw in data if isinstance(data, list) else [data]:
            CHECKS[_kind(path)](raw)


def test_parsed_records_round_trip_through_the_state_format(recordings: Path) -> None:
    raw = json.loads((recordings / "freshdesk" / "python-freshdesk-ticket_1.json").read_text())
    ticket = P.parse_ticket(raw)
    again = from_dict(type(ticket), json.loads(json.dumps(to_dict(ticket))))
    assert again == ticket and again.entity is Entity.TICKETS


@pytest.mark.parametrize("code,label,expected", [
    (2, None, "open"), (3, None, "pending"), (4, None, "solved"), (5, None, "closed"),
    (6, "Waiting on Customer", "Waiting on Customer"), (9, None, "status_9")])
def test_status_codes_and_custom_labels(code, label, expected) -> None:
    fields = [{"name": "status", "choices": {str(code): [label, label]}}] if label else []
    assert P.parse_status(code, P.status_labels(fields)) == expected


@pytest.mark.parametrize("value,score", [(103, "good"), (101, "good"), (100, "neutral"),
                                         (-103, "bad"), (1, "good"), (3, "bad")])
def test_satisfaction_scores(value, score) -> None:
    rating = P.parse_rating({"id": 1, "ticket_id": 2, "ratings": {"default_question": value}})
    assert rating.score == score and rating.ticket_id == "2"


def test_time_spent_and_agent_roles_and_fields() -> None:
    entry = P.parse_time_entry({"id": 5, "ticket_id": 9, "agent_id": 3, "time_spent": "01:30",
                                "executed_at": "2020-01-02T03:04:05+05:30", "billable": True})
    assert entry.seconds == 5400 and entry.executed_at == "2020-01-01T21:34:05Z"
    roles = {"7": P.parse_role({"id": 7, "name": "Tier 2", "default": False}),
             "1": P.parse_role({"id": 1, "name": "Agent", "default": True})}
    agent = P.parse_agent({"id": 4, "ticket_scope": 2, "role_ids": [1, 7], "group_ids": [11],
                           "contact": {"name": "A", "email": "a@x.test"}}, roles)
    assert (agent.role, agent.custom_role, agent.ticket_scope) == ("Agent", "Tier 2", "group")
    assert agent.role_ids == ["1", "7"] and agent.group_ids == ["11"]
    field = P.parse_ticket_field({"id": 3, "name": "cf_order_number", "label": "Order",
                                  "type": "custom_dropdown", "default": False,
                                  "choices": ["A", "B"]})
    assert field.key == "cf_order_number" and [o.value for o in field.options] == ["A", "B"]
    assert P.parse_ticket_field({"id": 1, "name": "status", "default": True}) is None
    odd = P.parse_ticket_field({"id": 2, "name": "cf_when", "type": "customdatetime"})
    assert odd.type == "text"  # unknown types become text (gotcha 19)
