"""Ticket routing: first matching rule wins, else the default; plus the field resolution."""

from __future__ import annotations

import re
from typing import Any

from migrator.models import FieldOption, Ticket, TicketField

from mappings.directory import Directory, field_value_keys
from mappings.schema import FieldMap, Mapping, Route, TicketMatch
from mappings.values import map_field_value

__all__ = ["Router", "DEFAULT_RULE", "FieldResolver", "target_field_key"]

DEFAULT_RULE = -1


def _any(wanted: list[str], have: list[str]) -> bool:
    lowered = {h.lower() for h in have if h is not None}
    return any(w.lower() in lowered for w in wanted)


class Router:
    """Routes tickets to ``(team, tier)`` with the mapping's rules over source names.

    The rules are compiled once (lower-cased word sets per condition): routing runs for every
    ticket, in the profile pass and again when mapping.
    """

    def __init__(self, mapping: Mapping, directory: Directory):
        self.mapping = mapping
        self.d = directory
        self.titles = {key: f.title for key, f in directory.fields.items()}
        self._compiled = [self._compile(rule.when) for rule in mapping.tickets.routing]
        # What the rules look at: a ticket's rule is memoised by these values alone (tickets
        # of an account share a few hundred combinations; routing them again cost more than
        # the rest of the profile pass).
        self._used = tuple(sorted({name for conds in self._compiled for name, _ in conds}))
        self._rule_titles = {title.lower() for rule in mapping.tickets.routing
                             for title in rule.when.fields} | {
            title for rule in mapping.tickets.routing for title in rule.when.fields}
        self._field_used: dict[str, bool] = {}
        self._memo: dict[tuple, int] = {}

    @staticmethod
    def _compile(when: TicketMatch) -> list[tuple[str, frozenset[str]]]:
        conds = [(name, frozenset(w.lower() for w in wanted)) for name, wanted in (
            ("group", when.source_groups), ("tags", when.tags), ("product", when.products),
            ("organization", when.organizations), ("priority", when.priorities),
            ("type", when.types), ("channel", when.channels)) if wanted]
        return conds

    def route(self, ticket: Ticket) -> tuple[str, str]:
        """The (team, tier) a ticket goes to."""
        return self.destination(self.rule_index(ticket))

    def destination(self, index: int) -> tuple[str, str]:
        """The (team, tier) of rule ``index`` (the default for :data:`DEFAULT_RULE`)."""
        target = (self.mapping.tickets.default if index == DEFAULT_RULE
                  else self.mapping.tickets.routing[index].to)
        return target.team, target.tier

    def rule_index(self, ticket: Ticket) -> int:
        """The index of the first matching rule, or :data:`DEFAULT_RULE`."""
        key = self._key(ticket)
        if key is not None:
            hit = self._memo.get(key)
            if hit is not None:
                return hit
        index = DEFAULT_RULE
        for i, rule in enumerate(self.mapping.tickets.routing):
            if self._matches(self._compiled[i], rule.when, ticket):
                index = i
                break
        if key is not None:
            if len(self._memo) > 100_000:  # bounded: tickets with unique tag sets
                self._memo.clear()
            self._memo[key] = index
        return index

    def _key(self, t: Ticket) -> tuple | None:
        """The values the rules read from ``t`` (``None`` if one cannot be a dict key)."""
        parts: list[Any] = []
        for name in self._used:
            if name == "tags":
                parts.append(tuple(t.tags))
            elif name == "group":
                parts.append(t.group_id)
            elif name in ("product", "organization"):
                parts.append(getattr(t, f"{name}_id"))
            else:
                parts.append(_typed(getattr(t, name)))
        if self._rule_titles:
            for key, value in t.custom_fields.items():
                used = self._field_used.get(key)
                if used is None:
                    used = self._field_used[key] = (
                        key in self._rule_titles
                        or self.titles.get(key, key).lower() in self._rule_titles)
                if used:
                    parts.append((key, _typed(value)))
        key = tuple(parts)
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def _have(self, name: str, t: Ticket) -> list[Any]:
        if name == "group":
            return [self.d.group_name(t.group_id)]
        if name == "tags":
            return t.tags
        if name == "product":
            return [self.d.products.get(str(t.product_id), t.product_id)]
        if name == "organization":
            return [self.d.organizations.get(str(t.organization_id), t.organization_id)]
        return [getattr(t, name)]

    def _matches(self, conds: list[tuple[str, frozenset[str]]], when: TicketMatch,
                 t: Ticket) -> bool:
        for name, wanted in conds:
            if not any(h is not None and h.lower() in wanted for h in self._have(name, t)):
                return False
        return all(self._field_matches(title, values, t) for title, values in when.fields.items())

    def matches(self, when: TicketMatch, t: Ticket) -> bool:
        """Do all of ``when``'s conditions hold for ``t``?"""
        return self._matches(self._compile(when), when, t)

    def _field_matches(self, title: str, values: list[str], t: Ticket) -> bool:
        for key, value in t.custom_fields.items():
            if self.titles.get(key, key).lower() != title.lower() and key != title:
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item is not None and _any(values, field_value_keys(item, self.d.fields.get(key))):
                    return True
        return False


def _typed(value: Any) -> Any:
    """``value`` as a memo key: lists as tuples, and with its type (``1``, ``1.0`` and ``True``
    are one dict key but read as "1", "1.0" and "true")."""
    if isinstance(value, list):
        return tuple(_typed(v) for v in value)
    return (type(value), value)


def target_field_key(name: str, target_type: str) -> str:
    """The target's name for a field: Freshdesk custom fields carry a ``cf_`` prefix."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "field"
    if target_type == "freshdesk" and not slug.startswith("cf_"):
        return f"cf_{slug}"
    return slug


class FieldResolver:
    """Source field key -> its :class:`FieldMap` and target :class:`TicketField`."""

    def __init__(self, mapping: Mapping, directory: Directory, target_type: str):
        self.mapping = mapping
        self.d = directory
        self.target_type = target_type
        by_title = {k.lower(): fm for k, fm in mapping.values.fields.items()}
        self._maps: dict[str, FieldMap | None] = {}
        for key, tf in directory.fields.items():
            self._maps[key] = mapping.values.fields.get(key) or by_title.get(tf.title.lower())
        self._by_title = by_title
        self._keys: dict[str, str | None] = {}  # source key -> target key, computed once
        self._values: dict[tuple, tuple[Any, str]] = {}  # (key, value) -> (mapped, how)

    def map_value(self, key: str, value: Any) -> tuple[Any, str]:
        """A value of field ``key`` through its map (:func:`map_field_value`), memoised.

        The field must have a map (:meth:`field_map`). Option values repeat across tickets, so
        each (field, value) is mapped once; a list value comes back as a new list every time.
        """
        memo_key = (key, _typed(value))
        try:
            hit = self._values.get(memo_key)
        except TypeError:  # a value that is no dict key (a dict): mapped every time
            return map_field_value(self.field_map(key), value, self.d.fields.get(key))
        if hit is None:
            if len(self._values) > 100_000:  # free text: bounded
                self._values.clear()
            hit = self._values[memo_key] = map_field_value(self.field_map(key), value,
                                                           self.d.fields.get(key))
        mapped, how = hit
        return (list(mapped) if isinstance(mapped, list) else mapped), how

    def field_map(self, key: str) -> FieldMap | None:
        """The field's entry in the mapping (by source key or title), or ``None``."""
        if key not in self._maps:
            self._maps[key] = self.mapping.values.fields.get(key) or self._by_title.get(
                self.d.field_title(key).lower())
        return self._maps[key]

    def target_key(self, key: str) -> str | None:
        """The target field key for a source field, ``None`` when dropped or unmapped."""
        if key in self._keys:
            return self._keys[key]
        fm = self.field_map(key)
        if fm is None or fm.drop:
            out = None
        else:
            out = target_field_key(fm.target or self.d.field_title(key), self.target_type)
        self._keys[key] = out
        return out

    def target_field(self, key: str) -> TicketField | None:
        """The target field definition the mapped tickets need."""
        fm, tkey = self.field_map(key), self.target_key(key)
        if fm is None or tkey is None:
            return None
        src = self.d.fields.get(key)
        return TicketField(id=tkey, key=tkey, title=fm.title or self.d.field_title(key),
                           type=src.type if src else "text",
                           options=self._options(fm, src), required=False,
                           extra={"source_key": key})

    def _options(self, fm: FieldMap, src: TicketField | None) -> list[FieldOption]:
        if src is None or not src.options:
            return []
        out: dict[str, FieldOption] = {}
        for opt in src.options:
            found = next((fm.map[w] for w in (opt.value, opt.label) if w in fm.map), None)
            if found is not None:
                out.setdefault(str(found), FieldOption(value=str(found), label=str(found)))
            elif fm.default is not None:
                out.setdefault(fm.default, FieldOption(value=fm.default, label=fm.default))
            else:
                out.setdefault(opt.value, FieldOption(value=opt.value, label=opt.label))
        return [out[k] for k in sorted(out)]


def rule_label(index: int, routes: list[Route]) -> str:
    """A readable name for a routing rule (``default`` for the fallback)."""
    if index == DEFAULT_RULE:
        return "default"
    name = routes[index].name
    return f"rule {index + 1}" + (f" ({name})" if name else "")


def ticket_field_items(t: Ticket) -> list[tuple[str, Any]]:
    """A ticket's custom field values in key order."""
    return sorted(t.custom_fields.items())
