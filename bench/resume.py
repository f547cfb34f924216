"""Resume after a kill: time from restart to the first new record, and the work done twice.

1. ``stage``: synthetic tickets are staged once (not timed here; :mod:`bench.local` times it).
2. ``first``: a process runs ``migrate`` into a :class:`NullTarget` that logs every id it is
   sent and SIGKILLs its own process once half of the tickets were sent (no clean-up runs).
3. ``second``: a new process (``time.time()`` taken by the parent just before it starts, so
   interpreter start, imports, opening the state and building the plan all count) runs
   ``migrate`` again; the first ticket it sends that the first run never sent is "the first new
   record". Records sent by both runs are the work redone, per step, in batches.

The target plays one that keeps source-id markers, as Zendesk (``external_id``) and Freshdesk (the
source-id field) do: what it created is written to a ledger the second process reads, so recovery
finds the batches that were in flight at the kill instead of resending them; the batch whose
request the kill interrupted is sent again. ``created_twice`` counts records created by both
processes (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.nulltarget import NullTarget

__all__ = ["run_resume"]

ROOT = Path(__file__).resolve().parent.parent


def _child(args: argparse.Namespace) -> None:
    imported = time.time()
    from bench.local import _plan, _stage
    from migrator.config import Options
    from migrator.engine import migrate
    from migrator.engine.migrate import MigrateOptions
    from migrator.state import StateStore
    state = StateStore(f"sqlite:///{args.workdir / 'state.db'}")
    if args.phase == "stage":
        _stage(state, args.tickets, args.comments)
        return
    log = open(args.workdir / f"sent-{args.phase}.log", "a", buffering=1)
    first_run = args.phase == "first"
    before = set() if first_run else _sent_ids(args.workdir / "sent-first.log")
    kill_after = int(args.tickets * args.kill_at)
    seen = {"tickets": 0, "first_new": None}

    def on_submit(entity, items) -> None:
        for item in items:
            log.write(f"{entity.value}\t{item.source_id}\n")
        if entity.value != "tickets":
            return
        if not first_run and seen["first_new"] is None and any(
                ("tickets", i.source_id) not in before for i in items):
            seen["first_new"] = time.time()
        seen["tickets"] += len(items)
        if first_run and seen["tickets"] >= kill_after:
            log.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: a real crash

    plan_start = time.time()
    plan = _plan(state)
    plan_end = time.time()
    ledger = open(args.workdir / f"created-{args.phase}.log", "a", buffering=1)
    target = NullTarget(batch_size=args.batch, on_submit=on_submit, ledger=ledger,
                        found=_sent_ids(args.workdir / "created-first.log"))
    migrate(state, target, plan, Options(max_in_flight=args.in_flight, batch_size=args.batch),
            opts=MigrateOptions(in_flight=args.in_flight))
    (args.workdir / "second.json").write_text(json.dumps({
        "first_new": seen["first_new"], "done": time.time(), "started": imported,
        "plan_start": plan_start, "plan_end": plan_end}))


def _sent_ids(path: Path) -> set[tuple[str, str]]:
    if not path.exists():
        return set()
    return {tuple(line.rstrip("\n").split("\t", 1)) for line in path.open() if "\t" in line}


def _spawn(phase: str, workdir: Path, tickets: int,
           extra: list[str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bench.resume", "--phase", phase, "--workdir", str(workdir),
           "--tickets", str(tickets), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)


def run_resume(tickets: int, workdir: Path, *, comments: int = 3, in_flight: int = 4,
               batch: int = 100, kill_at: float = 0.5) -> dict[str, Any]:
    """Stage, kill a migrate at ``kill_at``, restart; return restart latency and redone work."""
    workdir.mkdir(parents=True, exist_ok=True)
    extra = ["--comments", str(comments), "--in-flight", str(in_flight), "--batch", str(batch),
             "--kill-at", str(kill_at)]
    for phase in ("stage", "first"):
        proc = _spawn(phase, workdir, tickets, extra)
        if phase == "first" and proc.returncode != -signal.SIGKILL:
            raise RuntimeError(f"the first run was not killed (rc {proc.returncode}):\n"
                               f"{proc.stderr[-2000:]}")
        if phase == "stage" and proc.returncode:
            raise RuntimeError(f"staging failed:\n{proc.stderr[-2000:]}")
    started = time.time()
    proc = _spawn("second", workdir, tickets, extra)
    if proc.returncode:
        raise RuntimeError(f"the restarted run failed:\n{proc.stderr[-2000:]}")
    second = json.loads((workdir / "second.json").read_text())
    first_ids = _sent_ids(workdir / "sent-first.log")
    again = first_ids & _sent_ids(workdir / "sent-second.log")
    twice = _sent_ids(workdir / "created-first.log") & _sent_ids(workdir / "created-second.log")
    per_step: dict[str, int] = {}
    for entity, _ in again:
        per_step[entity] = per_step.get(entity, 0) + 1
    sent_first = sum(1 for e, _ in first_ids if e == "tickets")
    return {"tickets": tickets, "batch": batch, "in_flight": in_flight,
            "tickets_sent_before_kill": sent_first,
            "restart_to_first_new_s": round(second["first_new"] - started, 2)
            if second["first_new"] else None,
            "restart_total_s": round(second["done"] - started, 2),
            "restart_breakdown_s": {
                "interpreter": round(second["started"] - started, 2),
                "open_state_and_imports": round(second["plan_start"] - second["started"], 2),
                "build_plan": round(second["plan_end"] - second["plan_start"], 2),
                "skip_done_until_first_new": round(second["first_new"] - second["plan_end"], 2)
                if second["first_new"] else None},
            "redone_records": per_step,
            "created_twice": len(twice),
            "redone_batches_max": max((-(-n // batch) for n in per_step.values()), default=0)}


def main(argv: list[str] | None = None) -> None:
    """Child entry point (one phase)."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--phase", choices=("stage", "first", "second"), required=True)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--tickets", type=int, required=True)
    p.add_argument("--comments", type=int, default=3)
    p.add_argument("--in-flight", type=int, default=4)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--kill-at", type=float, default=0.5)
    _child(p.parse_args(argv))


if __name__ == "__main__":
    main()
