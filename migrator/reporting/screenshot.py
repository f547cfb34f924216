"""Render a report's HTML to a PNG with headless Chromium (for reviews and the demo).

Usage: ``python -m migrator.reporting.screenshot REPORT.html OUT.png [--width 1280]
[--height 3000]``. Needs a Chromium or Chrome binary on PATH (``apt-get install chromium``) or
in ``$CHROMIUM``. The page needs no network, so Chromium runs with networking effectively unused.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from migrator.errors import ConfigError

__all__ = ["find_chromium", "screenshot", "main"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium-family browser, or ``None``."""
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: str | Path, out: str | Path, *, width: int = 1280, height: int = 3000,
               timeout: float = 90.0) -> Path:
    """Write a PNG of ``html`` to ``out``; raises ConfigError when it cannot."""
    html, out = Path(html).resolve(), Path(out).resolve()
    if not html.is_file():
        raise ConfigError(f"{html}: no such report file", hint="run `migrator report` first")
    browser = find_chromium()
    if browser is None:
        raise ConfigError("no Chromium or Chrome found on PATH",
                          hint="apt-get install -y chromium, or set CHROMIUM=/path/to/chrome")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="migrator-chromium-") as profile:
        # A throwaway profile: no first-run state, no crash reports, nothing left behind.
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
               f"--window-size={width},{height}", f"--screenshot={out}", html.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ConfigError(f"Chromium did not finish within {timeout:.0f} s") from None
    if not out.is_file() or out.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise ConfigError(f"Chromium wrote no screenshot (exit {proc.returncode})",
                          detail="\n".join(tail))
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m migrator.reporting.screenshot",
                                     description="Screenshot a report HTML with headless Chromium.")
    parser.add_argument("html")
    parser.add_argument("png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=3000)
    args = parser.parse_args(argv)
    try:
        path = screenshot(args.html, args.png, width=args.width, height=args.height)
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
