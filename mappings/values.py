"""Value maps: status, priority, type and custom field values, with their fallbacks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from migrator.errors import MappingError
from migrator.models import TicketField

from mappings.directory import OPTION_TYPES, field_value_keys
from mappings.schema import ValueMap

__all__ = ["MAPPED", "DEFAULTED", "KEPT", "UNMAPPED", "lookup", "apply", "Coverage"]

MAPPED, DEFAULTED, KEPT, UNMAPPED = "mapped", "default", "kept", "unmapped"


_LOWERED: dict[int, tuple[dict, int, dict]] = {}


def _lowered(entries: dict) -> dict:
    """``entries`` with lower-cased keys, built once per map (looked up for every ticket)."""
    hit = _LOWERED.get(id(entries))
    if hit is None or hit[0] is not entries or hit[1] != len(entries):
        if len(_LOWERED) > 1000:
            _LOWERED.clear()
        hit = _LOWERED[id(entries)] = (entries, len(entries),
                                       {str(k).lower(): v for k, v in entries.items()})
    return hit[2]


def lookup(vmap: ValueMap, words: list[str]) -> tuple[bool, Any]:
    """The map's entry for the first of ``words`` it lists (exact, then case-insensitive)."""
    for word in words:
        if word in vmap.map:
            return True, vmap.map[word]
    lowered = _lowered(vmap.map)
    for word in words:
        if word.lower() in lowered:
            return True, lowered[word.lower()]
    return False, None


def apply(vmap: ValueMap, value: Any, words: list[str] | None = None,
          *, option_field: bool = True) -> tuple[Any, str]:
    """``value`` through ``vmap`` -> (new value, how). ``how`` is one of the four outcomes.

    A field without options (text, date, number) is copied unless its map lists the value.
    """
    if value is None:
        return None, KEPT
    found, mapped = lookup(vmap, words or [str(value)])
    if found:
        return mapped, MAPPED
    if vmap.default is not None:
        return vmap.default, DEFAULTED
    if vmap.keep_unmapped or not option_field:
        return value, KEPT
    return value, UNMAPPED


def map_field_value(vmap: ValueMap, value: Any, tf: TicketField | None) -> tuple[Any, str]:
    """A custom field value (lists item by item for multiselect) through its map."""
    option = tf is not None and tf.type in OPTION_TYPES
    if isinstance(value, list):
        results = [apply(vmap, v, field_value_keys(v, tf), option_field=option) for v in value]
        worst = next((h for h in (UNMAPPED, DEFAULTED, KEPT) if any(r[1] == h for r in results)),
                     MAPPED)
        return [r[0] for r in results], worst
    return apply(vmap, value, field_value_keys(value, tf), option_field=option)


@dataclass
class Coverage:
    """How every value seen was handled, per map: ``{map: {value: {how: count}}}``."""

    seen: dict[str, dict[str, Counter]] = field(default_factory=dict)

    def add(self, name: str, value: Any, how: str, n: int = 1) -> None:
        """Count ``n`` tickets with this value of map ``name``."""
        self.seen.setdefault(name, {}).setdefault(self.label(value), Counter())[how] += n

    @staticmethod
    def label(value: Any) -> str:
        """How a value is shown (list items joined by commas)."""
        return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    def unmapped(self, name: str) -> dict[str, int]:
        """Values of ``name`` that no entry or fallback covers, with their counts."""
        return {v: c[UNMAPPED] for v, c in sorted(self.seen.get(name, {}).items())
                if c.get(UNMAPPED)}

    def as_dict(self) -> dict[str, dict[str, dict[str, int]]]:
        """Sorted plain data for JSON."""
        return {n: {v: dict(sorted(c.items())) for v, c in sorted(vals.items())}
                for n, vals in sorted(self.seen.items())}


def strict_error(name: str, value: Any, ticket_id: str) -> MappingError:
    """The error for an unmapped value met while mapping a ticket in strict mode."""
    return MappingError(f"ticket {ticket_id}: {name} value {value!r} is not in the mapping "
                        "(strict)", hint=f"add it under values.{name} in the mapping file, "
                                         "then run `migrator mapping validate`")
