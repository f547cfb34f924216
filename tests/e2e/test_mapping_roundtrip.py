"""Issue #5 "done when": on the demo data, scaffold -> edit -> validate -> plan -> migrate yields in
the target exactly the groups, roles, memberships, escalation settings and ticket routing the plan
showed. Both directions over loopback sandboxes; the target is read back through its own HTTP API.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml
from click.testing import CliRunner

from connectors.sandbox.run import credentials, start_sandbox
from connectors.sandbox.seed import build_company, target_account
from mappings import load_mapping
from mappings.plan import build_plan
from mappings.staged import StoreStaged
from migrator.cli import cli
from migrator.config import dump_config
from migrator.models import Entity, Role
from migrator.state import StateStore

pytestmark = pytest.mark.e2e

TICKETS = 80
SCOPES = {1: "global", 2: "group", 3: "restricted"}  # Freshdesk ticket_scope codes
# The consultant gives technical tiers a custom role in Zendesk (it exists in the target).
ZENDESK_CUSTOM_ROLE = "Technical Specialist"


# -- the project and the journey -------------------------------------------------------------
def _write_project(folder: Path, source, target, monkeypatch) -> Path:
    sides = {}
    for side, sandbox in (("source", source), ("target", target)):
        env = f"MIGRATOR_E2E_{side.upper()}"
        if sandbox.kind == "zendesk":
            monkeypatch.setenv(env, credentials("zendesk")["api_token"])
            sides[side] = {"type": "zendesk", "base_url": sandbox.url,
                           "email": credentials("zendesk")["email"], "token": "${" + env + "}"}
        else:
            monkeypatch.setenv(env, credentials("freshdesk")["api_key"])
            sides[side] = {"type": "freshdesk", "base_url": sandbox.url,
                           "api_key": "${" + env + "}", "create_agents": True}
    data = {**sides, "mapping": "mapping.yaml",
            "options": {"batch_size": 50, "max_in_flight": 8, "attachments": False,
                        "inline_images": False}}
    path = folder / "migration.yaml"
    path.write_text(dump_config(data), encoding="utf-8")
    return path


def _cli(cfg: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-c", str(cfg), *args])
    assert result.exit_code == 0, (args, result.output[-3000:])
    return result.output


def _edit(path: Path, target_type: str) -> None:
    """What a consultant does to the scaffold: confirm tiers, choose leads, add a rule, rename."""
    m = yaml.safe_load(path.read_text(encoding="utf-8"))
    m["name"] = "Edited by the consultant"
    m["tiers"] = {"l1": {"name": "Frontline"}}  # rename a tier
    if target_type == "zendesk":
        m["tiers"]["engineer"] = {"zendesk": {"role": "agent", "custom_role": ZENDESK_CUSTOM_ROLE}}
    rules = m["agents"]["rules"]
    # A new lead for one team: the first l2 of a team with one becomes its lead; the old lead
    # becomes l2 of that team (rules are confirmed as suggested otherwise).
    l2 = next(r for r in rules if r["tier"] == "l2")
    team = l2["team"]
    new_lead = l2["when"]["emails"].pop(0)
    old_lead = m["teams"][team]["lead"]
    m["teams"][team]["lead"] = new_lead
    l2["when"]["emails"].append(old_lead)
    for i, (key, t) in enumerate(m["teams"].items()):
        t["unassigned_for"] = ("1h", "2h", "4h")[i % 3]  # escalation settings per team
    # A routing rule, first: technical tags go to the engineers.
    eng = next(r for r in rules if r["tier"] == "engineer")
    m["tickets"]["routing"].insert(0, {"name": "firmware and server errors",
                                       "when": {"tags": ["firmware", "server-error", "api"]},
                                       "to": {"team": eng["team"], "tier": "engineer"}})
    path.write_text(yaml.safe_dump(m, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _type_the_target_lacks(cfg: Path, mapping: Path) -> None:
    """With the snapshot, a ticket type this Freshdesk account lacks is an error at its line."""
    m = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    m["values"]["type"]["map"]["task"] = "Feature Request"
    broken = mapping.with_name("broken.yaml")
    broken.write_text(yaml.safe_dump(m, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(cfg), "mapping", "validate", str(broken)])
    assert result.exit_code == 2, result.output
    assert "values.type.map.task: freshdesk cannot hold type 'Feature Request'" in result.output


def _journey(tmp_path: Path, source, target, monkeypatch) -> tuple[dict, Any]:
    cfg = _write_project(tmp_path, source, target, monkeypatch)
    _cli(cfg, "export")
    _cli(cfg, "mapping", "scaffold")
    _edit(tmp_path / "mapping.yaml", target.kind)
    assert "valid" in _cli(cfg, "mapping", "validate")
    checked = _cli(cfg, "check")  # the plan (and value checks) read what the target has
    assert "target snapshot taken" in checked and "groups to create: " in checked
    role = ZENDESK_CUSTOM_ROLE if target.kind == "zendesk" else "Supervisor"
    assert f"role '{role}' ({'engineer' if target.kind == 'zendesk' else 'lead'}): exists" \
        in checked
    if target.kind == "freshdesk":  # its ticket types, read from the `ticket_type` field
        assert "ticket types: Incident, Problem, Question, Task" in checked
        _type_the_target_lacks(cfg, tmp_path / "mapping.yaml")
    _cli(cfg, "plan", "--out", str(tmp_path))
    plan_json = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    _cli(cfg, "migrate")
    # verify compares the team as the target holds it with the plan, and every ticket
    out = _cli(cfg, "verify", "--json")
    verified = json.loads(out[out.index("{"):])  # after the progress lines
    assert verified["ok"], (verified["team"], verified["mismatches"][:3])
    assert verified["team_checked"] == len(plan_json["groups"]) + sum(
        len(a["groups"]) for a in plan_json["agents"])
    state = StateStore(f"sqlite:///{tmp_path / '.migrator' / 'state.db'}")
    try:  # the library plan: the per-ticket routing the plan's counts sum up
        plan = build_plan(load_mapping(tmp_path / "mapping.yaml"), StoreStaged(state),
                          target.kind)
        tickets = [(t, plan.map_ticket(t)) for t in state.iter_staged(Entity.TICKETS)]
        agents = {a.id: a.email.lower() for a in state.iter_staged(Entity.AGENTS)}
    finally:
        state.close()
    return plan_json, (plan, tickets, agents)


# -- what the plan says -------------------------------------------------------------------------
def _planned_members(plan_json: dict) -> dict[str, set[str]]:
    names = {g["key"]: g["name"] for g in plan_json["groups"]}
    out: dict[str, set[str]] = {name: set() for name in names.values()}
    for agent in plan_json["agents"]:
        for key in agent["groups"]:
            out[names[key]].add(agent["email"].lower())
    return out


def _planned_counts(plan_json: dict) -> dict[str, int]:
    return {g["name"]: g["tickets"] for g in plan_json["routing"]["per_group"] if g["tickets"]}


def _assert_tickets(target_tickets: dict[str, tuple[str | None, str | None]], mapped,
                    plan_json: dict, group_names: dict[str, str], agents: dict[str, str]) -> None:
    """Each migrated ticket sits in its planned group (and with its kept assignee)."""
    moved = [(src, out) for src, out in mapped if not (src.deleted or src.spam)]
    assert set(target_tickets) == {str(src.id) for src, _ in moved}
    for src, out in moved:
        group, assignee = target_tickets[str(src.id)]
        assert group == group_names[out.group_id], src.id
        assert assignee == (agents[out.assignee_id] if out.assignee_id else None), src.id
    landed = Counter(group for group, _ in target_tickets.values())
    assert dict(landed) == _planned_counts(plan_json)


# -- reading Freshdesk ------------------------------------------------------------------------
def _fd_pages(c: httpx.Client, path: str, **params: Any) -> Iterator[dict]:
    page = 1
    while True:
        response = c.get(path, params={**params, "per_page": 100, "page": page})
        rows = response.raise_for_status().json()
        yield from rows
        if len(rows) < 100:
            return
        page += 1


def _read_freshdesk(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, auth=(credentials("freshdesk")["api_key"], "X")) as c:
        roles = {r["id"]: r["name"] for r in c.get("/api/v2/roles").raise_for_status().json()}
        agents = {}
        for row in _fd_pages(c, "/api/v2/agents"):
            full = c.get(f"/api/v2/agents/{row['id']}").raise_for_status().json()
            agents[full["id"]] = {"email": full["contact"]["email"].lower(),
                                  "roles": {roles[r] for r in full["role_ids"]},
                                  "scope": SCOPES[full["ticket_scope"]]}
        groups = {}
        for row in _fd_pages(c, "/api/v2/groups"):
            g = c.get(f"/api/v2/groups/{row['id']}").raise_for_status().json()
            groups[g["id"]] = g
        tickets = {}
        for t in _fd_pages(c, "/api/v2/tickets", updated_since="2000-01-01T00:00:00Z"):
            source_id = next(v for k, v in t["custom_fields"].items()
                             if k.startswith("cf_migration_source_id"))
            tickets[str(source_id)] = (groups[t["group_id"]]["name"] if t["group_id"] else None,
                                       agents[t["responder_id"]]["email"]
                                       if t["responder_id"] else None)
    return {"agents": agents, "groups": groups, "tickets": tickets}


def test_mapping_roundtrip_zendesk_to_freshdesk(tmp_path, monkeypatch):
    source = start_sandbox("zendesk", seed=7, tickets=TICKETS)
    target = start_sandbox("freshdesk", seed=7, empty=True)
    try:
        plan_json, (plan, mapped, agents) = _journey(tmp_path, source, target, monkeypatch)
        got = _read_freshdesk(target.url)
    finally:
        source.stop()
        target.stop()
    assert plan_json["mapping"] == "Edited by the consultant"
    assert plan_json["target_read_at"] and {g["action"] for g in plan_json["groups"]} == {"create"}
    # the plan's Freshdesk roles are all built in, so the snapshot found them
    assert {r["action"] for r in plan_json["roles"]} == {"exists"}
    by_email = {a["email"]: aid for aid, a in got["agents"].items()}
    groups = {g["name"]: g for g in got["groups"].values()}
    # groups: exactly the plan's, with the plan's members and escalation settings
    assert set(groups) == {g["name"] for g in plan_json["groups"]}
    members = _planned_members(plan_json)
    for g in plan_json["groups"]:
        held = groups[g["name"]]
        assert {got["agents"][a]["email"] for a in held["agent_ids"]} == members[g["name"]]
        assert held["escalate_to"] == by_email[g["escalate_to"].lower()], g["name"]
        assert held["unassigned_for"] == g["unassigned_for"], g["name"]
    # roles and ticket scope per agent: the plan's tier role
    for a in plan_json["agents"]:
        held = got["agents"][by_email[a["email"].lower()]]
        assert held["roles"] == {a["role"]}, a["email"]
        assert held["scope"] == a["ticket_scope"], a["email"]
    assert any(t["tier"] == "l1" and t["name"] == "Frontline"
               for team in plan_json["org_chart"]["teams"] for t in team["tiers"])
    # tickets: each in its planned group with its kept assignee; counts per group as planned
    group_names = {g.id: g.name for g in plan.groups}
    _assert_tickets(got["tickets"], mapped, plan_json, group_names, agents)
    assert sum(_planned_counts(plan_json).values()) == len(got["tickets"])


# -- reading Zendesk ----------------------------------------------------------------------------
def _zd_pages(c: httpx.Client, path: str, key: str) -> Iterator[dict]:
    url: str | None = path
    while url:
        body = c.get(url).raise_for_status().json()
        yield from body[key]
        url = body.get("next_page")


def _read_zendesk(url: str) -> dict[str, Any]:
    cred = credentials("zendesk")
    with httpx.Client(base_url=url, auth=(f"{cred['email']}/token", cred["api_token"])) as c:
        custom = {r["id"]: r["name"] for r in
                  c.get("/api/v2/custom_roles").raise_for_status().json()["custom_roles"]}
        agents = {u["id"]: {"email": u["email"].lower(), "role": u["role"],
                            "custom_role": custom.get(u["custom_role_id"])}
                  for u in _zd_pages(c, "/api/v2/users?role[]=agent&role[]=admin", "users")}
        groups = {g["id"]: {"name": g["name"], "members": set()}
                  for g in _zd_pages(c, "/api/v2/groups", "groups")}
        for m in _zd_pages(c, "/api/v2/group_memberships", "group_memberships"):
            groups[m["group_id"]]["members"].add(agents[m["user_id"]]["email"])
        tickets = {t["external_id"]: (groups[t["group_id"]]["name"] if t["group_id"] else None,
                                      agents[t["assignee_id"]]["email"]
                                      if t["assignee_id"] else None)
                   for t in _zd_pages(c, "/api/v2/tickets", "tickets")}
    return {"agents": agents, "groups": groups, "tickets": tickets}


def _zendesk_target_with_custom_role():
    """An empty Zendesk account (agents as seats) on an Enterprise plan with one custom role."""
    company = target_account(build_company(seed=7, tickets=0))
    roles = [*company.roles, Role(id="9001", name=ZENDESK_CUSTOM_ROLE)]
    return start_sandbox("zendesk", company=dataclasses.replace(company, roles=roles))


def test_mapping_roundtrip_freshdesk_to_zendesk(tmp_path, monkeypatch):
    source = start_sandbox("freshdesk", seed=7, tickets=TICKETS)
    target = _zendesk_target_with_custom_role()
    try:
        plan_json, (plan, mapped, agents) = _journey(tmp_path, source, target, monkeypatch)
        got = _read_zendesk(target.url)
    finally:
        source.stop()
        target.stop()
    assert plan_json["mapping"] == "Edited by the consultant"
    assert plan_json["target_read_at"] and {g["action"] for g in plan_json["groups"]} == {"create"}
    roles = {r["role"]: r["action"] for r in plan_json["roles"]}
    assert roles[ZENDESK_CUSTOM_ROLE] == "exists" and roles.get("admin") == "built in"
    by_email = {a["email"]: a for a in got["agents"].values()}
    groups = {g["name"]: g for g in got["groups"].values()}
    assert set(groups) == {g["name"] for g in plan_json["groups"]}
    members = _planned_members(plan_json)
    for g in plan_json["groups"]:
        assert groups[g["name"]]["members"] == members[g["name"]], g["name"]
    # Zendesk groups hold no escalation settings: the plan says so instead of promising them
    assert any("no escalation settings" in line for line in plan_json["cannot_represent"])
    # roles: the custom role where the plan has one, else the built-in agent/admin
    assert any(a["custom_role"] == ZENDESK_CUSTOM_ROLE for a in plan_json["agents"])
    for a in plan_json["agents"]:
        held = by_email[a["email"].lower()]
        assert held["role"] == a["role"], a["email"]
        assert held["custom_role"] == a["custom_role"], a["email"]
    group_names = {g.id: g.name for g in plan.groups}
    _assert_tickets(got["tickets"], mapped, plan_json, group_names, agents)
