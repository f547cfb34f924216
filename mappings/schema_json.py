"""The JSON Schema of the mapping file, for editors (``migrator mapping schema``)."""

from __future__ import annotations

from typing import Any

from mappings.schema import Mapping

__all__ = ["mapping_json_schema"]


def mapping_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) generated from the pydantic models."""
    schema = Mapping.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "helpdesk-migrator mapping file"
    return schema
