"""Turn raw benchmark results into rows of (measure, value, target, ratio, ok) and a table."""

from __future__ import annotations

from typing import Any

from bench.budget import binding

__all__ = ["rows_for", "render_markdown", "TARGETS"]

TARGETS = {"tickets_per_s": 20_000, "peak_rss_mb": 200, "budget_share": 0.90,
           "share_429": 0.01, "restart_s": 5.0, "redone_batches": 1, "speedup": 3.0}


def _row(measure: str, value: Any, target: str, ratio: float | None, ok: bool | None) -> dict:
    return {"measure": measure, "value": value, "target": target,
            "ratio": None if ratio is None else round(ratio, 3), "ok": ok}


def _local(results: list[dict]) -> list[dict]:
    rows = []
    for r in results:
        n = r["tickets"]
        tps = r["tickets_per_s"]
        per = r.get("comments_per_ticket", 3)
        rows.append(_row(f"local {n:,} tickets ({per} comments each): tickets/s through "
                         "stage+plan+migrate, 1 core", tps, ">= 20,000/s",
                         tps / TARGETS["tickets_per_s"], tps >= TARGETS["tickets_per_s"]))
        if r.get("records_per_s"):
            rec = r["records_per_s"]
            rows.append(_row(f"local {n:,}: staged records/s (tickets+comments+people)", rec,
                             "(context)", rec / TARGETS["tickets_per_s"], None))
        floor = r.get("floor") or {}
        if floor.get("total_us"):
            us = floor["total_us"]
            rows.append(_row(
                f"local {n:,}: SQLite's own work per ticket, us, 1 core (stage writes "
                f"{floor['stage_writes_us']} + migrate reads {floor['migrate_reads_us']} + batch "
                f"writes {floor['batch_writes_us']}; one row per ticket would stage in "
                f"{floor['lean_stage_writes_us']})", us, "(context: 20,000/s is 50 us)",
                us / (1e6 / TARGETS["tickets_per_s"]), None))
        rss = r["peak_rss_mb"]
        rows.append(_row(f"local {n:,} tickets: peak RSS MB (all phases)", rss, "< 200 MB",
                         rss / TARGETS["peak_rss_mb"], rss < TARGETS["peak_rss_mb"]))
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = large["peak_rss_mb"] / small["peak_rss_mb"]
        rows.append(_row(f"local RSS growth {small['tickets']:,} -> {large['tickets']:,}",
                         round(growth, 2), "flat (< 1.5x)", growth / 1.5, growth < 1.5))
    return rows


def _budget(results: list[dict]) -> list[dict]:
    rows: list[dict] = []
    for r in results:
        for phase in r["phases"]:
            if phase["name"] == "follow":  # export and load at once: both sides, and wall time
                rows.append(_row(f"{r['scenario']} follow ({r['tickets']} tickets): wall s "
                                 "(export and migrate overlapped)", phase["seconds"],
                                 "(context)", None, None))
                sides: tuple[str, ...] = ("source", "target")
            else:
                sides = ("source" if phase["name"] == "export" else "target",)
            for side in sides:
                rows += _budget_rows(r, phase, side)
    return rows


def _budget_rows(r: dict, phase: dict, side: str) -> list[dict]:
    who = r["source"] if side == "source" else r["target"]
    buckets = phase["buckets"].get(side, {})
    found = binding(buckets)
    name_side = f"{phase['name']} {side}" if phase["name"] == "follow" else phase["name"]
    label = f"{r['scenario']} {name_side} ({who}, {r['tickets']} tickets)"
    if found is None:
        return [_row(label + ": no limited bucket used", None, ">= 90%", None, None)]
    name, b = found
    share = b["steady_share"] if b["steady_share"] is not None else b["peak_share"]
    kind = "steady" if b["steady_share"] is not None else "peak (run too short)"
    # A run shorter than three windows has no steady state: shown, not judged.
    judged = b["steady_share"] is not None
    calls = sum(x.get("calls", 0) for x in buckets.values())
    throttled = sum(x.get("throttled", 0) for x in buckets.values())
    s429 = throttled / (calls + throttled) if calls + throttled else 0.0
    return [_row(f"{label}: {name} {kind} share of limit", round(share, 3), ">= 90%",
                 share / TARGETS["budget_share"],
                 share >= TARGETS["budget_share"] if judged else None),
            _row(f"{label}: 429 share ({throttled}/{calls + throttled})", round(s429, 4),
                 "< 1%", s429 / TARGETS["share_429"] if s429 else 0,
                 s429 < TARGETS["share_429"])]


def _resume(r: dict) -> list[dict]:
    t = r["restart_to_first_new_s"]
    n = r["redone_batches_max"]
    return [_row(f"resume {r['tickets']:,} tickets killed at 50%: restart -> first new record s",
                 t, "< 5 s", None if t is None else t / TARGETS["restart_s"],
                 t is not None and t < TARGETS["restart_s"]),
            _row(f"resume: work redone, batches per step (records {r['redone_records']})", n,
                 "<= 1 batch", n / TARGETS["redone_batches"], n <= TARGETS["redone_batches"]),
            *([_row("resume: records created by both runs", r["created_twice"], "0", None,
                    r["created_twice"] == 0)] if "created_twice" in r else [])]


def _peer(r: dict) -> list[dict]:
    if "speedup" not in r:
        return [_row("peer zenpy: not run", r.get("zenpy", {}).get("error"), ">= 3x", None, None)]
    ours, zen = r["ours"], r["zenpy"]
    return [_row(f"peer {r['tickets']} tickets: zenpy {zen['seconds']} s / ours "
                 f"{ours['seconds']} s ({ours.get('strategy')})", r["speedup"], ">= 3x",
                 r["speedup"] / TARGETS["speedup"], r["speedup"] >= TARGETS["speedup"]),
            _row(f"peer requests per ticket: zenpy {zen['requests_per_ticket']} / ours",
                 ours["requests_per_ticket"], "fewer", None,
                 ours["requests_per_ticket"] <= zen["requests_per_ticket"])]


def rows_for(results: dict[str, Any]) -> list[dict]:
    """Every row of the summary, in the order local, budget, resume, peer."""
    rows: list[dict] = []
    if results.get("local"):
        rows += _local(results["local"])
    if results.get("budget"):
        rows += _budget(results["budget"])
    if results.get("resume"):
        rows += _resume(results["resume"])
    if results.get("peer"):
        rows += _peer(results["peer"])
    return rows


def render_markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table (the summary pasted into BENCHMARKS.md)."""
    out = ["| measure | value | target | ratio | ok |", "|---|---|---|---|---|"]
    for r in rows:
        ok = {True: "yes", False: "**no**", None: "-"}[r["ok"]]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        out.append(f"| {r['measure']} | {r['value']} | {r['target']} | {ratio} | {ok} |")
    return "\n".join(out)
