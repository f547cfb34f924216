"""Load a mapping file into the frozen models and check it, naming file:line:column for each problem.

Three layers, each adding :class:`~mappings.issues.Issue` objects:
1. YAML (``loader``): syntax, encoding, size, duplicate keys.
2. Schema (pydantic): unknown keys (with "did you mean"), wrong types, missing keys.
3. Cross references (here, no data needed) and checks against staged data (``checks``).
"""

from __future__ import annotations

import string
import typing
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from mappings.issues import Issue, MappingInvalid, did_you_mean
from mappings.loader import Located, parse_yaml, read_yaml
from mappings.schema import LEAD, MANAGER, Mapping, resolved_tiers

__all__ = ["load_mapping", "mapping_from_text", "static_issues", "place", "raise_if_errors",
           "parse_step"]

_TYPE_WORDS = {"string_type": "text", "int_type": "a whole number", "bool_type": "true or false",
               "dict_type": "a mapping (key: value lines)", "list_type": "a list (- item lines)",
               "model_type": "a mapping (key: value lines)", "float_type": "a number",
               "int_parsing": "a whole number", "bool_parsing": "true or false"}
_NAMING_FIELDS = ("team", "tier", "team_key", "tier_key")


def load_mapping(path: str | Path) -> Mapping:
    """Read, parse and check a mapping file; any problem raises :class:`MappingInvalid`."""
    return _from_located(read_yaml(path))


def mapping_from_text(text: str | bytes, name: str = "mapping.yaml") -> Mapping:
    """Like :func:`load_mapping` for text held in memory (tests, editors)."""
    return _from_located(parse_yaml(text, name))


def _from_located(located: Located) -> Mapping:
    data = located.data
    if not isinstance(data, dict):
        raise MappingInvalid(located.file, [Issue((), (
            f"expected a mapping with sections such as `teams`, `agents`, `tickets`, `values`; "
            f"got {_kind(data)}"), hint="see mappings/examples/ for the layout",
            line=located.where(())[0], col=located.where(())[1])])
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        issues = [_from_pydantic(err, data) for err in exc.errors()]
        raise MappingInvalid(located.file, place(issues, located)) from None
    mapping._source = located
    raise_if_errors(mapping, static_issues(mapping))
    return mapping


def place(issues: Iterable[Issue], located: Located | None) -> list[Issue]:
    """Give each issue the line and column of its path in the file."""
    if located is None:
        return list(issues)
    out = []
    for issue in issues:
        path, key = issue.path, bool(issue.path) and issue.message.startswith(
            ("unknown key", "duplicate"))
        if issue.message.startswith("missing required key") and path:
            path, key = path[:-1], True  # point at the section that lacks it
        line, col = located.where(path, key=key)
        out.append(issue.located(line, col))
    return out


def raise_if_errors(mapping: Mapping, issues: list[Issue]) -> None:
    """Raise :class:`MappingInvalid` when ``issues`` holds an error (warnings pass)."""
    errors = [i for i in issues if not i.warning]
    if errors:
        located = mapping._source
        raise MappingInvalid(located.file if located else "mapping", place(errors, located))


# -- pydantic errors -> issues -------------------------------------------------------------
def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"the text {str(value)[:40]!r}",
            bool: f"{str(value).lower()}", int: f"the number {value}",
            float: f"the number {value}"}.get(type(value), type(value).__name__)


def _from_pydantic(err: dict, data: Any) -> Issue:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return Issue(loc, f"unknown key `{loc[-1]}`",
                     hint=did_you_mean(loc[-1], allowed) or
                     (f"expected one of: {', '.join(sorted(allowed))}" if allowed else None))
    if kind == "missing":
        return Issue(loc, f"missing required key `{loc[-1]}`",
                     hint=_missing_hint(loc))
    got = _value_at(data, loc)
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return Issue(loc, f"expected one of {expected}; got {_kind(got)}",
                     hint=did_you_mean(got, [e.strip(" '") for e in expected.replace(" or ", ",")
                                            .split(",")]))
    if kind == "too_short":
        return Issue(loc, "needs at least one entry", hint=_missing_hint(loc))
    if kind in _TYPE_WORDS:
        return Issue(loc, f"expected {_TYPE_WORDS[kind]}, got {_kind(got)}")
    message = err["msg"].removeprefix("Value error, ")
    return Issue(loc, message[:1].lower() + message[1:])


def _value_at(data: Any, loc: tuple) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _missing_hint(loc: tuple) -> str | None:
    hints = {"lead": "every team needs exactly one lead: the e-mail of its team lead",
             "default": "write what happens to everything no rule matches",
             "teams": "list at least one team", "status": "map the source statuses",
             "priority": "map the source priorities", "type": "map the source ticket types"}
    return hints.get(str(loc[-1]))


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the model at ``loc`` accepts (for "did you mean")."""
    tp: Any = Mapping
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) in (dict, list):
            tp = typing.get_args(tp)[-1]
        else:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _unwrap(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return args[0] if args else tp
    return tp


# -- cross references (no data) -----------------------------------------------------------
def parse_step(step: str, team: str) -> tuple[str, str]:
    """An escalation step ``tier`` or ``team/tier`` -> ``(team, tier)``."""
    if "/" in step:
        other, tier = step.split("/", 1)
        return other.strip(), tier.strip()
    return team, step.strip()


def static_issues(m: Mapping) -> list[Issue]:
    """Problems visible from the file alone: unknown tiers and teams, fallbacks, naming, leads."""
    issues: list[Issue] = []
    issues += _fallback_issues(m)
    issues += _naming_issues(m)
    issues += _team_issues(m)
    issues += _agent_issues(m)
    for i, route in enumerate(m.tickets.routing):
        issues += _target_issues(m, ("tickets", "routing", i, "to"), route.to.team, route.to.tier)
    issues += _target_issues(m, ("tickets", "default"), m.tickets.default.team,
                             m.tickets.default.tier)
    return issues


def _fallback_issues(m: Mapping) -> list[Issue]:
    issues = []
    for name in ("status", "priority", "type"):
        if not getattr(m.values, name).fallbacks():
            issues.append(Issue(("values", name), (
                "needs an explicit fallback for values the map does not list"),
                hint="add `default: <value>`, `keep_unmapped: true` or `strict: true`"))
    return issues


def _naming_issues(m: Mapping) -> list[Issue]:
    path = ("naming", "group")
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(m.naming.group) if f is not None]
    except ValueError as exc:
        return [Issue(path, f"pattern is not valid ({exc})", hint="write e.g. '{team} · {tier}'")]
    issues = [Issue(path, f"unknown placeholder {{{n}}}", hint=did_you_mean(n, _NAMING_FIELDS)
                    or f"use {', '.join('{' + f + '}' for f in _NAMING_FIELDS)}")
              for n in names if n not in _NAMING_FIELDS]
    if not issues and not {"team", "team_key"} & set(names) and len(m.teams) > 1:
        issues.append(Issue(path, "pattern has no {team}: groups of different teams would "
                                  "get the same name", hint="write e.g. '{team} · {tier}'"))
    if not issues and not {"tier", "tier_key"} & set(names):
        issues.append(Issue(path, "pattern has no {tier}: the tiers of a team would get the "
                                  "same group name", hint="write e.g. '{team} · {tier}'"))
    return issues


def _tier_issue(m: Mapping, path: tuple, tier: str) -> list[Issue]:
    tiers = resolved_tiers(m)
    if tier in tiers:
        return []
    return [Issue(path, f"unknown tier `{tier}`", hint=did_you_mean(tier, tiers)
                  or f"known tiers: {', '.join(tiers)}; add it under `tiers:`")]


def _team_issue(m: Mapping, path: tuple, team: str | None, tier: str) -> list[Issue]:
    if team is None:
        if tier == MANAGER:
            return []
        return [Issue(path, "missing `team` (only the manager tier sits above teams)",
                      hint=f"teams: {', '.join(m.teams)}")]
    if team in m.teams:
        return []
    return [Issue(path, f"unknown team `{team}`", hint=did_you_mean(team, m.teams)
                  or f"known teams: {', '.join(m.teams)}")]


def _target_issues(m: Mapping, path: tuple, team: str | None, tier: str) -> list[Issue]:
    return (_team_issue(m, path + ("team",), team, tier)
            + _tier_issue(m, path + ("tier",), tier))


def _team_issues(m: Mapping) -> list[Issue]:
    issues = []
    if len(m.teams) > 1 and not m.manager:
        issues.append(Issue(("manager",), f"missing: {len(m.teams)} teams need a support manager "
                                          "above their leads",
                            hint="add `manager: <e-mail>` at the top level"))
    for key, team in m.teams.items():
        base = ("teams", key)
        if "@" not in team.lead:
            issues.append(Issue(base + ("lead",), f"expected the lead's e-mail, got {team.lead!r}"))
        seen = set()
        for i, step in enumerate(team.escalation):
            target = parse_step(step, key)
            path = base + ("escalation", i)
            issues += _team_issue(m, path, target[0], target[1]) + _tier_issue(m, path, target[1])
            if target in seen:
                issues.append(Issue(path, f"step `{step}` appears twice in the path"))
            seen.add(target)
    return issues


def _agent_issues(m: Mapping) -> list[Issue]:
    issues = []
    agents = m.agents
    for i, rule in enumerate(agents.rules):
        issues += _target_issues(m, ("agents", "rules", i), rule.team, rule.tier)
        if rule.when == type(rule.when)():
            issues.append(Issue(("agents", "rules", i, "when"), "the rule has no condition",
                                hint="use `agents.default` for everyone else"))
    if not agents.default.exclude:
        issues += _target_issues(m, ("agents", "default"), agents.default.team,
                                 agents.default.tier or "")
    for email, places in agents.multi_role.items():
        for j, p in enumerate(places):
            issues += _target_issues(m, ("agents", "multi_role", email, j), p.team, p.tier)
    issues += _held_roles(m)
    return issues


def _held_roles(m: Mapping) -> list[Issue]:
    """A person leading two teams, or leading and managing, must be listed in multi_role."""
    held: dict[str, list[tuple[tuple, tuple[str | None, str]]]] = {}
    if m.manager:
        held.setdefault(m.manager.lower(), []).append((("manager",), (None, MANAGER)))
    for key, team in m.teams.items():
        held.setdefault(team.lead.lower(), []).append((("teams", key, "lead"), (key, LEAD)))
    multi = {e.lower(): {(p.team, p.tier) for p in ps} for e, ps in m.agents.multi_role.items()}
    issues = []
    for email, roles in held.items():
        if email in multi:
            for path, (team, tier) in roles:
                if (team, tier) not in multi[email]:
                    issues.append(Issue(path, f"{email} is listed under agents.multi_role "
                                              f"without this role ({tier}"
                                              f"{' of ' + team if team else ''})",
                                        hint="add it to their multi_role list"))
        elif len(roles) > 1:
            what = ", ".join(f"{t}{' of ' + tm if tm else ''}" for _, (tm, t) in roles)
            issues.append(Issue(roles[-1][0], f"{email} holds several roles ({what})",
                                hint="list them explicitly under agents.multi_role"))
    return issues
