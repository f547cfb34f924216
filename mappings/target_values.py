"""Can the target hold the values a mapping sends? Statuses, priorities, types, field options.

Each target value of a value map (its entries, its ``default``, and under ``keep_unmapped`` the
values seen in the data that pass through) is checked against what the target accepts: the
vendor's built-in values, plus what the target snapshot of ``migrator check`` read (custom
statuses, ticket types, the options of fields that already exist). A value the target cannot
hold is an error at its line, with the values it can hold as the hint.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from mappings.directory import Directory
from mappings.issues import Issue, did_you_mean
from mappings.profile import TicketProfile
from mappings.router import FieldResolver
from mappings.schema import Mapping, ValueMap
from mappings.targets import Existing
from mappings.values import KEPT

__all__ = ["target_value_issues", "BUILTIN_VALUES"]

# Canonical words each target holds without any configuration (docs/ARCHITECTURE.md, canonical
# conventions; zendesk-api.md §3 ticket type; freshdesk-api.md §3 status 2..5).
BUILTIN_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "zendesk": {"status": ("new", "open", "pending", "hold", "solved", "closed"),
                "priority": ("low", "normal", "high", "urgent"),
                "type": ("question", "incident", "problem", "task")},
    "freshdesk": {"status": ("open", "pending", "solved", "closed"),
                  "priority": ("low", "normal", "high", "urgent"),
                  "type": ()},  # account-defined: checked only against a snapshot
}

_CUSTOM_HINT = {
    "zendesk": "custom statuses exist only with Zendesk's custom ticket statuses feature",
    "freshdesk": "a custom status exists only if the target account has it",
}


def _slug(value: Any) -> str:
    """Zendesk keeps option values as tags; compare in that form (``Smart Hub`` = ``smart_hub``)."""
    return re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")


def _allowed(name: str, target_type: str, ex: Existing) -> tuple[str, ...] | None:
    """The values ``name`` may take in the target; ``None`` when it cannot be known."""
    builtin = BUILTIN_VALUES[target_type][name]
    extra: Iterable[str] = ()
    if name == "status" and ex.known:
        extra = ex.statuses
    if name == "type":
        if ex.types:
            return tuple(sorted(ex.types))
        if not builtin:
            return None
    return tuple(builtin) + tuple(sorted(set(extra) - set(builtin)))


def _hint(value: Any, allowed: tuple[str, ...], extra: str | None) -> str:
    close = did_you_mean(value, allowed)
    text = f"the target accepts: {', '.join(allowed) or 'nothing listed'}"
    text = f"{close} {text}" if close else text
    return f"{text}; {extra}" if extra else text


def _check_map(vmap: ValueMap, base: tuple, what: str, allowed: tuple[str, ...], target: str,
               kept: dict[str, int], extra: str | None) -> list[Issue]:
    ok = {_slug(a) for a in allowed}
    issues = []
    for src, dst in vmap.map.items():
        for value in dst if isinstance(dst, list) else [dst]:
            if value is None or isinstance(value, bool) or _slug(value) in ok:
                continue
            issues.append(Issue(base + ("map", src), f"{target} cannot hold {what} {value!r} "
                                f"(the map sends {src!r} there)",
                                hint=_hint(value, allowed, extra)))
    if vmap.default is not None and _slug(vmap.default) not in ok:
        issues.append(Issue(base + ("default",), f"{target} cannot hold {what} "
                            f"{vmap.default!r}", hint=_hint(vmap.default, allowed, extra)))
    if vmap.keep_unmapped:
        for value, count in sorted(kept.items()):
            if _slug(value) not in ok:
                issues.append(Issue(base + ("keep_unmapped",), (
                    f"{what} {value!r} of {count} ticket(s) is kept as it is, but {target} "
                    f"cannot hold it"),
                    hint=f"map it under {_dotted(base)}.map; " + _hint(value, allowed, extra)))
    return issues


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _kept(p: TicketProfile, name: str) -> dict[str, int]:
    return {v: c[KEPT] for v, c in p.coverage.seen.get(name, {}).items() if c.get(KEPT)}


def target_value_issues(m: Mapping, d: Directory, p: TicketProfile, target_type: str,
                        existing: Existing | None = None) -> list[Issue]:
    """Every target value of the value maps the target cannot hold (errors)."""
    ex = existing or Existing()
    issues: list[Issue] = []
    for name in ("status", "priority", "type"):
        allowed = _allowed(name, target_type, ex)
        if allowed is None:
            continue
        extra = _CUSTOM_HINT[target_type] if name == "status" else None
        if not ex.known and name in ("status", "type"):
            extra = (f"{extra}; " if extra else "") + "run `migrator check` to read the target"
        issues += _check_map(getattr(m.values, name), ("values", name), name, allowed,
                             target_type, _kept(p, name), extra)
    return issues + _field_issues(m, d, p, target_type, ex)


def _field_issues(m: Mapping, d: Directory, p: TicketProfile, target_type: str,
                  ex: Existing) -> list[Issue]:
    """Options of target fields that exist already (known from the snapshot only)."""
    if not ex.field_options:
        return []
    resolver = FieldResolver(m, d, target_type)
    issues: list[Issue] = []
    by_title = {d.field_title(k).lower(): k for k in d.fields}
    for name, fm in m.values.fields.items():
        key = name if name in d.fields else by_title.get(name.lower())
        if key is None or fm.drop:
            continue
        tkey = resolver.target_key(key)
        title = fm.title or d.field_title(key)
        options = ex.field_options.get((tkey or "").lower()) or ex.field_options.get(title.lower())
        if not options:
            continue
        issues += _check_map(fm, ("values", "fields", name), f"{title!r} option",
                             tuple(sorted(options)), target_type,
                             _kept(p, f"field:{d.field_title(key)}"),
                             "the field exists in the target with these options")
    return issues
