"""Plans over the seeded demo company: examples, determinism, contract, scaffold, diff, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from connectors.sandbox.seed import build_company
from mappings import load_mapping, mapping_from_text
from mappings.diff import diff_plans
from mappings.plan import build_plan
from mappings.render import plan_json, plan_markdown
from mappings.scaffold import scaffold
from mappings.staged import RecordSet
from migrator.cli import cli
from migrator.models import STATUSES, Entity
from migrator.state import StateStore

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "mappings" / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def company():
    return build_company(tickets=160)


@pytest.fixture(scope="module")
def staged(company):
    return RecordSet.from_object(company)


def test_mapping_examples_ship():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("target", ["freshdesk", "zendesk"])
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_mapping_example_plans_on_seeded_company(path, target, staged, company):
    plan = build_plan(load_mapping(path), staged, target)
    kept = {a.id for a in plan.agents}
    active = {a.id for a in company.agents if a.active and not a.suspended}
    assert kept <= {a.id for a in company.agents}
    # every active agent is placed or excluded with a reason
    assert active <= kept | set(plan.placements.excluded)
    for team in plan.mapping.teams:
        assert len(plan.placements.members(team, "lead")) == 1
    keys = {g.id for g in plan.groups}
    assert all(m.group_id in keys and m.id == f"{m.agent_id}@{m.group_id}"
               for m in plan.memberships)
    assert sum(plan.profile.routed.values()) == len(company.tickets)
    for ticket in company.tickets[:60]:
        mapped = plan.map_ticket(ticket)
        assert mapped.group_id in keys
        assert mapped.assignee_id is None or mapped.assignee_id in kept
        assert mapped.status in STATUSES
        assert "/".join(plan.route(ticket)) in keys
        if target == "freshdesk":
            assert mapped.status not in ("new", "hold")
            assert all(k.startswith("cf_") for k in mapped.custom_fields)


def test_mapping_plan_contract_fields(staged, company):
    plan = build_plan(load_mapping(EXAMPLES[[p.stem for p in EXAMPLES].index("product-lines")]),
                      staged, "freshdesk")
    lead = next(a for a in company.agents if a.email == "violetta.kohl@brightnest.example")
    hub_l1 = next(g for g in plan.groups if g.id == "hub/l1")
    assert (hub_l1.name, hub_l1.escalate_to, hub_l1.unassigned_for) == (
        "Smart Home Hub · Level-1 agent", lead.id, "1h")
    agent = next(a for a in plan.agents if a.id == lead.id)
    assert (agent.role, agent.ticket_scope, agent.group_ids) == ("Supervisor", "global",
                                                                 ["hub/lead"])
    assert (agent.extra["tier"], agent.extra["team"]) == ("lead", "hub")
    assert plan.placement(lead.id) == ("lead", "hub")
    assert {f.key for f in plan.ticket_fields} == {"cf_product_line", "cf_issue_type", "cf_vip",
                                                   "cf_order_number", "cf_purchase_date"}


def test_mapping_plan_is_byte_identical(staged):
    mapping = load_mapping(EXAMPLES[0])
    first = build_plan(mapping, staged, "freshdesk")
    second = build_plan(load_mapping(EXAMPLES[0]), RecordSet.from_object(build_company(
        tickets=160)), "freshdesk")
    assert plan_json(first) == plan_json(second)
    assert plan_markdown(first) == plan_markdown(second)
    assert "## Org chart" in plan_markdown(first)


def test_mapping_plan_counts_tickets_in_one_streaming_pass(company):
    class Once(RecordSet):
        calls = 0

        def iter(self, entity):
            if entity is Entity.TICKETS:
                Once.calls += 1
                return (t for t in company.tickets)  # a generator: nothing is held
            return super().iter(entity)

    data = Once([r for e in Entity if e is not Entity.TICKETS
                 for r in getattr(company, e.value, [])])
    plan = build_plan(load_mapping(EXAMPLES[0]), data, "zendesk")
    assert Once.calls == 1 and plan.profile.total == len(company.tickets)


@pytest.mark.parametrize("target", ["freshdesk", "zendesk"])
def test_mapping_scaffold_round_trip(staged, company, target):
    text = scaffold(staged, target_type=target)
    assert "# role admin" in text or "role admin;" in text  # evidence comments
    for agent in company.agents:
        assert agent.email in text
    mapping = mapping_from_text(text, "scaffold.yaml")
    plan = build_plan(mapping, staged, target)
    assert len(plan.agents) == sum(a.active and not a.suspended for a in company.agents)


def test_mapping_diff_reports_moves_reroutes_and_groups(staged):
    old_text = EXAMPLES[[p.stem for p in EXAMPLES].index("product-lines")].read_text()
    new_text = old_text.replace("- when: {source_groups: [Billing EU, Billing US]}\n"
                                "      tier: l1\n      team: billing",
                                "- when: {source_groups: [Billing EU, Billing US]}\n"
                                "      tier: l1\n      team: app").replace(
        "    escalation: [l1, l2]\n", "").replace(
        "    - when: {source_groups: [Billing EU, Billing US]}\n      to: {team: billing, tier: l1}",
        "    - when: {source_groups: [Billing EU, Billing US]}\n      to: {team: app, tier: l1}")
    old = build_plan(mapping_from_text(old_text), staged, "freshdesk")
    new = build_plan(mapping_from_text(new_text), staged, "freshdesk")
    diff = diff_plans(old, new, staged)
    moved = {a["email"]: (a["before"], a["after"]) for a in diff["agents_moved"]}
    assert moved["david.walker@brightnest.example"] == ("billing/l1", "app/l1")
    billing_l1 = old.profile.routed[("billing", "l1")]
    assert diff["reroutes"] == [{"from": "billing/l1", "to": "app/l1", "tickets": billing_l1}]
    assert diff["groups_removed"] == [{"key": "billing/l1",
                                       "name": "Billing & Subscriptions · Level-1 agent"}]
    assert diff_plans(old, old, staged)["tickets_rerouted"] == 0


def test_mapping_schema_command_validates_examples():
    result = CliRunner().invoke(cli, ["mapping", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    import yaml
    for path in EXAMPLES:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"teams": {}, "bogus": 1}, schema)


@pytest.fixture
def project(tmp_path, company):
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    for entity in Entity:
        records = getattr(company, entity.value, None)
        if records and entity is not Entity.COMMENTS:
            store.stage(records)
    store.close()
    (tmp_path / "migration.yaml").write_text(
        "source: {type: zendesk, base_url: 'http://127.0.0.1:1'}\n"
        "target: {type: freshdesk, base_url: 'http://127.0.0.1:2'}\n"
        f"mapping: mapping.yaml\nstate: sqlite:///{tmp_path / 'state.db'}\n")
    return tmp_path


def test_mapping_cli_scaffold_validate_plan(project):
    cfg = ["-c", str(project / "migration.yaml")]
    runner = CliRunner()
    result = runner.invoke(cli, [*cfg, "mapping", "scaffold"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(cli, [*cfg, "mapping", "scaffold"])
    assert again.exit_code == 2 and "already exists" in again.output
    result = runner.invoke(cli, [*cfg, "mapping", "validate", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["valid"] is True
    out = project / "out"
    result = runner.invoke(cli, [*cfg, "plan", "--out", str(out)])
    assert result.exit_code == 0, result.output
    first = (out / "plan.json").read_bytes()
    runner.invoke(cli, [*cfg, "plan", "--out", str(out)])
    assert (out / "plan.json").read_bytes() == first
    assert json.loads(first)["target"] == "freshdesk"
    (project / "mapping.yaml").write_text((project / "mapping.yaml").read_text().replace(
        "henrik.kochii@", "henrik.koch@"))
    bad = runner.invoke(cli, [*cfg, "mapping", "validate"])
    assert bad.exit_code == 2
    assert "manager: no agent with e-mail henrik.koch@brightnest.example" in bad.output
    assert "did you mean 'henrik.kochii@brightnest.example'?" in bad.output


def test_mapping_cli_diff_before_export_says_to_export(tmp_path):
    (tmp_path / "migration.yaml").write_text(
        "source: {type: zendesk, base_url: 'http://127.0.0.1:1'}\n"
        "target: {type: freshdesk, base_url: 'http://127.0.0.1:2'}\n"
        f"state: sqlite:///{tmp_path / 'state.db'}\n")
    example = str(EXAMPLES[0])
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "migration.yaml"), "mapping", "diff",
                                      example, example])
    assert result.exit_code == 2, result.output
    assert "nothing is staged yet" in result.output and "migrator export" in result.output
    assert "no agent with e-mail" not in result.output
