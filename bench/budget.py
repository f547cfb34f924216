"""Budget use against the sandboxes at emulated plans, through the real engine and connectors.

A scenario starts the source sandbox (seeded) and, for a migration, an empty target sandbox,
each in its own process as a real service is (:mod:`bench.remote`), both with a plan and a
short window (a "minute" lasts ``window`` seconds, the per-window limits
are the plan's). It writes a project file as a user would, runs ``export`` and ``migrate`` with
``migrator.engine.commands`` and reads each sandbox's counters once per server window
(:mod:`bench.windows`). The result per phase and bucket: steady share of the limit, 429 share.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.remote import RemoteSandbox
from bench.windows import WindowSampler, bucket_use

__all__ = ["Scenario", "SCENARIOS", "run_scenario", "binding"]

EXAMPLE = Path(__file__).resolve().parent.parent / "mappings" / "examples" / "product-lines.yaml"
_TOKENS = {"zendesk": {"email": "admin@sandbox.test", "token": "literal:sandbox-token"},
           "freshdesk": {"api_key": "literal:sandbox-key"}}


@dataclass(frozen=True)
class Scenario:
    """One benchmark run: a source (and a target for a migration) at plans and a window."""

    name: str
    source: str
    source_plan: str
    tickets: int
    target: str | None = None
    target_plan: str | None = None
    window: float = 6.0
    strategy: str = "auto"  # Zendesk comments: auto | per_ticket | events
    in_flight: int = 8
    quick_tickets: int = 0  # ticket count for --quick (0 = same)
    follow: bool = False  # one phase: `migrate --follow` (export and load at once)
    extra: dict[str, Any] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("zd-export-e1", "zendesk", "enterprise", 5000, strategy="per_ticket",
             quick_tickets=800),
    Scenario("zd-export-e2", "zendesk", "enterprise", 5000, strategy="events", quick_tickets=800),
    Scenario("zd-export-auto", "zendesk", "enterprise", 5000, quick_tickets=800),
    Scenario("fd-export-growth", "freshdesk", "growth", 2000, quick_tickets=300),
    Scenario("fd-export-pro", "freshdesk", "pro", 2000, quick_tickets=300),
    Scenario("zd-to-fd-growth", "zendesk", "enterprise", 250, "freshdesk", "growth", window=3.0,
             quick_tickets=80),
    Scenario("zd-to-fd-pro", "zendesk", "enterprise", 400, "freshdesk", "pro", window=3.0,
             quick_tickets=80),
    Scenario("fd-to-zd-enterprise", "freshdesk", "pro", 3000, "zendesk", "enterprise",
             quick_tickets=300),
    # zd-to-fd-growth again, export and load overlapped: compare its wall time with the sum of
    # zd-to-fd-growth's export and migrate phases.
    Scenario("zd-to-fd-growth-follow", "zendesk", "enterprise", 250, "freshdesk", "growth",
             window=3.0, quick_tickets=80, follow=True),
)}


def _endpoint(kind: str, url: str, plan: str, window: float, strategy: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "base_url": url, **_TOKENS[kind], "plan": plan,
                           "rate_window": window}
    if kind == "zendesk":
        out["comments_strategy"] = strategy
    else:
        out["create_agents"] = True  # sandbox seats are free
    return out


def _project(folder: Path, sc: Scenario, src_url: str, dst_url: str | None) -> Path:
    target = (_endpoint(sc.target, dst_url, sc.target_plan or "", sc.window, sc.strategy)
              if sc.target and dst_url else
              {"type": "freshdesk" if sc.source == "zendesk" else "zendesk",
               "base_url": "http://127.0.0.1:9", **_TOKENS["freshdesk" if sc.source == "zendesk"
                                                           else "zendesk"]})
    data = {"source": _endpoint(sc.source, src_url, sc.source_plan, sc.window, sc.strategy),
            "target": target, "mapping": str(EXAMPLE),
            "state": f"sqlite:///{folder / 'state.db'}", "workdir": str(folder / "work"),
            "options": {"batch_size": 100, "max_in_flight": sc.in_flight}}
    path = folder / "migration.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _phase(name: str, fn: Any, samplers: dict[str, WindowSampler]) -> dict[str, Any]:
    start = time.monotonic()
    result = fn()
    end = time.monotonic()
    time.sleep(max(s.window for s in samplers.values()) + 0.1)  # let the last window close
    return {"name": name, "seconds": round(end - start, 2), "result": result,
            "buckets": {side: bucket_use(s, start, end) for side, s in samplers.items()}}


def run_scenario(sc: Scenario, *, quick: bool = False) -> dict[str, Any]:
    """Run one scenario; return per-phase timings and per-bucket use on both sandboxes."""
    from migrator.engine import commands
    from migrator.project import Project
    tickets = sc.quick_tickets if quick and sc.quick_tickets else sc.tickets
    boxes, samplers = [], {}
    try:
        src = RemoteSandbox(sc.source, tickets=tickets, plan=sc.source_plan, window=sc.window)
        boxes.append(src)
        samplers["source"] = WindowSampler(src).start()
        dst = None
        if sc.target:
            dst = RemoteSandbox(sc.target, tickets=tickets, empty=True, plan=sc.target_plan,
                                window=sc.window)
            boxes.append(dst)
            samplers["target"] = WindowSampler(dst).start()
        with tempfile.TemporaryDirectory(prefix=f"bench-{sc.name}-") as tmp:
            path = _project(Path(tmp), sc, src.url, dst.url if dst else None)
            with Project.load(path) as project:
                if sc.follow:
                    phases = [_phase("follow", lambda: _follow(commands, project), samplers)]
                else:
                    phases = [_phase("export", lambda: _export(commands, project), samplers)]
                if dst is not None and not sc.follow:
                    phases.append(_phase("migrate", lambda: _migrate(commands, project),
                                         samplers))
    finally:
        for s in samplers.values():
            s.stop()
        for box in boxes:
            box.stop()
    return {"scenario": sc.name, "tickets": tickets, "window_s": sc.window,
            "source": f"{sc.source}/{sc.source_plan}",
            "target": f"{sc.target}/{sc.target_plan}" if sc.target else None,
            "strategy": sc.strategy if sc.source == "zendesk" else None, "phases": phases}


def _export(commands: Any, project: Any) -> dict[str, Any]:
    report = commands.export_project(project)
    return {"staged": report.staged, "attachments": report.attachments}


def _follow(commands: Any, project: Any) -> dict[str, Any]:
    report = commands.follow_project(project)
    final = report.final
    return {"status": final.status, "rounds": len(report.rounds),
            "tickets_in_rounds": sum(r["tickets"] for r in report.rounds),
            "staged": report.export.staged if report.export else {}}


def _migrate(commands: Any, project: Any) -> dict[str, Any]:
    report = commands.migrate_project(project)
    steps = {name: dict(s.counts) for name, s in report.steps.items()} \
        if hasattr(report, "steps") else {}
    return {"status": report.status, "steps": steps}


def binding(buckets: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """The binding bucket: the one whose limit takes the most windows to serve what was used.

    (credits / limit): with E1 the account bucket binds even though the incremental one peaks
    at 90% for a window or two; with E2 the incremental bucket binds.
    """
    rated = [(n, b) for n, b in buckets.items() if b.get("peak_share") is not None]
    return max(rated, key=lambda nb: nb[1]["credits"] / nb[1]["limit"]) if rated else None
