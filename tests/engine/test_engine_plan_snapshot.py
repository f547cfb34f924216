"""The engine's plan is the plan `migrator plan` showed: it is checked against the stored target
snapshot, so a migrate refuses values the target was read not to hold, before any write."""

from __future__ import annotations

import pytest

from mappings.issues import MappingInvalid
from mappings.target_snapshot import META_KEY, snapshot_of
from migrator.engine import commands
from tests.engine.sandbox_project import counts, exported_project

pytestmark = pytest.mark.e2e


def test_migrate_checks_the_mapping_against_the_stored_target_snapshot(tmp_path, monkeypatch):
    with exported_project(tmp_path, monkeypatch, "zendesk", "freshdesk",
                          tickets=12) as (project, _, target):
        assert commands.plan_for(project).profile.total > 0  # no snapshot: built-in values
        # The target was read: its only ticket type is "Question" (the data has others).
        snap = snapshot_of("freshdesk", "2026-12-06T00:00:00Z", types=["Question"])
        project.state.set_meta(META_KEY, snap.to_json())
        kept = r"type 'incident' of \d+ ticket\(s\) is kept as it is, but freshdesk cannot hold"
        with pytest.raises(MappingInvalid, match=kept):
            commands.plan_for(project)
        before = counts(target.url, ["tickets", "groups"])
        with pytest.raises(MappingInvalid):
            commands.migrate_project(project)
        assert counts(target.url, ["tickets", "groups"]) == before
        # A snapshot of another target type is not used.
        project.state.set_meta(META_KEY, snapshot_of(
            "zendesk", "2026-12-06T00:00:00Z", types=["Question"]).to_json())
        assert commands.plan_for(project).profile.total > 0
