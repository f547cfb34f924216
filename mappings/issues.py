"""Problems found in a mapping file, each with its place (file:line:column and field path)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable

from migrator.errors import MappingError

__all__ = ["Issue", "MappingInvalid", "did_you_mean", "dotted"]


def dotted(path: Iterable[Any]) -> str:
    """``("teams", "hub", "members", 0)`` -> ``teams.hub.members[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top)"


def did_you_mean(word: Any, choices: Iterable[Any]) -> str | None:
    """A "did you mean" hint from the closest known names, or ``None``."""
    options = sorted({str(c) for c in choices})
    scored = sorted(((difflib.SequenceMatcher(None, str(word), o).ratio(), o) for o in options),
                    key=lambda x: (-x[0], x[1]))
    best = scored[0][0] if scored else 0.0
    # only the clearly closest names: a list of five "maybe"s helps nobody
    close = [o for r, o in scored if r >= 0.7 and r >= best - 0.05][:3]
    if not close:
        close = [o for o in options if str(word).lower() == o.lower()]
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


@dataclass(frozen=True)
class Issue:
    """One problem: where it is, what is wrong, what to do."""

    path: tuple[Any, ...]
    message: str
    hint: str | None = None
    line: int = 0
    col: int = 0
    warning: bool = False

    def located(self, line: int, col: int) -> "Issue":
        """The same issue placed at ``line:col``."""
        return Issue(self.path, self.message, self.hint, line, col, self.warning)

    def render(self, file: str) -> str:
        """``file:line:col: field.path: message (hint)`` on one line."""
        where = f"{file}:{self.line}:{self.col}" if self.line else file
        text = f"{where}: {dotted(self.path)}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def as_dict(self, file: str) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {"file": file, "line": self.line, "column": self.col, "path": dotted(self.path),
                "message": self.message, "hint": self.hint,
                "severity": "warning" if self.warning else "error"}


class MappingInvalid(MappingError):
    """A mapping file with one or more problems; ``issues`` lists them in file order."""

    def __init__(self, file: str, issues: list[Issue]):
        self.file = file
        self.issues = sorted(issues, key=lambda i: (i.line, i.col, dotted(i.path), i.message))
        count = len(self.issues)
        head = f"{file}: the mapping is invalid ({count} problem{'s' if count != 1 else ''})"
        body = "\n  ".join(i.render(file) for i in self.issues)
        super().__init__(f"{head}:\n  {body}",
                         hint="fix the lines above, then run `migrator mapping validate` again")
