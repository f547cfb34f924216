"""Literal canonical records for the mapping tests: a tiny company of six agents."""

from __future__ import annotations

import textwrap

import pytest

from migrator.models import Agent, FieldOption, Group, Organization, Product, Ticket, TicketField

from mappings.staged import RecordSet

BASE_MAPPING = """\
name: Tiny company
manager: mia@t.test
teams:
  hub:
    name: Hub
    lead: lea@t.test
    escalation: [l1, l2, eng/engineer]
    unassigned_for: 1h
  eng:
    name: Engineering
    shared: true
    lead: eli@t.test
agents:
  exclude:
    inactive: true
  rules:
    - name: escalation desk
      when: {source_groups: [Tier 2]}
      tier: l2
      team: hub
    - when: {custom_roles: [Technical Specialist]}
      tier: engineer
      team: eng
  default: {tier: l1, team: hub}
tickets:
  routing:
    - name: technical
      when: {tags: [firmware]}
      to: {team: eng, tier: engineer}
    - when: {source_groups: [Tier 2]}
      to: {team: hub, tier: l2}
  default: {team: hub, tier: l1}
  open_tickets:
    assignee_moved: unassign
    assignee_left: team_lead
  add_tags: [migrated]
values:
  status:
    map: {hold: pending}
    keep_unmapped: true
  priority:
    keep_unmapped: true
  type:
    map: {problem: incident}
    default: question
  fields:
    Product line:
      target: product
      map: {Smart Hub: hub, App: app}
      strict: true
    Order number: {}
"""


def agents() -> list[Agent]:
    return [
        Agent(id="1", name="Mia Manager", email="mia@t.test", role="admin", group_ids=["10"]),
        Agent(id="2", name="Lea Lead", email="lea@t.test", custom_role="Team Lead",
              group_ids=["10", "11"]),
        Agent(id="3", name="Ann One", email="ann@t.test", custom_role="Staff", group_ids=["10"]),
        Agent(id="4", name="Tom Two", email="tom@t.test", custom_role="Advisor",
              group_ids=["11"]),
        Agent(id="5", name="Eli Eng", email="eli@t.test", custom_role="Technical Specialist",
              group_ids=["12"]),
        Agent(id="6", name="Old Timer", email="old@t.test", active=False, group_ids=["10"]),
        Agent(id="7", name="Eve Eng", email="eve@t.test", custom_role="Technical Specialist",
              group_ids=["12"]),
    ]


def base_records(tickets: list[Ticket] | None = None) -> list:
    groups = [Group(id="10", name="Hub EU"), Group(id="11", name="Tier 2"),
              Group(id="12", name="Tech Escalations")]
    fields = [TicketField(id="f1", key="f1", title="Product line", type="dropdown",
                          options=[FieldOption(value="smart_hub", label="Smart Hub"),
                                   FieldOption(value="app", label="App")]),
              TicketField(id="f2", key="f2", title="Order number", type="text")]
    other = [Product(id="p1", name="Smart Hub"), Organization(id="o1", name="Acme")]
    return [*agents(), *groups, *fields, *other, *(tickets if tickets is not None else
                                                   default_tickets())]


def default_tickets() -> list[Ticket]:
    return [
        Ticket(id="100", subject="a", status="open", priority="high", type="problem",
               group_id="10", assignee_id="3", tags=["firmware"],
               custom_fields={"f1": "smart_hub", "f2": "A-1"}),
        Ticket(id="101", subject="b", status="hold", priority="low", type="question",
               group_id="11", assignee_id="4", custom_fields={"f1": "app"}),
        Ticket(id="102", subject="c", status="solved", priority="normal", type="task",
               group_id="10", assignee_id="6"),
        Ticket(id="103", subject="d", status="open", priority="normal", group_id="10",
               assignee_id="6"),
    ]


@pytest.fixture
def staged() -> RecordSet:
    return RecordSet(base_records())


@pytest.fixture
def base_text() -> str:
    return BASE_MAPPING


def dedent(text: str) -> str:
    return textwrap.dedent(text)
