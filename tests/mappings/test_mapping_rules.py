"""Table-driven: agent rules, exclusions, multi-role, routing, value maps, strict mode, defaults."""

from __future__ import annotations

import pytest

from mappings import mapping_from_text
from mappings.plan import build_plan
from mappings.staged import RecordSet
from migrator.errors import MappingError
from migrator.models import Agent, Ticket

from .conftest import BASE_MAPPING, base_records


def plan_for(text: str = BASE_MAPPING, tickets=None, target: str = "freshdesk", extra=()):
    return build_plan(mapping_from_text(text), RecordSet([*base_records(tickets), *extra]), target)


@pytest.mark.parametrize("email,expected", [
    ("mia@t.test", ("manager", None)),      # named manager
    ("lea@t.test", ("lead", "hub")),        # named lead wins over the Tier 2 rule
    ("tom@t.test", ("l2", "hub")),          # rule 1: source group Tier 2
    ("eve@t.test", ("engineer", "eng")),    # rule 2: custom role
    ("ann@t.test", ("l1", "hub")),          # default
    ("old@t.test", None),                   # excluded: inactive
])
def test_mapping_agent_placement(email, expected):
    plan = plan_for()
    agent_id = next(a.id for a in plan.directory.agents if a.email == email)
    assert plan.placement(agent_id) == expected


@pytest.mark.parametrize("exclude,gone", [
    ("emails: [ann@t.test]", {"ann@t.test"}),
    ("source_roles: [admin]", set()),  # the manager is named: broad exclusions do not apply
    ("custom_roles: [Advisor]", {"tom@t.test"}),
    ("source_groups: [Tech Escalations]", {"eve@t.test"}),  # eli is a named lead
    ("without_tickets: true", {"eve@t.test"}),
    ("idle_since: '2024-01-01'", {"ann@t.test", "tom@t.test", "eve@t.test"}),
])
def test_mapping_exclusions(exclude, gone):
    text = BASE_MAPPING.replace("    inactive: true", f"    inactive: true\n    {exclude}")
    text = text.replace("    escalation: [l1, l2, eng/engineer]\n", "")  # may empty a tier
    tickets = [Ticket(id="1", subject="x", assignee_id="3", group_id="10",
                      updated_at="2023-05-01T00:00:00Z"),
               Ticket(id="2", subject="y", assignee_id="4", group_id="11",
                      updated_at="2023-06-01T00:00:00Z")]
    plan = plan_for(text, tickets)
    excluded = {a.email for a in plan.directory.agents if a.id in plan.placements.excluded}
    assert excluded == gone | {"old@t.test"}
    assert not {a.email for a in plan.agents} & excluded


def test_mapping_default_exclude_leaves_unmatched_out():
    plan = plan_for(BASE_MAPPING.replace("  default: {tier: l1, team: hub}",
                                         "  default: exclude"))
    assert "ann@t.test" not in {a.email for a in plan.agents}
    assert "no rule matches" in plan.placements.excluded["3"]


def test_mapping_multi_role_is_explicit():
    text = BASE_MAPPING.replace("  exclude:", "  multi_role:\n    lea@t.test:\n"
                                "      - {tier: lead, team: hub}\n"
                                "      - {tier: lead, team: eng}\n  exclude:").replace(
        "    lead: eli@t.test", "    lead: lea@t.test")
    plan = plan_for(text)
    lea = next(a for a in plan.agents if a.email == "lea@t.test")
    assert lea.group_ids == ["hub/lead", "eng/lead"]
    assert [m.id for m in plan.memberships if m.agent_id == "2"] == ["2@hub/lead", "2@eng/lead"]
    # without multi_role the same double role is refused
    with pytest.raises(MappingError, match="holds several roles"):
        mapping_from_text(BASE_MAPPING.replace("    lead: eli@t.test", "    lead: lea@t.test"))


@pytest.mark.parametrize("ticket,route", [
    (Ticket(id="1", subject="", tags=["firmware"], group_id="11"), ("eng", "engineer")),
    (Ticket(id="2", subject="", group_id="11"), ("hub", "l2")),
    (Ticket(id="3", subject="", group_id="10"), ("hub", "l1")),
    (Ticket(id="4", subject="", group_id=None), ("hub", "l1")),
])
def test_mapping_routing_first_match_wins(ticket, route):
    assert plan_for().route(ticket) == route


@pytest.mark.parametrize("when,ticket,hit", [
    ("{fields: {Product line: [Smart Hub]}}", Ticket(id="1", subject="",
                                                    custom_fields={"f1": "smart_hub"}), True),
    ("{fields: {Product line: [smart_hub]}}", Ticket(id="1", subject="",
                                                    custom_fields={"f1": "smart_hub"}), True),
    ("{fields: {Product line: [App]}}", Ticket(id="1", subject="",
                                              custom_fields={"f1": "smart_hub"}), False),
    ("{products: [Smart Hub]}", Ticket(id="1", subject="", product_id="p1"), True),
    ("{organizations: [Acme]}", Ticket(id="1", subject="", organization_id="o1"), True),
    ("{priorities: [urgent]}", Ticket(id="1", subject="", priority="high"), False),
    ("{priorities: [urgent], tags: [vip]}", Ticket(id="1", subject="", priority="urgent",
                                                   tags=["vip"]), True),
    ("{priorities: [urgent], tags: [vip]}", Ticket(id="1", subject="", priority="urgent"), False),
])
def test_mapping_routing_conditions(when, ticket, hit):
    text = BASE_MAPPING.replace("      when: {tags: [firmware]}", f"      when: {when}")
    assert (plan_for(text).route(ticket) == ("eng", "engineer")) is hit


@pytest.mark.parametrize("status,priority,type_,expected", [
    ("hold", "low", "problem", ("pending", "low", "incident")),    # mapped
    ("open", "urgent", "task", ("open", "urgent", "question")),    # kept / default
    ("closed", None, None, ("closed", None, None)),
])
def test_mapping_value_maps(status, priority, type_, expected):
    t = Ticket(id="9", subject="", status=status, priority=priority, type=type_)
    out = plan_for().map_ticket(t)
    assert (out.status, out.priority, out.type) == expected
    assert t.status == status  # the source ticket is not changed


def test_mapping_fields_are_keyed_by_target_name():
    t = Ticket(id="9", subject="", custom_fields={"f1": "app", "f2": "A-7"})
    assert plan_for(target="freshdesk").map_ticket(t).custom_fields == {
        "cf_product": "app", "cf_order_number": "A-7"}
    assert plan_for(target="zendesk").map_ticket(t).custom_fields == {
        "product": "app", "order_number": "A-7"}


def test_mapping_strict_value_raises_when_mapping_a_ticket():
    text = BASE_MAPPING.replace("    map: {hold: pending}\n    keep_unmapped: true",
                                "    map: {hold: pending, open: open, solved: solved}\n"
                                "    strict: true")
    plan = plan_for(text)
    with pytest.raises(MappingError, match=r"ticket 9: status value 'weird' is not in the mapping \(strict\)"):
        plan.map_ticket(Ticket(id="9", subject="", status="weird"))


@pytest.mark.parametrize("assignee,status,policy,expected", [
    ("4", "open", "unassign", (None, "hub/l1")),        # tom is hub/l2: same team, kept in l2
    ("5", "open", "unassign", (None, "hub/l1")),        # eli moved to eng: unassigned
    ("5", "open", "keep", ("5", "eng/lead")),           # ticket follows its assignee
    ("5", "solved", "unassign", ("5", "eng/lead")),     # closed history keeps the assignee
    ("6", "open", "unassign", ("2", "hub/lead")),       # left: given to the team lead
    ("6", "closed", "unassign", (None, "hub/l1")),      # left, closed: cleared
])
def test_mapping_open_ticket_policy(assignee, status, policy, expected):
    text = BASE_MAPPING.replace("assignee_moved: unassign", f"assignee_moved: {policy}")
    out = plan_for(text).map_ticket(Ticket(id="9", subject="", status=status, group_id="10",
                                           assignee_id=assignee))
    if assignee == "4":  # kept: tom is in the routed team, the ticket moves to his tier group
        expected = ("4", "hub/l2")
    assert (out.assignee_id, out.group_id) == expected


def test_mapping_tags_added_once_and_extra_set():
    out = plan_for().map_ticket(Ticket(id="9", subject="", tags=["migrated", "a"],
                                       group_id="11"))
    assert out.tags == ["migrated", "a"]
    assert (out.extra["team"], out.extra["tier"]) == ("hub", "l2")


def test_mapping_unknown_source_value_is_defaulted_in_type():
    out = plan_for().map_ticket(Ticket(id="9", subject="", type="feature"))
    assert out.type == "question"


def test_mapping_agent_match_by_location():
    extra = [Agent(id="8", name="Zed", email="zed@t.test", group_ids=["10"],
                   extra={"location": "Austin"})]
    text = BASE_MAPPING.replace("  default: {tier: l1, team: hub}",
                                "    - when: {locations: [Austin]}\n      tier: l2\n"
                                "      team: hub\n  default: {tier: l1, team: hub}")
    assert plan_for(text, extra=extra).placement("8") == ("l2", "hub")


def test_mapping_memoised_routing_and_values_agree_with_a_fresh_plan():
    """Routing and value maps are memoised per plan: tickets that differ only in what one rule
    reads (a tag, a field value, a priority) still get their own answers, in any order."""
    text = BASE_MAPPING.replace(
        "      when: {tags: [firmware]}",
        "      when: {fields: {Product line: [Smart Hub]}, priorities: [urgent]}")
    tickets = [Ticket(id=str(i), subject="", tags=tags, group_id=group, priority=prio,
                      custom_fields=fields)
               for i, (tags, group, prio, fields) in enumerate([
                   ([], "11", "urgent", {"f1": "smart_hub"}),
                   ([], "11", "low", {"f1": "smart_hub"}),
                   ([], "11", "urgent", {"f1": "app"}),
                   (["firmware"], "10", "urgent", {"f1": "smart_hub", "f2": "A-1"}),
                   ([], "10", "urgent", {"f1": ["smart_hub"]}),
                   ([], "10", "urgent", {"f1": "smart_hub", "f2": {"odd": "value"}}),
                   ([], "11", "urgent", {"f1": "smart_hub"}),
               ])]
    shared = plan_for(text)
    warm = [shared.map_ticket(t) for t in [*tickets, *reversed(tickets)]]
    fresh = [plan_for(text).map_ticket(t) for t in [*tickets, *reversed(tickets)]]
    assert [(m.group_id, m.custom_fields) for m in warm] == \
        [(m.group_id, m.custom_fields) for m in fresh]
    assert [m.group_id for m in warm[:3]] == ["eng/engineer", "hub/l2", "hub/l2"]
    lists = [m.custom_fields["cf_product"] for m in warm if isinstance(
        m.custom_fields.get("cf_product"), list)]
    assert len(lists) == 2 and lists[0] is not lists[1]  # a memoised list is never shared
    odd = Ticket(id="9", subject="", priority="urgent", custom_fields={"f1": {"x": 1}})
    assert shared.route(odd) == plan_for(text).route(odd) == ("hub", "l1")  # no dict key


def test_memoised_routing_tells_one_from_true():
    """1, 1.0 and True are one dict key but three values ("1", "1.0", "true"): the memo keeps
    their types apart."""
    text = BASE_MAPPING.replace("      when: {tags: [firmware]}",
                                "      when: {fields: {Order number: ['1']}}")
    plan = plan_for(text)
    routes = [plan.route(Ticket(id=str(i), subject="", group_id="10", custom_fields={"f2": v}))
              for i, v in enumerate([True, 1, 1.0, 1])]
    assert routes == [("hub", "l1"), ("eng", "engineer"), ("hub", "l1"), ("eng", "engineer")]
    mapped = [plan.map_ticket(Ticket(id="9", subject="", custom_fields={"f2": v})
                              ).custom_fields["cf_order_number"] for v in (True, 1)]
    assert mapped == [True, 1] and type(mapped[1]) is int
