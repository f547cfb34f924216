"""Semantic checks of a mapping against the staged data (agents, groups, values seen)."""

from __future__ import annotations

from mappings.directory import OPTION_TYPES, Directory
from mappings.issues import Issue, did_you_mean
from mappings.placement import Placements
from mappings.profile import TicketProfile
from mappings.schema import LEAD, MANAGER, Mapping
from mappings.validate import parse_step

__all__ = ["data_issues"]


def data_issues(m: Mapping, d: Directory, p: TicketProfile, pl: Placements) -> list[Issue]:
    """Every problem the staged data reveals, errors and warnings."""
    return (_email_issues(m, d, pl) + _group_issues(m, d) + _role_issues(m, d)
            + _lead_issues(m, d, pl) + _escalation_issues(m, pl) + _routing_issues(m, d, p, pl)
            + _value_issues(m, d, p))


def _unknown_email(path: tuple, email: str, emails: dict) -> list[Issue]:
    if email.lower() in emails:
        return []
    return [Issue(path, f"no agent with e-mail {email} in the staged data",
                  hint=did_you_mean(email.lower(), emails) or "check the spelling, or run "
                  "`migrator export` if the agent was added since")]


def _email_issues(m: Mapping, d: Directory, pl: Placements) -> list[Issue]:
    emails = d.agent_by_email()
    issues = []
    if m.manager:
        issues += _unknown_email(("manager",), m.manager, emails)
    for key, team in m.teams.items():
        issues += _unknown_email(("teams", key, "lead"), team.lead, emails)
    for email in m.agents.multi_role:
        issues += _unknown_email(("agents", "multi_role", email), email, emails)
    for i, email in enumerate(m.agents.exclude.emails):
        issues += _unknown_email(("agents", "exclude", "emails", i), email, emails)
    for r, rule in enumerate(m.agents.rules):
        for i, email in enumerate(rule.when.emails):
            issues += _unknown_email(("agents", "rules", r, "when", "emails", i), email, emails)
    return issues


def _group_lists(m: Mapping):
    yield ("agents", "exclude", "source_groups"), m.agents.exclude.source_groups
    for r, rule in enumerate(m.agents.rules):
        yield ("agents", "rules", r, "when", "source_groups"), rule.when.source_groups
    for r, route in enumerate(m.tickets.routing):
        yield ("tickets", "routing", r, "when", "source_groups"), route.when.source_groups


def _group_issues(m: Mapping, d: Directory) -> list[Issue]:
    names = {n.lower(): n for n in d.group_names()}
    issues = []
    for path, groups in _group_lists(m):
        for i, name in enumerate(groups):
            if name.lower() not in names:
                issues.append(Issue(path + (i,), f"no source group named {name!r}",
                                    hint=did_you_mean(name, names.values())
                                    or f"groups: {', '.join(sorted(names.values()))}"))
    return issues


def _role_issues(m: Mapping, d: Directory) -> list[Issue]:
    roles = {a.role for a in d.agents}
    customs = {a.custom_role for a in d.agents if a.custom_role}
    lists = [(("agents", "exclude"), m.agents.exclude)] + [
        (("agents", "rules", r, "when"), rule.when) for r, rule in enumerate(m.agents.rules)]
    issues = []
    for base, cond in lists:
        for name, known in (("source_roles", roles), ("custom_roles", customs)):
            for i, value in enumerate(getattr(cond, name)):
                if value.lower() not in {k.lower() for k in known}:
                    what = name[:-1].replace("_", " ")
                    issues.append(Issue(base + (name, i), f"no agent has the {what} {value!r}",
                                        warning=True,
                                        hint=did_you_mean(value, known)
                                        or f"seen: {', '.join(sorted(known)) or 'none'}"))
    return issues


def _lead_issues(m: Mapping, d: Directory, pl: Placements) -> list[Issue]:
    by_id = {a.id: a for a in d.agents}
    emails = d.agent_by_email()
    issues = []
    for key, team in m.teams.items():
        lead = emails.get(team.lead.lower())
        path = ("teams", key, "lead")
        if lead is not None and lead.id in pl.excluded:
            issues.append(Issue(path, f"the lead {team.lead} is excluded "
                                      f"({pl.excluded[lead.id]})",
                                hint="remove them from agents.exclude or choose another lead"))
        leads = pl.members(key, LEAD)
        if len(leads) > 1:
            who = ", ".join(f"{by_id[a].email} ({pl.why[a]})" for a in leads)
            issues.append(Issue(path, f"team {key} has {len(leads)} leads: {who}",
                                hint="every team has exactly one lead; place the others in "
                                     "another tier"))
        if lead is not None and not lead.active:
            issues.append(Issue(path, f"the lead {team.lead} is inactive in the source",
                                warning=True))
    manager = emails.get((m.manager or "").lower())
    if manager is not None and manager.id in pl.excluded:
        issues.append(Issue(("manager",), f"the manager {m.manager} is excluded "
                                          f"({pl.excluded[manager.id]})"))
    return issues


def _escalation_issues(m: Mapping, pl: Placements) -> list[Issue]:
    issues = []
    for key, team in m.teams.items():
        if not team.escalation:
            continue
        last = len(team.escalation) - 1
        for i, step in enumerate(team.escalation):
            target = parse_step(step, key)
            if pl.members(*target) or target[1] == MANAGER and pl.members(None, MANAGER):
                continue
            path = ("teams", key, "escalation", i)
            if i == last:
                issues.append(Issue(path, f"the escalation path ends in {step!r}, which has no "
                                          "people", hint="place agents in that tier (agent "
                                                         "rules) or end the path elsewhere"))
            else:
                issues.append(Issue(path, f"step {step!r} has no people", warning=True))
    return issues


def _routing_issues(m: Mapping, d: Directory, p: TicketProfile, pl: Placements) -> list[Issue]:
    issues = []
    targets = [(("tickets", "routing", i, "to"), r.to) for i, r in enumerate(m.tickets.routing)]
    targets.append((("tickets", "default"), m.tickets.default))
    for path, to in targets:
        if not pl.members(to.team, to.tier):
            issues.append(Issue(path, f"routes tickets to {to.team}/{to.tier}, which has no "
                                      "people", warning=True))
    for i, route in enumerate(m.tickets.routing):
        if p.total and not p.rule_hits.get(i):
            issues.append(Issue(("tickets", "routing", i), "no staged ticket matches this rule",
                                warning=True))
        for title in route.when.fields:
            titles = {f.title.lower() for f in d.fields.values()} | set(d.fields)
            if title.lower() not in titles and title not in titles:
                issues.append(Issue(("tickets", "routing", i, "when", "fields", title),
                                    f"no source field titled {title!r}",
                                    hint=did_you_mean(title, [f.title for f in
                                                              d.fields.values()])))
    return issues


def _value_issues(m: Mapping, d: Directory, p: TicketProfile) -> list[Issue]:
    issues = []
    for name in ("status", "priority", "type"):
        for value, count in p.coverage.unmapped(name).items():
            issues.append(Issue(("values", name, "map"), f"{name} {value!r} is used by {count} "
                                f"ticket(s) but not mapped (strict)",
                                hint=f"add `{value}: <target {name}>` to the map"))
    by_title = {k.lower(): k for k in m.values.fields}
    for key in sorted(d.fields):
        title = d.field_title(key)
        name = by_title.get(title.lower()) or (key if key in m.values.fields else None)
        if name is None:
            continue
        fm = m.values.fields[name]
        option = d.field_type(key) in OPTION_TYPES and not fm.drop
        if option and not fm.fallbacks():
            issues.append(Issue(("values", "fields", name), f"option field {title!r} needs a "
                                "fallback for options the map does not list",
                                hint="add `default: <option>`, `keep_unmapped: true` or "
                                     "`strict: true`"))
        for value, count in p.coverage.unmapped(f"field:{title}").items():
            issues.append(Issue(("values", "fields", name, "map"), f"option {value!r} of "
                                f"{title!r} is used by {count} ticket(s) but not mapped",
                                hint=f"add `{value}: <target option>` to the map"))
    if m.values.other_fields == "strict":
        for key, count in sorted(p.unlisted_fields.items()):
            title = d.field_title(key)
            issues.append(Issue(("values", "fields"), f"field {title!r} has values in {count} "
                                "ticket(s) but is not in the mapping",
                                hint=f"add `{title}:` under values.fields (with `drop: true` to "
                                     "leave it out), or set values.other_fields: drop"))
    return issues
