"""Verify and status against the fake target."""

from __future__ import annotations

import dataclasses
import json

from migrator.engine import migrate
from migrator.engine.status import status
from migrator.engine.verify import verify
from migrator.models import Entity


def test_verify_passes_after_a_full_run_and_writes_json(world, options):
    state, _, target, plan, workdir = world
    migrate(state, target, plan, options)
    report = verify(state, target, plan, options, out=workdir / "verify.json")
    assert report.ok and len(report.tickets) == 6
    data = json.loads((workdir / "verify.json").read_text())
    assert data["ok"] is True and data["tickets_checked"] == 6
    assert data["entities"]["tickets"] == {"staged": 6, "planned": 6, "present": 6, "skipped": 0,
                                           "failed": 0}


def test_verify_finds_what_differs(world, options):
    state, _, target, plan, _ = world
    migrate(state, target, plan, options)
    ids = state.target_ids(Entity.TICKETS)
    s1 = target.store[Entity.TICKETS][ids["1"]]
    s1.record = dataclasses.replace(s1.record, status="pending", comments=s1.record.comments[:1])
    del target.store[Entity.TICKETS][ids["2"]]
    s3 = target.store[Entity.TICKETS][ids["3"]]
    s3.record = dataclasses.replace(s3.record, group_id="elsewhere")
    report = verify(state, target, plan, options)
    problems = {t["source_id"]: t["problems"] for t in report.mismatches}
    assert problems["2"] == ["missing in the target"]
    assert "status: expected open, found pending" in problems["1"]
    assert "comments: expected 2, found 1" in problems["1"]
    assert any(p.startswith("group_id: expected") for p in problems["3"])
    assert set(problems) == {"1", "2", "3"} and not report.ok


def test_status_counts_and_eta(world, options):
    state, _, target, plan, _ = world
    before = status(state, plan)
    assert before["entities"]["tickets"]["planned"] == 6 and before["entities"]["tickets"]["created"] == 0
    assert before["throughput"]["run_id"] is None and before["eta_s"] is None
    target.fail[(Entity.TICKETS, "4")] = "rejected"
    migrate(state, target, plan, options)
    after = status(state, plan)
    t = after["entities"]["tickets"]
    assert (t["created"], t["failed"]) == (5, 1)
    assert after["entities"]["agents"]["planned"] == 2 and after["entities"]["comments"]["staged"] > 0
    assert after["failed"] == [{"entity": "tickets", "source_id": "4", "reason": "rejected"}]
    assert after["eta_s"] == 0.0 and after["throughput"]["records_per_s"] > 0
    assert after["open_batches"] == {}
