"""Write a built report as report.html (self-contained), report.md and report.json."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_report_files"]


def write_report_files(report: dict, out: Path) -> list[Path]:
    """Render ``report`` into ``out``; return the files written."""
    from migrator.reporting.render_html import render_html
    from migrator.reporting.render_md import render_markdown

    out.mkdir(parents=True, exist_ok=True)
    files = {"report.html": render_html(report), "report.md": render_markdown(report),
             "report.json": json.dumps(report, indent=2, ensure_ascii=False) + "\n"}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / name for name in files]
