"""``mapping diff``: what changes between two mapping versions, in plan terms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migrator.models import Entity

from mappings.staged import StagedData

if TYPE_CHECKING:
    from mappings.plan import RestructurePlan

__all__ = ["diff_plans", "render_diff"]


def _placements(plan: "RestructurePlan") -> dict[str, str]:
    out = {}
    for agent in plan.directory.agents:
        places = plan.placements.places.get(agent.id)
        out[agent.email] = ("excluded" if not places else
                            ", ".join(f"{t or '-'}/{r}" for t, r in places))
    return out


def diff_plans(old: "RestructurePlan", new: "RestructurePlan",
               staged: StagedData) -> dict[str, Any]:
    """Agents moving tier or team, tickets rerouted (one pass), groups added or removed."""
    before, after = _placements(old), _placements(new)
    agents = [{"email": e, "before": before.get(e), "after": after.get(e)}
              for e in sorted(set(before) | set(after)) if before.get(e) != after.get(e)]
    old_groups = {g.id: g.name for g in old.groups}
    new_groups = {g.id: g.name for g in new.groups}
    rerouted: dict[tuple[str, str], int] = {}
    total = 0
    for t in staged.iter(Entity.TICKETS):
        a, b = "/".join(old.route(t)), "/".join(new.route(t))
        if a != b:
            rerouted[(a, b)] = rerouted.get((a, b), 0) + 1
            total += 1
    return {
        "agents_moved": agents,
        "groups_added": [{"key": k, "name": new_groups[k]} for k in sorted(set(new_groups)
                                                                          - set(old_groups))],
        "groups_removed": [{"key": k, "name": old_groups[k]} for k in sorted(set(old_groups)
                                                                            - set(new_groups))],
        "groups_renamed": [{"key": k, "before": old_groups[k], "after": new_groups[k]}
                           for k in sorted(set(old_groups) & set(new_groups))
                           if old_groups[k] != new_groups[k]],
        "tickets_rerouted": total,
        "reroutes": [{"from": a, "to": b, "tickets": n} for (a, b), n in sorted(rerouted.items())],
    }


def render_diff(diff: dict[str, Any]) -> str:
    """The diff as readable lines."""
    lines = []
    for a in diff["agents_moved"]:
        lines.append(f"agent {a['email']}: {a['before']} -> {a['after']}")
    for g in diff["groups_added"]:
        lines.append(f"group added: {g['name']} ({g['key']})")
    for g in diff["groups_removed"]:
        lines.append(f"group removed: {g['name']} ({g['key']})")
    for g in diff["groups_renamed"]:
        lines.append(f"group renamed: {g['before']} -> {g['after']} ({g['key']})")
    for r in diff["reroutes"]:
        lines.append(f"tickets rerouted {r['from']} -> {r['to']}: {r['tickets']}")
    lines.append(f"{len(diff['agents_moved'])} agent(s) move, {diff['tickets_rerouted']} "
                 f"ticket(s) rerouted, {len(diff['groups_added'])} group(s) added, "
                 f"{len(diff['groups_removed'])} removed.")
    return "\n".join(lines) + "\n"
