"""Read a mapping file as plain data while remembering the line and column of every node.

PyYAML's composer gives nodes with marks; we build the Python values ourselves so that each
value (and each mapping key) has its position, keyed by its path from the root
(``("teams", "hub", "lead")``). Anything the file may hold (empty, binary, not YAML, aliases
that explode, duplicate keys, Python tags) becomes a :class:`MappingInvalid`, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mappings.issues import Issue, MappingInvalid

__all__ = ["Located", "read_yaml", "parse_yaml", "MAX_BYTES", "MAX_NODES"]

MAX_BYTES = 2_000_000  # a real mapping is a few kB; past this it is not a mapping file
MAX_NODES = 200_000  # guards against alias bombs ("billion laughs")

Path_ = tuple[Any, ...]
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap")


@dataclass
class Located:
    """The file's data plus where each node sits: ``path -> (line, column)``, both 1-based."""

    file: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """The position of ``path``; the nearest known ancestor when the node is missing."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))


def read_yaml(path: str | Path) -> Located:
    """Read and parse ``path`` (size and encoding checked first)."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise MappingInvalid(name, [Issue((), f"no such file: {name}", hint=(
            "run `migrator mapping scaffold` to write a starter mapping"), line=0, col=0)])
    if p.is_dir():
        raise MappingInvalid(name, [Issue((), "is a folder, not a mapping file", line=0, col=0)])
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise MappingInvalid(name, [Issue((), f"file is {size} bytes; a mapping file is at most "
                                              f"{MAX_BYTES} bytes", hint="is this the right file?",
                                          line=1, col=1)])
    raw = p.read_bytes()
    return parse_yaml(raw, name)


def parse_yaml(raw: bytes | str, name: str = "<mapping>") -> Located:
    """Parse YAML text into a :class:`Located`."""
    text = _decode(raw, name)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "syntax error"
        raise MappingInvalid(name, [Issue((), f"not valid YAML: {problem}",
                                          hint="check the indentation and quoting on this line",
                                          line=line, col=col)]) from None
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        raise MappingInvalid(name, [Issue((), f"not valid YAML: {str(exc)[:200]}",
                                          line=1, col=1)]) from None
    if node is None:
        raise MappingInvalid(name, [Issue((), "the file is empty", hint=(
            "run `migrator mapping scaffold` for a starter mapping, or copy one from "
            "mappings/examples/"), line=1, col=1)])
    located = Located(file=name, data=None)
    builder = _Builder(located)
    try:
        located.data = builder.build(node, ())
    except RecursionError:
        raise MappingInvalid(name, [Issue((), "the document is nested too deeply",
                                          line=1, col=1)]) from None
    return located


def _decode(raw: bytes | str, name: str) -> str:
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MappingInvalid(name, [Issue((), f"not a text file (byte {exc.start} is not "
                                                  "UTF-8)", hint="a mapping is UTF-8 YAML text",
                                              line=1, col=1)]) from None
    if "\x00" in text:
        raise MappingInvalid(name, [Issue((), "not a text file (it contains NUL bytes)",
                                          hint="a mapping is UTF-8 YAML text", line=1, col=1)])
    return text


class _Builder:
    """Turns composed nodes into Python values, recording marks, refusing surprises."""

    def __init__(self, located: Located):
        self.located = located
        self.count = 0
        self.active: set[int] = set()
        self.scalar_loader = yaml.SafeLoader("")

    def _fail(self, node: yaml.Node, message: str, path: Path_, hint: str | None = None):
        raise MappingInvalid(self.located.file, [Issue(path, message, hint=hint,
                                                       line=node.start_mark.line + 1,
                                                       col=node.start_mark.column + 1)])

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            self._fail(node, f"more than {MAX_NODES} values (are anchors/aliases expanding?)",
                       path)
        if id(node) in self.active:
            self._fail(node, "an alias refers to itself", path)
        self.located.values.setdefault(path, (node.start_mark.line + 1,
                                              node.start_mark.column + 1))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            self._fail(node, f"unsupported tag {node.tag}", path,
                       hint="write plain text, numbers, lists and mappings only")
        if isinstance(node, yaml.MappingNode):
            self.active.add(id(node))
            try:
                return self._mapping(node, path)
            finally:
                self.active.discard(id(node))
        if isinstance(node, yaml.SequenceNode):
            self.active.add(id(node))
            try:
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            finally:
                self.active.discard(id(node))
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict:
        out: dict[Any, Any] = {}
        self.scalar_loader.flatten_mapping(node)  # resolves `<<: *base` merge keys
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._fail(key_node, "a key must be a plain word or text, not a list or mapping",
                           path)
            key = self._scalar(key_node, path)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                self._fail(key_node, f"key {key!r} is not text", path)
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                self._fail(key_node, f"duplicate key `{key}` (YAML keeps only the last one)",
                           path + (key,), hint="merge the two entries into one")
            self.located.keys[path + (key,)] = (key_node.start_mark.line + 1,
                                                key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        return out

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        try:
            return self.scalar_loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._fail(node, f"unsupported value ({getattr(exc, 'problem', None) or exc})", path,
                       hint="write plain text, numbers, lists and mappings only")
        except (ValueError, OverflowError) as exc:  # e.g. a timestamp like 2024-13-45
            self._fail(node, f"unreadable value {node.value!r} ({exc})", path,
                       hint="quote it to keep it as text")
