"""Side by side with zenpy: tickets with their comments from the Zendesk sandbox, same plan.

zenpy runs in its own virtualenv (``bench/.venv-peer``, created on first use with ``pip install
zenpy``; it is never a dependency of the project) and reaches the local sandbox through its
``ZENPY_FORCE_SCHEME`` / ``ZENPY_FORCE_NETLOC`` variables. Our side is the Zendesk ``Source``
(tickets, then comments with the strategy the connector picks). Each side gets a fresh sandbox
built from the same seed, with the same plan, window and added latency. Attachments are not
downloaded on either side (zenpy does not), so the comparison is API calls only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["run_peer", "ensure_venv", "VENV"]

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-peer"
SCRIPT = HERE / "peer" / "zenpy_export.py"


def ensure_venv() -> Path | None:
    """The venv's python with zenpy importable, creating it if needed; None if impossible."""
    python = VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True,
                           capture_output=True, timeout=300)
        check = subprocess.run([str(python), "-c", "import zenpy"], capture_output=True)
        if check.returncode:
            subprocess.run([str(python), "-m", "pip", "install", "-q", "zenpy"], check=True,
                           capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError):
        return None
    return python


def _requests(box: Any) -> int:
    return int(box.store.requests)


def _zenpy(python: Path, box: Any) -> dict[str, Any]:
    env = {**os.environ, "ZENPY_FORCE_SCHEME": "http",
           "ZENPY_FORCE_NETLOC": box.url.split("://", 1)[1]}
    creds = box.credentials
    proc = subprocess.run([str(python), str(SCRIPT), creds["email"], creds["api_token"]],
                          env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode:
        raise RuntimeError(f"zenpy export failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["requests"] = _requests(box)
    return out


def _ours(box: Any, window: float, in_flight: int, workdir: Path) -> dict[str, Any]:
    import connectors.zendesk as zendesk
    from migrator.config import EndpointConfig, Options
    from migrator.models import Entity
    cfg = EndpointConfig(type="zendesk", base_url=box.url, email="admin@sandbox.test",
                         token="literal:sandbox-token", plan=box.knobs.plan, rate_window=window)
    options = Options(max_in_flight=in_flight, attachments=False)
    started = time.monotonic()
    source = zendesk.make_source(cfg, workdir=workdir, options=options)
    try:
        ids = [str(r.id) for p in source.export(Entity.TICKETS) for r in p.records
               if r.entity is Entity.TICKETS]
        comments, cursor = 0, None
        for page in source.export(Entity.COMMENTS, ticket_ids=ids):
            comments += sum(1 for r in page.records if r.entity is Entity.COMMENTS)
            cursor = page.cursor or cursor
    finally:
        source.close()
    return {"tickets": len(set(ids)), "comments": comments,
            "seconds": round(time.monotonic() - started, 2), "requests": _requests(box),
            "strategy": _strategy(cursor)}


def _strategy(cursor: str | None) -> str | None:
    """Which comments strategy the connector ended on (its cursor says it)."""
    try:
        state = json.loads(cursor or "{}")
    except ValueError:
        return None
    return state.get("strategy") or state.get("mode")


def run_peer(tickets: int, workdir: Path, *, plan: str = "enterprise", window: float = 6.0,
             latency: float = 0.05, in_flight: int = 8) -> dict[str, Any]:
    """zenpy vs our exporter on identical sandboxes; wall time and requests per ticket."""
    from connectors.sandbox.run import start_sandbox
    result: dict[str, Any] = {"tickets": tickets, "plan": plan, "window_s": window,
                              "latency_s": latency}
    python = ensure_venv()
    for side in ("ours", "zenpy"):
        if side == "zenpy" and python is None:
            result["zenpy"] = {"error": "zenpy could not be installed in bench/.venv-peer"}
            continue
        with start_sandbox("zendesk", tickets=tickets, plan=plan, window=window,
                           latency=latency) as box:
            result[side] = (_ours(box, window, in_flight, workdir) if side == "ours"
                            else _zenpy(python, box))
        r = result[side]
        r["requests_per_ticket"] = round(r["requests"] / max(1, r["tickets"]), 3)
    if "seconds" in result.get("zenpy", {}):
        result["speedup"] = round(result["zenpy"]["seconds"] / result["ours"]["seconds"], 2)
    return result
