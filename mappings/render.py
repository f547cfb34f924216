"""``plan.json`` and ``plan.md``: sorted, no timestamps, so the same inputs give the same bytes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mappings.router import DEFAULT_RULE, rule_label
from mappings.schema import LEAD, MANAGER
from mappings.targets import role_rows

if TYPE_CHECKING:
    from mappings.plan import RestructurePlan

__all__ = ["plan_dict", "plan_json", "plan_markdown"]


def _who(plan: "RestructurePlan", agent_id: str | None) -> dict[str, str] | None:
    agent = next((a for a in plan.directory.agents if a.id == agent_id), None)
    return {"id": agent.id, "name": agent.name, "email": agent.email} if agent else None


def _org_chart(plan: "RestructurePlan") -> dict[str, Any]:
    m, pl = plan.mapping, plan.placements
    by_id = {a.id: a for a in plan.directory.agents}
    teams = []
    for key, team in m.teams.items():
        tiers = []
        for tier in m.tier_keys():
            members = pl.members(key, tier)
            if members and tier != LEAD:
                tiers.append({"tier": tier, "name": m.tier_name(tier),
                              "agents": sorted(by_id[a].email for a in members)})
        lead = pl.members(key, LEAD)
        teams.append({"key": key, "name": m.team_name(key), "product": team.product,
                      "location": team.location, "shared": team.shared,
                      "lead": _who(plan, lead[0]) if lead else None, "tiers": tiers,
                      "escalation": list(team.escalation)})
    manager = pl.members(None, MANAGER)
    return {"manager": _who(plan, manager[0]) if manager else None, "teams": teams}


def _routing(plan: "RestructurePlan") -> dict[str, Any]:
    p, m = plan.profile, plan.mapping
    counts = plan.ticket_counts()
    per_group = [{"group": g.id, "name": g.name, **counts[g.id],
                  "routed_by_rules": p.routed.get(tuple(g.id.split("/", 1)), 0)}
                 for g in plan.groups]
    rules = [{"rule": rule_label(i, m.tickets.routing), "tickets": p.rule_hits.get(i, 0)}
             for i in [*range(len(m.tickets.routing)), DEFAULT_RULE]]
    sources = [{"source_group": g, "tickets": n, "by_default": p.groups_by_default.get(g, 0)}
               for g, n in sorted(p.groups_seen.items())]
    return {"tickets": p.total, "per_group": per_group, "rules": rules, "source_groups": sources,
            "open_reassigned": _reassigned(plan)}


def _reassigned(plan: "RestructurePlan") -> dict[str, int]:
    pl, moved, left = plan.placements, 0, 0
    for (agent_id, team), count in plan.profile.open_by_assignee.items():
        places = [t for t, _ in pl.places.get(agent_id, []) if t is not None]
        if not places:
            left += count
        elif team not in places:
            moved += count
    policy = plan.mapping.tickets.open_tickets
    return {"assignee_changed_team": moved, "assignee_left": left,
            "policy_changed_team": policy.assignee_moved, "policy_left": policy.assignee_left}


def plan_dict(plan: "RestructurePlan") -> dict[str, Any]:
    """The plan as sorted plain data."""
    by_id = {a.id: a for a in plan.directory.agents}
    m = plan.mapping
    return {
        "mapping": m.name, "target": plan.target_type,
        "target_read_at": plan.existing.taken_at if plan.existing.known else None,
        "org_chart": _org_chart(plan),
        "groups": [{"key": g.id, "name": g.name, "members": len(plan.placements.members(
                        *g.id.split("/", 1))),
                    "escalate_to": by_id[g.escalate_to].email if g.escalate_to in by_id else None,
                    "escalates_to_group": g.extra.get("escalates_to_group"),
                    "unassigned_for": g.unassigned_for,
                    "action": plan.existing.action("groups", g.name)} for g in plan.groups],
        "roles": role_rows(plan),
        "agents": [{"email": a.email, "name": a.name, "tier": a.extra["tier"],
                    "team": a.extra["team"], "role": a.role, "custom_role": a.custom_role,
                    "ticket_scope": a.ticket_scope, "groups": a.group_ids,
                    "placed_by": a.extra.get("placed_by")}
                   for a in sorted(plan.agents, key=lambda a: a.email.lower())],
        "excluded": [{"email": by_id[i].email, "reason": r}
                     for i, r in sorted(plan.placements.excluded.items(),
                                        key=lambda x: by_id[x[0]].email.lower())],
        "routing": _routing(plan),
        "ticket_fields": [{"key": f.key, "title": f.title, "type": f.type,
                           "options": [o.value for o in f.options],
                           "action": plan.existing.action("ticket_fields", f.key, f.title)}
                          for f in plan.ticket_fields],
        "coverage": plan.profile.coverage.as_dict(),
        "warnings": plan.warnings,
        "cannot_represent": plan.cannot_represent(),
    }


def plan_json(plan: "RestructurePlan") -> str:
    """``plan.json`` text."""
    return json.dumps(plan_dict(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        text = ", ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v))
        return text.replace("|", "\\|")
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out + [""]


def plan_markdown(plan: "RestructurePlan") -> str:
    """``plan.md``: the plan for the client, readable, tables."""
    data = plan_dict(plan)
    lines = [f"# Restructuring plan: {data['mapping'] or 'mapping'}", "",
             f"Target: **{plan.target_type}**. Tickets in the staged data: "
             f"**{data['routing']['tickets']}**.", "", _md_target_read(plan), ""]
    lines += _md_org_chart(data["org_chart"])
    lines += ["## Target groups", ""] + _table(
        ["Group", "Members", "Escalates to", "Next group", "Unassigned for", "Action"],
        [[g["name"], g["members"], g["escalate_to"], g["escalates_to_group"], g["unassigned_for"],
          g["action"]] for g in data["groups"]])
    lines += ["## Target roles", ""] + _table(
        ["Role", "Tiers", "Agents", "Action"],
        [[r["role"], r["tiers"], r["agents"], r["action"]] for r in data["roles"]])
    lines += ["## Agents", ""] + _table(
        ["E-mail", "Tier", "Team", "Role", "Scope", "Groups", "Placed by"],
        [[a["email"], a["tier"], a["team"], a["custom_role"] or a["role"], a["ticket_scope"],
          a["groups"], a["placed_by"]] for a in data["agents"]])
    if data["excluded"]:
        lines += ["## Not migrated as agents", ""] + _table(
            ["E-mail", "Reason"], [[e["email"], e["reason"]] for e in data["excluded"]])
    lines += _md_routing(data["routing"])
    lines += _md_coverage(data["coverage"])
    if data["ticket_fields"]:
        lines += ["## Ticket fields in the target", ""] + _table(
            ["Key", "Title", "Type", "Options", "Action"],
            [[f["key"], f["title"], f["type"], f["options"], f["action"]]
             for f in data["ticket_fields"]])
    lines += ["## What the target cannot represent", ""]
    lines += [f"- {line}" for line in data["cannot_represent"]] + [""]
    lines += ["## Warnings", ""] + ([f"- {w}" for w in data["warnings"]] or ["- none"]) + [""]
    return "\n".join(lines)


def _md_target_read(plan: "RestructurePlan") -> str:
    ex = plan.existing
    if not ex.known:
        return ("The target was not read: run `migrator check` to snapshot its groups, roles "
                "and values, then plan again (until then actions say \"create or reuse\").")
    when = f" on {ex.taken_at}" if ex.taken_at else ""
    return (f"Target read{when} (`migrator check`): groups it has by name are reused, the "
            "others created; roles say whether they exist or must be created in the UI.")


def _md_org_chart(chart: dict[str, Any]) -> list[str]:
    lines = ["## Org chart", ""]
    manager = chart["manager"]
    lines.append(f"- **Support manager**: {manager['name']} <{manager['email']}>" if manager
                 else "- **Support manager**: none")
    for team in chart["teams"]:
        where = ", ".join(x for x in (team["product"], team["location"]) if x)
        lead = team["lead"]
        lines.append(f"  - **{team['name']}**{f' ({where})' if where else ''}"
                     f"{' — shared' if team['shared'] else ''}: lead "
                     f"{lead['name'] + ' <' + lead['email'] + '>' if lead else 'none'}")
        for tier in team["tiers"]:
            lines.append(f"    - {tier['name']} ({len(tier['agents'])}): "
                         f"{', '.join(tier['agents'])}")
        if team["escalation"]:
            lines.append(f"    - escalation: {' → '.join(team['escalation'])}")
    return lines + [""]


def _md_routing(routing: dict[str, Any]) -> list[str]:
    lines = ["## Ticket routing", "",
             "Tickets: what the group will hold (routing rules, then the open-ticket policy). "
             "Deleted/spam: not moved unless options.include_deleted / include_spam.", ""]
    lines += _table(["Group", "Tickets", "Open", "Routed by the rules", "Deleted/spam"],
                    [[g["name"], g["tickets"], g["open"], g["routed_by_rules"], g["not_moved"]]
                     for g in routing["per_group"]])
    lines += _table(["Rule", "Tickets"], [[r["rule"], r["tickets"]] for r in routing["rules"]])
    lines += _table(["Source group", "Tickets", "Routed by default"],
                    [[s["source_group"], s["tickets"], s["by_default"]]
                     for s in routing["source_groups"]])
    r = routing["open_reassigned"]
    lines += [f"Open tickets whose assignee changes team: {r['assignee_changed_team']} "
              f"(policy: {r['policy_changed_team']}); whose assignee is not migrated: "
              f"{r['assignee_left']} (policy: {r['policy_left']}).", ""]
    return lines


def _md_coverage(coverage: dict[str, Any]) -> list[str]:
    rows = []
    for name, values in coverage.items():
        for value, hows in values.items():
            rows.append([name, value, ", ".join(f"{h} {n}" for h, n in hows.items())])
    return ["## Value-map coverage", ""] + _table(["Map", "Source value", "Tickets"], rows)
