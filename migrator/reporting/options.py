"""Report options and the parsing of user input: periods, durations, NPS survey files."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from migrator.errors import ConfigError
from migrator.models import iso
from migrator.reporting.facts import FactOptions, epoch
from migrator.reporting.kpis import Period
from migrator.reporting.stats import THIN_N

__all__ = ["ReportOptions", "parse_period", "parse_duration", "load_nps", "NpsResponse"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)?\s*$", re.I)
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


@dataclass(frozen=True)
class NpsResponse:
    """One survey answer: a 0-10 score, optionally for a team."""

    score: int
    team: str | None = None


@dataclass
class ReportOptions:
    """Everything that shapes a report besides the data."""

    before: Period | None = None
    after: Period | None = None
    nps: list[NpsResponse] | None = None  # None = no survey supplied: NPS is omitted
    service_level: float = 0.8
    within_s: float = 3600.0
    hours_per_agent: float = 40.0
    min_n: int = THIN_N
    repeat_window_s: float = 14 * 86400.0
    return_after_s: float = 30 * 86400.0
    facts: FactOptions = field(default_factory=FactOptions)
    as_of: float | None = None  # backlog date; default: the latest timestamp in the data

    def periods(self) -> list[Period]:
        """The whole history plus the two comparison periods when given."""
        return [Period("all")] + [p for p in (self.before, self.after) if p is not None]


def parse_duration(text: str, what: str = "--within") -> float:
    """``90s``, ``30m``, ``1h``, ``2d``, ``1w`` or plain seconds -> seconds."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"{what}: {text!r} is not a duration",
                          hint="write a number and a unit: 90s, 30m, 1h, 2d")
    unit = match.group(2).lower() if match.group(2) else None
    return float(match.group(1)) * _UNIT_S[unit]


def parse_period(text: str, name: str) -> Period:
    """``START:END`` dates (``YYYY-MM-DD`` or ISO timestamps, UTC) -> a :class:`Period`."""
    parts = _split_period(text)
    if parts is None:
        raise ConfigError(f"--{name}: {text!r} is not START:END",
                          hint="for example --before 2024-01-01:2024-03-31")
    try:
        start, end = (epoch(iso(p)) for p in parts)
    except ValueError:
        raise ConfigError(f"--{name}: {text!r} has a date that cannot be read",
                          hint="use YYYY-MM-DD or 2024-01-01T00:00:00Z") from None
    if start is None or end is None or end <= start:
        raise ConfigError(f"--{name}: {text!r}: the end must come after the start")
    return Period(name, start, end)


def _split_period(text: str) -> tuple[str, str] | None:
    # Timestamps contain colons too: split at the colon that follows a complete date or stamp.
    for i, ch in enumerate(text):
        if ch == ":" and i in (10, 20, 19, 25) and text[:i].count("-") >= 2:
            left, right = text[:i].strip(), text[i + 1:].strip()
            if left and right and (len(left) == 10 or "T" in left):
                return left, right
    return None


def load_nps(path: str | Path) -> list[NpsResponse]:
    """Read survey scores: a CSV with a ``score`` column (0-10) and an optional ``team`` column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"--nps: {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--nps: {path}: cannot read it as UTF-8 text ({type(exc).__name__})",
                          hint="export the survey as a UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "score" not in fields:
        found = ", ".join(fields) or "none"
        raise ConfigError(f"--nps: {path}: no `score` column (found: {found})",
                          hint="the first line must name the columns, e.g. score,team")
    out = []
    for line_no, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        out.append(_nps_row(row, path, line_no))
    if not out:
        raise ConfigError(f"--nps: {path}: the file has no survey answers")
    return out


def _nps_row(row: dict[str, str], path: Path, line_no: int) -> NpsResponse:
    raw = row.get("score", "")
    try:
        score = float(raw)
    except ValueError:
        score = -1
    if not 0 <= score <= 10 or score != int(score):
        raise ConfigError(f"--nps: {path}:{line_no}: score {raw!r} is not a whole number 0-10",
                          hint="NPS answers are 0 (not at all likely) to 10 (extremely likely)")
    return NpsResponse(int(score), row.get("team") or None)
