"""The Zendesk OAS with null allowed everywhere, for checking what the service (or the sandbox)
answers: the real service sends null for fields the spec does not mark nullable (alias,
signature, priority, width... in the zenpy recordings)."""

from __future__ import annotations

from typing import Any

__all__ = ["relax"]


def relax(node: Any) -> None:
    """Make every typed value of ``node`` (a spec or a part of one) nullable, in place."""
    if isinstance(node, dict):
        if "oneOf" in node:  # with null allowed everywhere, "exactly one" cannot hold for null
            node["anyOf"] = node.pop("oneOf")
        if "type" in node:
            node["nullable"] = True
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        for value in node.values():
            relax(value)
    elif isinstance(node, list):
        for value in node:
            relax(value)
