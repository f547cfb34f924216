"""``mapping scaffold``: a starter mapping from the staged data, each suggestion with its evidence.

Suggested tiers come from what the data shows: source role and custom role, the groups an agent
works in, how often tickets were handed to or from them (ticket_events on assignee), and how many
of their tickets carry technical tags. The consultant confirms or edits; the file validates as
written against the same data.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

from migrator.models import Agent, Entity

from mappings.directory import OPTION_TYPES, Directory, field_value_keys
from mappings.staged import StagedData
from mappings.target_values import BUILTIN_VALUES

__all__ = ["scaffold", "Evidence", "TECH_TAGS"]

TECH_TAGS = frozenset({"firmware", "server-error", "server_error", "api", "webhook", "5xx",
                       "crash", "bug", "outage", "integration", "hub-fw"})
_ESCALATION_WORDS = ("tier 2", "tier2", "level 2", "l2", "escalation", "advanced")
_TECH_WORDS = ("tech", "engineer", "developer", "backend")


def _q(value: object) -> str:
    """A YAML scalar: JSON quoting is valid YAML and keeps any text safe."""
    return json.dumps(value, ensure_ascii=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "team"


@dataclass
class Evidence:
    """What the data says about one agent."""

    assigned: int = 0
    technical: int = 0
    handed_to: int = 0  # assignee changed to them
    handed_from: int = 0  # assignee changed away from them
    tags: Counter = field(default_factory=Counter)


ANY = object()  # a free-text field's values are counted, not kept (they grow with tickets)


def _gather(staged: StagedData, options: frozenset[str] = frozenset()
            ) -> tuple[dict[str, Evidence], Counter, Counter, Counter, dict[str, Counter]]:
    """Evidence per agent and values seen; per field, each value of an option field (keys in
    ``options``) or, for the others, only how many values there are."""
    ev: dict[str, Evidence] = {}
    statuses, priorities, types = Counter(), Counter(), Counter()
    fields: dict[str, Counter] = {}
    for t in staged.iter(Entity.TICKETS):
        statuses[t.status] += 1
        if t.priority:
            priorities[t.priority] += 1
        if t.type:
            types[t.type] += 1
        for key, value in t.custom_fields.items():
            for v in value if isinstance(value, list) else [value]:
                if v is not None and v != "":
                    fields.setdefault(key, Counter())[
                        ANY if key not in options else
                        v if not isinstance(v, bool) else str(v).lower()] += 1
        if t.assignee_id:
            e = ev.setdefault(t.assignee_id, Evidence())
            e.assigned += 1
            e.technical += bool(TECH_TAGS & set(t.tags))
    for event in staged.iter(Entity.TICKET_EVENTS):
        if event.field == "assignee_id":
            if event.value:
                ev.setdefault(event.value, Evidence()).handed_to += 1
            if event.previous:
                ev.setdefault(event.previous, Evidence()).handed_from += 1
    return ev, statuses, priorities, types, fields


def _suggest(a: Agent, groups: list[str], e: Evidence) -> tuple[str, str]:
    """(tier, evidence sentence) for one agent."""
    facts = [f"role {a.role}"] + ([f"custom role {a.custom_role}"] if a.custom_role else [])
    facts += [f"groups {', '.join(groups) or 'none'}", f"{e.assigned} tickets",
              f"{e.technical} technical", f"handed to them {e.handed_to}x, "
              f"from them {e.handed_from}x"]
    text = " ".join([a.role, a.custom_role or "", *a.tags]).lower()
    low_groups = " ".join(groups).lower()
    if a.role in ("admin", "Administrator", "Account Administrator") or "manager" in text:
        tier = "manager"
    elif "lead" in text or "supervisor" in text:
        tier = "lead"
    elif any(w in low_groups or w in text for w in _TECH_WORDS) or (
            e.assigned and e.technical * 2 > e.assigned):
        tier = "engineer"
    elif any(w in low_groups for w in _ESCALATION_WORDS) or any(
            w in text for w in ("advisor", "senior", "specialist")):
        tier = "l2"
    else:
        tier = "l1"
    return tier, "; ".join(facts)


def _teams(d: Directory) -> dict[str, tuple[str, list[str]]]:
    """Team key -> (name, source group names) proposed from products, else from groups."""
    live = sorted(g.name for g in d.groups.values() if not g.deleted)
    plain = [g for g in live if not any(w in g.lower() for w in _ESCALATION_WORDS + _TECH_WORDS)]
    teams: dict[str, tuple[str, list[str]]] = {}
    for product in sorted(set(d.products.values())):
        words = {w for w in re.findall(r"[a-z0-9]+", product.lower()) if len(w) > 2}
        groups = [g for g in plain if words & set(re.findall(r"[a-z0-9]+", g.lower()))]
        if groups:
            teams[_slug(product)] = (product, groups)
    taken = {g for _, gs in teams.values() for g in gs}
    for g in plain:
        if g not in taken:
            teams[_slug(g)] = (g, [g])
    return teams or {"support": ("Support", [])}


def _team_of(groups: list[str], teams: dict[str, tuple[str, list[str]]]) -> str:
    for key, (_, team_groups) in teams.items():
        if set(groups) & set(team_groups):
            return key
    return next(iter(teams))


@dataclass
class _Draft:
    """The suggestions before they are written out."""

    tiers: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id -> tier, team, why
    manager: Agent | None = None
    leads: dict[str, Agent] = field(default_factory=dict)
    teams: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    inactive: list[Agent] = field(default_factory=list)


def _draft(d: Directory, ev: dict[str, Evidence]) -> _Draft:
    dr = _Draft(teams=_teams(d))
    for a in d.agents:
        if not a.active or a.suspended:
            dr.inactive.append(a)
            continue
        groups = [d.group_name(g) or g for g in a.group_ids]
        tier, why = _suggest(a, groups, ev.get(a.id, Evidence()))
        if tier == "engineer":
            dr.teams.setdefault("engineering", ("Engineering", []))
            team = "engineering"
        else:
            team = _team_of(groups, {k: v for k, v in dr.teams.items() if k != "engineering"}
                            or dr.teams)
        if tier == "manager" and dr.manager is None:
            dr.manager = a
        dr.tiers[a.id] = (("lead" if tier == "manager" and dr.manager is not a else tier),
                          team, why)
    _choose_leads(d, dr)
    return dr


def _choose_leads(d: Directory, dr: _Draft) -> None:
    by_id = {a.id: a for a in d.agents}
    for key in list(dr.teams):
        members = [i for i, (t, tm, _) in dr.tiers.items() if tm == key and t != "manager"]
        ranked = sorted(members, key=lambda i: (dr.tiers[i][0] != "lead",
                                                dr.tiers[i][0] != "l2", by_id[i].email))
        if not ranked:
            del dr.teams[key]
            continue
        lead = by_id[ranked[0]]
        dr.leads[key] = lead
        tier, team, why = dr.tiers[lead.id]
        dr.tiers[lead.id] = ("lead", key, why + ("" if tier == "lead" else
                                                 f"; suggested {tier}, chosen as the team's lead"))
    for i, (tier, team, why) in list(dr.tiers.items()):
        if tier == "lead" and dr.leads.get(team) is not by_id[i]:
            dr.tiers[i] = ("l2", team if team in dr.teams else next(iter(dr.teams)),
                           why + "; a second lead candidate, placed as l2")
        elif team not in dr.teams:
            dr.tiers[i] = (tier, next(iter(dr.teams)), why)
    if dr.manager is None and len(dr.teams) > 1:
        spare = [i for i, (t, _, _) in dr.tiers.items() if t in ("l2", "l1")]
        if spare:
            dr.manager = by_id[sorted(spare, key=lambda i: (-len(by_id[i].group_ids), i))[0]]
            tier, team, why = dr.tiers[dr.manager.id]
            dr.tiers[dr.manager.id] = ("manager", team, why + "; no admin in the source: "
                                       "suggested as manager (works in the most groups)")
    if dr.manager is not None:
        dr.tiers[dr.manager.id] = ("manager", "", dr.tiers[dr.manager.id][2])


def scaffold(staged: StagedData, *, target_type: str = "freshdesk", name: str = "") -> str:
    """The starter mapping as YAML text (with comments)."""
    d = Directory.load(staged)
    ev, statuses, priorities, types, seen_fields = _gather(staged, frozenset(
        k for k, f in d.fields.items() if f.type in OPTION_TYPES))
    dr = _draft(d, ev)
    out = ["# Starter mapping written by `migrator mapping scaffold` from the staged data.",
           "# Every suggestion carries its evidence as a comment: confirm or change it, then run",
           "# `migrator mapping validate` and `migrator plan`.", "version: 1",
           f"name: {_q(name or 'Starter mapping')}", "", "naming:", "  group: \"{team} · {tier}\"",
           ""]
    if dr.manager is not None:
        out.append(f"manager: {_q(dr.manager.email)}   # {dr.tiers[dr.manager.id][2]}")
    out += _teams_yaml(d, dr) + _agents_yaml(dr, d) + _tickets_yaml(d, dr)
    out += _values_yaml(d, target_type, statuses, priorities, types, seen_fields)
    return "\n".join(out) + "\n"


def _has(dr: _Draft, team: str, tier: str) -> bool:
    return any(t == tier and tm == team for t, tm, _ in dr.tiers.values())


def _teams_yaml(d: Directory, dr: _Draft) -> list[str]:
    out = ["", "teams:"]
    for key, (title, groups) in dr.teams.items():
        path = [t for t in ("l1", "l2") if _has(dr, key, t)]
        if key != "engineering" and "engineering" in dr.teams and _has(dr, "engineering",
                                                                       "engineer"):
            path.append("engineering/engineer")
        out += [f"  {key}:", f"    name: {_q(title)}",
                f"    # proposed from the source groups: {', '.join(groups) or 'none'}"]
        if key == "engineering":
            out.append("    shared: true")
        lead = dr.leads[key]
        out.append(f"    lead: {_q(lead.email)}   # {dr.tiers[lead.id][2]}")
        if len(path) > 1:
            out.append(f"    escalation: [{', '.join(path)}]")
    return out


def _agents_yaml(dr: _Draft, d: Directory) -> list[str]:
    out = ["", "agents:", "  exclude:", "    inactive: true   # deactivated or suspended: "
           + (", ".join(a.email for a in dr.inactive) or "none seen"), "  rules:"]
    by_id = {a.id: a for a in d.agents}
    buckets: dict[tuple[str, str], list[str]] = {}
    for i, (tier, team, _) in sorted(dr.tiers.items()):
        if tier not in ("lead", "manager"):
            buckets.setdefault((team, tier), []).append(i)
    for (team, tier), ids in sorted(buckets.items()):
        out += [f"    - name: {_q(f'{tier} of {team} (suggested)')}", "      when:",
                "        emails:"]
        out += [f"          - {_q(by_id[i].email)}   # {dr.tiers[i][2]}"
                for i in sorted(ids, key=lambda i: by_id[i].email)]
        out += [f"      tier: {tier}", f"      team: {team}"]
    if not buckets:
        out[-1] = "  rules: []"
    first = next(iter(dr.teams))
    return out + [f"  default: {{tier: l1, team: {first}}}"]


def _tickets_yaml(d: Directory, dr: _Draft) -> list[str]:
    out = ["", "tickets:", "  routing:"]
    first = next(iter(dr.teams))
    rules = 0
    for key, (_, groups) in dr.teams.items():
        tier = "l1" if _has(dr, key, "l1") else ("engineer" if key == "engineering" else "lead")
        if groups:
            out += [f"    - when: {{source_groups: [{', '.join(_q(g) for g in groups)}]}}",
                    f"      to: {{team: {key}, tier: {tier}}}"]
            rules += 1
    taken = {g for _, gs in dr.teams.values() for g in gs}
    for g in sorted(g.name for g in d.groups.values() if not g.deleted and g.name not in taken):
        low = g.lower()
        if any(w in low for w in _TECH_WORDS) and _has(dr, "engineering", "engineer"):
            target = ("engineering", "engineer")
        else:
            l2 = [k for k in dr.teams if _has(dr, k, "l2")]
            target = (l2[0], "l2") if l2 else (first, "lead")
        out += [f"    - when: {{source_groups: [{_q(g)}]}}   # escalation queue",
                f"      to: {{team: {target[0]}, tier: {target[1]}}}"]
        rules += 1
    if not rules:
        out[-1] = "  routing: []"
    tier = "l1" if _has(dr, first, "l1") else "lead"
    return out + [f"  default: {{team: {first}, tier: {tier}}}", "  open_tickets:",
                  "    assignee_moved: keep", "    assignee_left: team_lead",
                  "  add_tags: [migrated]"]


def _suggest_value(name: str, value: str, target_type: str) -> tuple[str, str]:
    """(target value, note) for a source value: itself when the target holds it."""
    allowed = BUILTIN_VALUES[target_type][name]
    if not allowed or value.lower() in allowed:
        return value, ""
    guess = {"new": "open", "hold": "pending"}.get(value.lower())
    guess = guess or ("pending" if name == "status" else allowed[0])
    return guess, f"; {target_type} has no {name} {value!r}: choose one of {', '.join(allowed)}"


def _values_yaml(d: Directory, target_type: str, statuses: Counter, priorities: Counter,
                 types: Counter, seen_fields: dict[str, Counter]) -> list[str]:
    out = ["", "values:"]
    for name, seen in (("status", statuses), ("priority", priorities), ("type", types)):
        out += [f"  {name}:", "    strict: true"]
        rows = []
        for v, n in sorted(seen.items()):
            target, note = _suggest_value(name, str(v), target_type)
            rows.append(f"      {_q(v)}: {_q(target)}   # {n} tickets{note}")
        out += (["    map:"] + rows) if seen else ["    map: {}"]
    out.append("  fields:")
    for key in sorted(d.fields, key=lambda k: d.field_title(k).lower()):
        tf = d.fields[key]
        seen = seen_fields.get(key, Counter())
        out.append(f"    {_q(tf.title)}:   # {tf.type}, values in {sum(seen.values())} tickets")
        if not tf.active:
            out.append("      drop: true   # inactive in the source")
            continue
        out.append(f"      target: {_q(_slug(tf.title))}")
        if tf.type in OPTION_TYPES:
            labels = {v: field_value_keys(v, tf)[-1] for v in seen}
            out += ["      strict: true", "      map:" if seen else "      map: {}"]
            out += [f"        {_q(labels[v])}: {_q(labels[v])}   # {n} tickets"
                    for v, n in sorted(seen.items(), key=lambda x: str(x[0]))]
    if not d.fields:
        out[-1] = "  fields: {}"
    return out + ["  other_fields: drop   # fields with no entry above are left out"]
