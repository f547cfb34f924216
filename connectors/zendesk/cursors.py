"""Export cursors: small JSON strings the engine saves beside each staged page.

Shapes (all keys optional except ``mode``):
    {"mode": "cbp", "after": "<page[after]>", "hwm": "<max updated_at>", "done": true}
    {"mode": "incremental", "after": "<after_cursor>", "start_time": 0, "done": true}
    {"mode": "time", "start_time": 1695052663, "done": true}
    {"mode": "per_ticket", "position": 250, "strategy": "per_ticket", "done": true}

A finished cursor (``done``) is where a delta export starts: CBP lists are listed again and only
records updated after ``hwm`` come back; incremental exports resume from their last position.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from migrator.errors import ConfigError

__all__ = ["load_cursor", "dump_cursor", "epoch_of"]


def load_cursor(cursor: str | None, entity: str) -> dict[str, Any]:
    """The saved cursor as a dict (empty for a first export)."""
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        data = None
    if not isinstance(data, dict) or "mode" not in data:
        raise ConfigError(f"zendesk: the saved export cursor of {entity} is not one this "
                          f"connector wrote ({cursor[:60]!r})",
                          hint="run the export with --restart for this entity")
    return data


def dump_cursor(**fields: Any) -> str:
    """A cursor as compact JSON, dropping empty values."""
    return json.dumps({k: v for k, v in fields.items() if v is not None and v is not False},
                      separators=(",", ":"), sort_keys=True)


def epoch_of(since: str | None) -> int:
    """``YYYY-MM-DD`` or an ISO timestamp -> Unix seconds (0 when unset)."""
    if not since:
        return 0
    text = since.strip()
    try:
        if len(text) == 10:
            dt = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        else:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            dt = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    except ValueError:
        raise ConfigError(f"options.since: {since!r} is not a date",
                          hint="write it as YYYY-MM-DD, e.g. 2024-01-31") from None
    return int(dt.timestamp())
