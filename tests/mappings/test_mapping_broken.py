"""The corpus of broken mapping files: each gives its precise message (file:line:col, path, hint)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mappings import MappingInvalid, load_mapping
from mappings.plan import check_mapping
from mappings.staged import RecordSet
from migrator.cli import cli

from .conftest import base_records

BROKEN = Path(__file__).parent / "broken"

# (file stem, the first problem after "<file>:") — reviewed by hand, one per broken file.
EXPECTED = [
    ('add_tags_not_list', '36:13: tickets.add_tags: expected a list (- item lines), got a mapping'),
    ('alias_bomb', '1:40: f[0][6][8][8][8][8]: more than 200000 values (are anchors/aliases expanding?)'),
    ('bad_idle_date', "16:17: agents.exclude.idle_since: expected a date like 2024-01-31, got 'last year'"),
    ('bad_indent', "4:4: (top): not valid YAML: expected <block end>, but found '<block mapping start>' (check the indentation and quoting on this line)"),
    ('bad_policy', "35:20: tickets.open_tickets.assignee_left: expected one of 'unassign' or 'team_lead'; got the text 'manager'"),
    ('bad_unassigned_for', "8:21: teams.hub.unassigned_for: expected one of '30m', '1h', '2h', '4h', '8h', '12h', '1d', '2d' or '3d'; got the text '5m'"),
    ('binary', '1:1: (top): not a text file (byte 0 is not UTF-8) (a mapping is UTF-8 YAML text)'),
    ('default_both', '24:12: agents.default: give either `exclude` or a tier and team, not both'),
    ('default_missing', '13:1: agents.default: missing required key `default` (write what happens to everything no rule matches)'),
    ('duplicate_key', '9:3: teams.hub: duplicate key `hub` (YAML keeps only the last one) (merge the two entries into one)'),
    ('empty', '1:1: (top): the file is empty (run `migrator mapping scaffold` for a starter mapping, or copy one from mappings/examples/)'),
    ('escalation_empty_end', "7:22: teams.hub.escalation[1]: the escalation path ends in 'eng/l2', which has no people (place agents in that tier (agent rules) or end the path elsewhere)"),
    ('escalation_repeated', '7:26: teams.hub.escalation[2]: step `l1` appears twice in the path'),
    ('escalation_unknown_step', "7:26: teams.hub.escalation[2]: unknown tier `enginer` (did you mean 'engineer'?)"),
    ('field_not_listed', "47:5: values.fields: field 'Order number' has values in 1 ticket(s) but is not in the mapping (add `Order number:` under values.fields (with `drop: true` to leave it out), or set values.other_fields: drop)"),
    ('lead_excluded', '6:11: teams.hub.lead: the lead lea@t.test is excluded (listed in agents.exclude.emails) (remove them from agents.exclude or choose another lead)'),
    ('lead_is_list', '6:11: teams.hub.lead: expected text, got a list'),
    ('lead_missing', '4:3: teams.hub.lead: missing required key `lead` (every team needs exactly one lead: the e-mail of its team lead)'),
    ('lead_not_email', "6:11: teams.hub.lead: expected the lead's e-mail, got 'Lea'"),
    ('lead_twice', '12:11: teams.eng.lead: lea@t.test holds several roles (lead of hub, lead of eng) (list them explicitly under agents.multi_role)'),
    ('multi_role_missing_lead', '6:11: teams.hub.lead: lea@t.test is listed under agents.multi_role without this role (lead of hub) (add it to their multi_role list)'),
    ('naming_no_tier', "3:10: naming.group: pattern has no {tier}: the tiers of a team would get the same group name (write e.g. '{team} · {tier}')"),
    ('naming_placeholder', "3:10: naming.group: unknown placeholder {teem} (did you mean 'team'?)"),
    ('no_manager', '1:1: manager: missing: 2 teams need a support manager above their leads (add `manager: <e-mail>` at the top level)'),
    ('not_yaml', "2:7: (top): not valid YAML: expected ',' or ']', but got ':' (check the indentation and quoting on this line)"),
    ('only_comment', '1:1: (top): the file is empty (run `migrator mapping scaffold` for a starter mapping, or copy one from mappings/examples/)'),
    ('python_tag', '1:8: teams: unsupported tag tag:yaml.org,2002:python/object:os.system (write plain text, numbers, lists and mappings only)'),
    ('route_unknown_field', "28:37: tickets.routing[0].when.fields.Produkt line: no source field titled 'Produkt line' (did you mean 'Product line'?)"),
    ('route_unknown_team', '29:18: tickets.routing[0].to.team: unknown team `engineering` (known teams: hub, eng)'),
    ('route_unknown_tier', '32:30: tickets.default.tier: unknown tier `tier1` (known tiers: l1, l2, engineer, lead, manager; add it under `tiers:`)'),
    ('rule_no_condition', '18:13: agents.rules[0].when: the rule has no condition (use `agents.default` for everyone else)'),
    ('rule_without_team', '17:7: agents.rules[0].team: missing `team` (only the manager tier sits above teams) (teams: hub, eng)'),
    ('second_lead_by_rule', '6:11: teams.hub.lead: team hub has 2 leads: lea@t.test (lead of hub), tom@t.test (rule 1 (escalation desk)) (every team has exactly one lead; place the others in another tier)'),
    ('status_no_fallback', '39:5: values.status: needs an explicit fallback for values the map does not list (add `default: <value>`, `keep_unmapped: true` or `strict: true`)'),
    ('status_two_fallbacks', '39:5: values.status: choose one of `default`, `keep_unmapped`, `strict`; this has keep_unmapped, strict'),
    ('strict_field_unmapped', "49:12: values.fields.Product line.map: option 'app' of 'Product line' is used by 1 ticket(s) but not mapped (add `app: <target option>` to the map)"),
    ('strict_status_unmapped', "39:10: values.status.map: status 'open' is used by 2 ticket(s) but not mapped (strict) (add `open: <target status>` to the map)"),
    ('tab_indent', "2:1: (top): not valid YAML: found character '\\t' that cannot start any token (check the indentation and quoting on this line)"),
    ('target_priority_unrepresentable', "42:19: values.priority.map.normal: freshdesk cannot hold priority 'medium' (the map sends 'normal' there) (the target accepts: low, normal, high, urgent)"),
    ('target_status_default', "40:14: values.status.default: freshdesk cannot hold status 'new' (the target accepts: open, pending, solved, closed; a custom status exists only if the target account has it; run `migrator check` to read the target)"),
    ('target_status_kept', "39:20: values.status.keep_unmapped: status 'hold' of 1 ticket(s) is kept as it is, but freshdesk cannot hold it (map it under values.status.map; the target accepts: open, pending, solved, closed; a custom status exists only if the target account has it; run `migrator check` to read the target)"),
    ('target_status_unrepresentable', "39:17: values.status.map.hold: freshdesk cannot hold status 'on-hold' (the map sends 'hold' there) (the target accepts: open, pending, solved, closed; a custom status exists only if the target account has it; run `migrator check` to read the target)"),
    ('teams_empty', '3:8: teams: needs at least one entry (list at least one team)'),
    ('top_is_list', '1:1: (top): expected a mapping with sections such as `teams`, `agents`, `tickets`, `values`; got a list (see mappings/examples/ for the layout)'),
    ('top_is_text', "1:1: (top): expected a mapping with sections such as `teams`, `agents`, `tickets`, `values`; got the text 'just some words' (see mappings/examples/ for the layout)"),
    ('unknown_exclude_email', "16:14: agents.exclude.emails[0]: no agent with e-mail ann@t.tst in the staged data (did you mean 'ann@t.test'?)"),
    ('unknown_group', "18:30: agents.rules[0].when.source_groups[0]: no source group named 'Tier Two' (did you mean 'Tier 2'?)"),
    ('unknown_lead_email', "6:11: teams.hub.lead: no agent with e-mail leah@t.test in the staged data (did you mean 'lea@t.test'?)"),
    ('unknown_team_in_rule', "23:13: agents.rules[1].team: unknown team `engg` (did you mean 'eng'?)"),
    ('unknown_team_key', "7:5: teams.hub.escalaton: unknown key `escalaton` (did you mean 'escalation'?)"),
    ('unknown_tier_in_rule', '19:13: agents.rules[0].tier: unknown tier `level2` (known tiers: l1, l2, engineer, lead, manager; add it under `tiers:`)'),
    ('unknown_top_key', "2:1: manger: unknown key `manger` (did you mean 'manager'?)"),
    ('values_type_missing', '37:1: values.type: missing required key `type` (map the source ticket types)'),
    ('version_2', '1:10: version: expected one of 1; got the number 2'),
]


def _first_problem(path: Path) -> str:
    try:
        mapping = load_mapping(path)
    except MappingInvalid as exc:
        assert str(path) in str(exc)  # the message names the file
        return exc.issues[0].render(str(path))
    errors = [i for i in check_mapping(mapping, RecordSet(base_records()), "freshdesk")
              if not i.warning]
    assert errors, f"{path.name} should be invalid"
    return errors[0].render(str(path))


def test_mapping_corpus_is_large_and_complete():
    files = {p.stem for p in BROKEN.glob("*.yaml")}
    assert len(files) >= 30
    assert files == {name for name, _ in EXPECTED}


@pytest.mark.parametrize("name,expected", EXPECTED, ids=[n for n, _ in EXPECTED])
def test_mapping_broken_file_message(name: str, expected: str):
    path = BROKEN / f"{name}.yaml"
    assert _first_problem(path) == f"{path}:{expected}"


def test_mapping_huge_file_is_refused_without_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("x: 1\n" * 500_000)
    with pytest.raises(MappingInvalid, match=r"huge.yaml:1:1: \(top\): file is 2500000 bytes"):
        load_mapping(path)


@pytest.mark.parametrize("name", ["binary", "empty", "not_yaml", "alias_bomb", "python_tag",
                                  "top_is_list", "lead_is_list"])
def test_mapping_validate_command_never_tracebacks(name: str):
    result = CliRunner().invoke(cli, ["mapping", "validate", str(BROKEN / f"{name}.yaml")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{name}.yaml:" in result.output
