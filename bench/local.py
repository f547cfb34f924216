"""Local overhead: staging + planning + the engine's load path + report + status, no network.

Each size runs in its own process pinned to one core (``python -m bench.local --tickets N``), so
the peak RSS (``VmHWM``) is that size's alone. Phases, in the order a real migration runs them:

    stage    synthetic pages -> StateStore.stage (with an export cursor per page)
    plan     mappings.build_plan over the staged data (the example product-lines mapping)
    migrate  migrator.engine.migrate into a NullTarget (reads, maps, batches, outcomes)
    report   migrator.reporting.build_report over histories_from_store (one streaming pass)
    status   migrator.engine.status.status (counts per entity)
    verify   migrator.engine.verify over every ticket (the NullTarget keeps nothing: each is
             "missing", so the whole comparison path runs and every result is written)
    rollback migrator.engine.rollback of the run (id map read and forgotten a page at a time)

then, not counted in the phases, ``bench.floor``: the state store's own SQLite work per ticket
(the same statements with nothing but a loop around them), the part no Python change removes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from bench.nulltarget import NullTarget
from bench.synth import people, template, ticket_pages

__all__ = ["run_size", "measure_in_child", "vm_hwm_mb", "MAPPING"]

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "mappings" / "examples" / "product-lines.yaml"


def vm_hwm_mb() -> float:
    """This process's peak resident set so far, in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - not Linux


def _timed(phases: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = fn()
    phases[name] = {"seconds": round(time.perf_counter() - started, 3),
                    "peak_rss_mb": round(vm_hwm_mb(), 1)}
    return result


def _stage(state: Any, n: int, comments: int, clock: dict[str, float] | None = None) -> int:
    """Stage people and ``n`` tickets; ``clock["stage_s"]`` gets the time spent in stage()."""
    t = template(comments_per_ticket=comments)
    state.stage(people(t))
    staged, spent = 0, 0.0
    for i, page in enumerate(ticket_pages(t, n)):
        started = time.perf_counter()  # the synthetic generator's own time is not ours
        state.stage(page, cursor=("export:tickets", json.dumps({"page": i})))
        spent += time.perf_counter() - started
        staged += len(page)
    if clock is not None:
        clock["stage_s"] = spent
    return staged


def _plan(state: Any) -> Any:
    from mappings import StoreStaged, build_plan, load_mapping
    return build_plan(load_mapping(MAPPING), StoreStaged(state), "freshdesk")


def _migrate(state: Any, plan: Any, in_flight: int) -> Any:
    from migrator.config import Options
    from migrator.engine import migrate
    from migrator.engine.migrate import MigrateOptions
    target = NullTarget()
    report = migrate(state, target, plan, Options(max_in_flight=in_flight),
                     opts=MigrateOptions(in_flight=in_flight))
    return report, target


def _report(state: Any, plan: Any) -> dict:
    from migrator.models import Entity
    from migrator.reporting import Attribution, ReportOptions, build_report, histories_from_store
    agents = list(state.iter_staged(Entity.AGENTS))
    attribution = Attribution.build(plan.route, plan.placement, agents)
    return build_report(histories_from_store(state), attribution, ReportOptions())


def _verify(state: Any, target: Any, plan: Any, out: Path) -> Any:
    from migrator.config import Options
    from migrator.engine.verify import verify
    return verify(state, target, plan, Options(), out=out, in_flight=1)


def _rollback(state: Any, target: Any, run_id: int) -> Any:
    from migrator.engine.rollback import rollback
    return rollback(state, target, run_id=run_id, chunk=1000)


def run_size(n: int, workdir: Path, *, comments: int = 3, in_flight: int = 4,
             phases_wanted: tuple[str, ...] = ("stage", "plan", "migrate", "report", "status",
                                               "verify", "rollback", "floor"),
             ) -> dict[str, Any]:
    """Run every phase for ``n`` synthetic tickets in this process; return the measurements."""
    from migrator.engine.status import status
    from migrator.state import StateStore
    state = StateStore(f"sqlite:///{workdir / 'state.db'}")
    out: dict[str, Any] = {"tickets": n, "comments_per_ticket": comments,
                           "baseline_rss_mb": round(vm_hwm_mb(), 1), "phases": {}}
    ph = out["phases"]
    clock: dict[str, float] = {}
    out["staged_records"] = _timed(ph, "stage", lambda: _stage(state, n, comments, clock))
    ph["stage"]["generate_s"] = round(ph["stage"]["seconds"] - clock["stage_s"], 3)
    ph["stage"]["seconds"] = round(clock["stage_s"], 3)  # time inside StateStore.stage only
    plan = _timed(ph, "plan", lambda: _plan(state))
    if "migrate" in phases_wanted:
        report, target = _timed(ph, "migrate", lambda: _migrate(state, plan, in_flight))
        out["migrate_status"] = report.status
        out["sent"] = target.sent
    if "report" in phases_wanted:
        rep = _timed(ph, "report", lambda: _report(state, plan))
        out["report_tickets"] = rep["department"]["tickets"]["n"]
    if "status" in phases_wanted:
        st = _timed(ph, "status", lambda: status(state, plan))
        out["status_tickets_created"] = st["entities"]["tickets"]["created"]
    if "verify" in phases_wanted and "migrate" in phases_wanted:
        ver = _timed(ph, "verify", lambda: _verify(state, target, plan, workdir / "verify.json"))
        out["verify_tickets_checked"] = ver.checked
    if "rollback" in phases_wanted and "migrate" in phases_wanted:
        rb = _timed(ph, "rollback", lambda: _rollback(state, target, report.run_id))
        out["rollback_deleted_tickets"] = rb.deleted.get("tickets", 0)
    local = sum(ph[k]["seconds"] for k in ("stage", "plan", "migrate") if k in ph)
    out["local_seconds"] = round(local, 3)
    out["tickets_per_s"] = round(n / local, 1) if local else None
    out["records_per_s"] = round(out["staged_records"] / local, 1) if local else None
    out["peak_rss_mb"] = round(vm_hwm_mb(), 1)
    state.close()
    if "floor" in phases_wanted:  # after the peak RSS: its rows are not the engine's memory
        from bench.floor import measure_floor
        out["floor"] = measure_floor(workdir / "state.db")
    return out


def measure_in_child(n: int, *, comments: int = 3, timeout: float = 3600,
                     keep_db: Path | None = None) -> dict[str, Any]:
    """Run :func:`run_size` in a fresh Python pinned to one core; return its JSON result."""
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        work = keep_db or Path(tmp)
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "bench.local", "--tickets", str(n), "--comments",
               str(comments), "--workdir", str(work), "--out", str(result)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"bench.local {n} failed:\n{proc.stderr[-3000:]}")
        return json.loads(result.read_text())


def main(argv: list[str] | None = None) -> None:
    """Child entry point: one size, one core, JSON to ``--out``."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tickets", type=int, required=True)
    p.add_argument("--comments", type=int, default=3)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cores", type=int, default=1)
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):  # the target is per core: measure on one
        cpus = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, set(cpus))
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = run_size(args.tickets, args.workdir, comments=args.comments)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
