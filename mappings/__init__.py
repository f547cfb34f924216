"""The mapping layer: restructure a support team into tiers and teams, from a YAML file.

Pure: no HTTP, no database. It reads staged records through :class:`StagedData` and returns a
:class:`RestructurePlan` the migration engine and the report consume.
"""

from __future__ import annotations

from mappings.issues import Issue, MappingInvalid
from mappings.plan import RestructurePlan, build_plan, check_mapping
from mappings.schema import Mapping
from mappings.staged import RecordSet, StagedData, StoreStaged
from mappings.targets import Existing
from mappings.validate import load_mapping, mapping_from_text

__all__ = ["Issue", "Mapping", "MappingInvalid", "load_mapping", "mapping_from_text",
           "build_plan", "check_mapping", "RestructurePlan", "StagedData", "RecordSet",
           "StoreStaged", "Existing"]
