"""The target snapshot in the plan (reuse/create, exists/create in the UI); target value checks."""

from __future__ import annotations

import pytest

from mappings import MappingInvalid, mapping_from_text
from mappings.plan import build_plan, check_mapping
from mappings.render import plan_json, plan_markdown
from mappings.staged import RecordSet
from mappings.target_snapshot import TargetSnapshot, snapshot_of
from mappings.targets import Existing
from migrator.models import FieldOption, Group, Role, TicketField

from .conftest import BASE_MAPPING, base_records

ENGINEER_ROLE = "  engineer:\n    freshdesk: {role: Tech Squad, ticket_scope: global}\n" \
                "    zendesk: {role: agent, custom_role: Tech Squad}\n"


def _text(**swap: str) -> str:
    text = BASE_MAPPING.replace("teams:\n", "tiers:\n" + ENGINEER_ROLE + "teams:\n", 1)
    for old, new in swap.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text


def _plan(target: str, existing: Existing | None = None, text: str | None = None):
    return build_plan(mapping_from_text(text or _text()), RecordSet(base_records()), target,
                      existing=existing)


def _snapshot(target: str, **kw) -> TargetSnapshot:
    return snapshot_of(target, "2026-11-28T06:00:00Z",
                       groups=[Group(id="1", name="hub · level-1 agent"),
                               Group(id="2", name="Old queue", deleted=True)],
                       roles=[Role(id="1", name="Agent"), Role(id="2", name="Administrator")],
                       **kw)


def test_mapping_snapshot_round_trips_and_lists_what_exists():
    snap = _snapshot("freshdesk", statuses=["Waiting on Customer"], types=["Question"],
                     ticket_fields=[TicketField(id="9", key="cf_product", title="Product",
                                                type="dropdown",
                                                options=[FieldOption(value="hub", label="hub")])])
    again = TargetSnapshot.from_json(snap.to_json())
    assert again == snap and TargetSnapshot.from_json("{not json") is None
    ex = snap.existing()
    assert ex.known and ex.taken_at == "2026-11-28T06:00:00Z"
    assert ex.groups == {"hub · level-1 agent"}  # deleted groups are not reused
    assert ex.field_options == {"cf_product": {"hub"}, "product": {"hub"}}


@pytest.mark.parametrize("target,roles", [
    ("freshdesk", {"Administrator": "exists", "Supervisor": "create in the UI",
                   "Tech Squad": "create in the UI", "Agent": "exists"}),
    ("zendesk", {"admin": "built in", "agent": "built in", "Tech Squad": "create in the UI"}),
])
def test_mapping_plan_with_snapshot_says_reuse_create_exists(target, roles):
    plan = _plan(target, _snapshot(target).existing())
    data = plan.as_dict()
    actions = {g["name"]: g["action"] for g in data["groups"]}
    assert actions.pop("Hub · Level-1 agent") == "reuse"  # matched by name, any case
    assert set(actions.values()) == {"create"}
    got = {r["role"]: r["action"] for r in data["roles"]}
    assert {k: v.split(" (")[0] if v.startswith("create") else v for k, v in got.items()} \
        == {k: v for k, v in roles.items()}
    assert data["target_read_at"] == "2026-11-28T06:00:00Z"
    assert "Target read on 2026-11-28T06:00:00Z" in plan_markdown(plan)


def test_mapping_plan_without_snapshot_says_the_target_was_not_read():
    plan = _plan("freshdesk")
    data = plan.as_dict()
    assert data["target_read_at"] is None
    assert {g["action"] for g in data["groups"]} == {"create or reuse"}
    assert "The target was not read: run `migrator check`" in plan_markdown(plan)
    roles = {r["role"]: r["action"] for r in data["roles"]}
    assert roles["Tech Squad"].startswith("create it in the Freshdesk admin UI")


def test_mapping_plan_with_snapshot_is_byte_identical():
    ex = _snapshot("freshdesk").existing()
    assert plan_json(_plan("freshdesk", ex)) == plan_json(_plan("freshdesk", ex))
    assert plan_markdown(_plan("freshdesk", ex)) == plan_markdown(_plan("freshdesk", ex))


def _errors(target: str, text: str, existing: Existing | None = None) -> list[str]:
    issues = check_mapping(mapping_from_text(text), RecordSet(base_records()), target,
                           existing=existing)
    return [i.render("m.yaml") for i in issues if not i.warning]


@pytest.mark.parametrize("target,swap,existing,expected", [
    # Zendesk ticket types are fixed: `task`/`question`... (any case, as the connector lowercases)
    ("zendesk", {"default: question": "default: Feature Request"}, None,
     "values.type.default: zendesk cannot hold type 'Feature Request'"),
    # Freshdesk types are account-defined: checked against the snapshot only
    ("freshdesk", {"default: question": "default: Feature Request"},
     Existing.of(types=["Question", "Incident"]),
     "values.type.default: freshdesk cannot hold type 'Feature Request'"),
    # a custom status the target does not have
    ("freshdesk", {"map: {hold: pending}": "map: {hold: Waiting on Customer}"}, None,
     "values.status.map.hold: freshdesk cannot hold status 'Waiting on Customer'"),
    # options of a field that already exists in the target (from the snapshot)
    ("freshdesk", {}, Existing.of(field_options={"cf_product": ["hub", "other"]}),
     "values.fields.Product line.map.App: freshdesk cannot hold 'Product line' option 'app'"),
])
def test_mapping_target_value_errors(target, swap, existing, expected):
    errors = _errors(target, _text(**swap), existing)
    assert any(expected in e for e in errors), errors
    assert all(e.startswith("m.yaml:") and ": values." in e for e in errors)


@pytest.mark.parametrize("target,swap,existing", [
    ("freshdesk", {"default: question": "default: Feature Request"}, None),  # types not read
    ("freshdesk", {"map: {hold: pending}": "map: {hold: Waiting on Customer}"},
     Existing.of(statuses=["Waiting on Customer"])),  # the target has this custom status
    ("freshdesk", {}, Existing.of(field_options={"cf_product": ["hub", "app"]})),
    ("zendesk", {"default: question": "default: Task"}, None),
])
def test_mapping_target_values_the_target_holds_pass(target, swap, existing):
    assert _errors(target, _text(**swap), existing) == []


def test_mapping_plan_refuses_an_unrepresentable_value():
    with pytest.raises(MappingInvalid, match=r"values.status.map.hold: zendesk cannot hold "
                                             r"status 'Waiting on Customer'"):
        _plan("zendesk", text=_text(**{"map: {hold: pending}":
                                       "map: {hold: Waiting on Customer}"}))
