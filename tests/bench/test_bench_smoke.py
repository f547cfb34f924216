"""The benchmark harness runs end to end on tiny sizes and its numbers mean what they say."""

from __future__ import annotations

import json


from bench.__main__ import main
from bench.budget import Scenario, run_scenario
from bench.local import run_size
from bench.table import rows_for


def test_local_phases_move_every_ticket_and_report_rss(tmp_path):
    result = run_size(300, tmp_path, comments=2)
    assert result["migrate_status"] == "done"
    # Every staged ticket reaches the target except those the engine skips (deleted/spam).
    assert 0 < result["sent"]["tickets"] <= 300
    assert result["status_tickets_created"] == result["sent"]["tickets"]
    assert result["report_tickets"] > 0
    assert result["staged_records"] > 300  # tickets + comments + people
    assert set(result["phases"]) == {"stage", "plan", "migrate", "report", "status", "verify",
                                     "rollback"}
    # the NullTarget keeps nothing: verify compares every loaded ticket (each "missing") and
    # the rollback deletes every one of them
    assert result["verify_tickets_checked"] == result["sent"]["tickets"]
    assert result["rollback_deleted_tickets"] == result["sent"]["tickets"]
    # VmHWM is read per phase; Linux syncs per-thread RSS counters lazily, so only sanity here.
    assert all(p["peak_rss_mb"] > 10 for p in result["phases"].values())
    assert result["tickets_per_s"] > 0
    # the floor replays the staged tickets' own statements into a fresh database
    floor = result["floor"]
    assert floor["tickets"] == 300
    parts = floor["stage_writes_us"] + floor["migrate_reads_us"] + floor["batch_writes_us"]
    assert floor["total_us"] == round(parts, 1) and all(
        floor[k] > 0 for k in ("stage_writes_us", "migrate_reads_us", "batch_writes_us",
                               "lean_stage_writes_us"))
    row = next(r for r in rows_for({"local": [result]}) if "SQLite's own work" in r["measure"])
    assert row["value"] == floor["total_us"] and row["ok"] is None


def test_floor_writes_what_the_state_store_would(tmp_path):
    """The replay's statements are the store's: after it, the fresh database holds each
    staged ticket, its comments and one batch item and outcome per ticket."""
    import sqlite3
    from bench.floor import _fresh, _pages
    run_size(120, tmp_path, comments=2, phases_wanted=("stage",))
    src = sqlite3.connect(tmp_path / "state.db")
    pages, people, n = _pages(src, 50)
    assert n == 50 and len(pages) == 1
    staged_comments = src.execute(
        "SELECT COUNT(*) FROM staged WHERE entity = 'comments' AND parent_id IN "
        "(SELECT source_id FROM staged WHERE entity = 'tickets' ORDER BY source_id LIMIT 50)"
    ).fetchone()[0]
    assert len(pages[0]) == 50 + staged_comments
    db = _fresh(tmp_path / "fresh.db")
    from bench.floor import _STAGE
    db.executemany(_STAGE, pages[0])
    assert db.execute("SELECT COUNT(*) FROM staged").fetchone()[0] == len(pages[0])


def test_budget_scenario_counts_windows_against_the_plan_limit():
    sc = Scenario("tiny", "zendesk", "enterprise", 40, window=1.0, strategy="per_ticket")
    result = run_scenario(sc)
    phase = result["phases"][0]
    account = phase["buckets"]["source"]["account"]
    assert phase["result"]["staged"]["tickets"] == 40
    assert account["limit"] == 700 and account["window_s"] == 1.0
    assert account["calls"] >= 40  # one comments call per ticket at least
    assert account["throttled"] == 0


def test_cli_writes_results_and_a_table(tmp_path, capsys):
    assert main(["--only", "local", "--sizes", "200", "--out", str(tmp_path)]) == 0
    latest = (tmp_path / "latest.md").read_text()
    assert "tickets/s" in latest and "Python" in latest
    saved = json.loads(next(tmp_path.glob("2*.json")).read_text())
    assert saved["local"][0]["tickets"] == 200
    assert saved["rows"] and capsys.readouterr().out.startswith("| measure")


def test_rows_flag_misses():
    rows = rows_for({"resume": {"tickets": 10, "restart_to_first_new_s": 9.0,
                                "redone_batches_max": 3, "redone_records": {"tickets": 250}},
                     "peer": {"tickets": 5, "speedup": 4.0,
                              "ours": {"seconds": 1, "requests_per_ticket": 0.1},
                              "zenpy": {"seconds": 4, "requests_per_ticket": 1.0}}})
    assert [r["ok"] for r in rows] == [False, False, True, True]
