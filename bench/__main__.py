"""``python -m bench [--quick] [--only local,budget,resume,peer] [--sizes 10k,100k,1m]``

Runs the benchmarks of issue 8, prints a table of ratios against the targets (limits.md
ceilings, the peer) and writes ``bench/results/<stamp>.json`` plus ``bench/results/latest.md``
(the summary to paste into BENCHMARKS.md, with the machine and the date).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.table import render_markdown, rows_for

HERE = Path(__file__).resolve().parent
PARTS = ("local", "budget", "resume", "peer")
QUICK_SCENARIOS = ("zd-export-auto", "fd-export-growth", "zd-to-fd-growth", "fd-to-zd-enterprise")


def _size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def machine() -> dict[str, Any]:
    """nproc, memory, Python and the date: the context every figure needs."""
    try:
        mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    except OSError:
        mem = "unknown"
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "nproc": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "platform": platform.platform()}


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, four scenarios (~3 min)")
    p.add_argument("--only", default=",".join(PARTS), help="comma list of " + ", ".join(PARTS))
    p.add_argument("--sizes", default=None, help="local sizes, e.g. 10k,100k,1m")
    p.add_argument("--scenarios", default=None, help="budget scenarios (see bench/budget.py)")
    p.add_argument("--resume-tickets", type=_size, default=None)
    p.add_argument("--peer-tickets", type=_size, default=None)
    p.add_argument("--out", type=Path, default=HERE / "results")
    return p.parse_args(argv)


def _run(part: str, args: argparse.Namespace, tmp: Path) -> Any:
    if part == "local":
        from bench.local import measure_in_child
        sizes = args.sizes or ("2k,10k" if args.quick else "10k,100k")
        return [measure_in_child(_size(s)) for s in sizes.split(",")]
    if part == "budget":
        from bench.budget import SCENARIOS, run_scenario
        names = args.scenarios.split(",") if args.scenarios else (
            QUICK_SCENARIOS if args.quick else tuple(SCENARIOS))
        out = []
        for n in names:
            started = time.monotonic()
            out.append(run_scenario(SCENARIOS[n.strip()], quick=args.quick))
            print(f"   {n}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        return out
    if part == "resume":
        from bench.resume import run_resume
        n = args.resume_tickets or (10_000 if args.quick else 100_000)
        return run_resume(n, tmp / "resume")
    if part == "peer":
        from bench.peer import run_peer
        return run_peer(args.peer_tickets or (200 if args.quick else 600), tmp / "peer")
    raise SystemExit(f"unknown part {part!r}; use {', '.join(PARTS)}")


def main(argv: list[str] | None = None) -> int:
    """Run the selected parts; print and write the results."""
    args = _args(argv)
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for part in [p.strip() for p in args.only.split(",") if p.strip()]:
            started = time.monotonic()
            print(f"== {part} ...", file=sys.stderr, flush=True)
            results[part] = _run(part, args, Path(tmp))
            print(f"== {part} done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    rows = rows_for(results)
    results["rows"] = rows
    table = render_markdown(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    m = results["machine"]
    head = (f"{m['date']}, {m['nproc']} cores, Python {m['python']}, {m['platform']}\n\n"
            f"```\n{m['memory']}\n```\n\n")
    (args.out / "latest.md").write_text(head + table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
