"""Charts as inline SVG text (matplotlib, Agg): readable offline, nothing fetched at view time.

Text stays text (``svg.fonttype = none``) so the charts are small and searchable; a fixed hash
salt and no date metadata make the same data give the same SVG.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["heatmap_svg", "team_kpi_svg", "coverage_svg", "DAYS"]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "helpdesk-migrator", "font.size": 9,
          "axes.spines.top": False, "axes.spines.right": False}
_SOLID, _THIN = "#2f6f9f", "#b9cfe0"


def _svg(fig) -> str:
    buf = io.StringIO()
    # No metadata block: no date (determinism) and no links to the RDF/Dublin Core vocabularies.
    fig.savefig(buf, format="svg", bbox_inches="tight",
                metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inlined in HTML


def heatmap_svg(grid: list[list[int]], title: str = "Tickets created by hour of week (UTC)"
                ) -> str:
    """A 7 x 24 heatmap of arrivals."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 2.8))
        image = ax.imshow(grid, aspect="auto", cmap="Blues")
        ax.set_yticks(range(7), DAYS)
        ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
        ax.set_xlabel("hour (UTC)")
        ax.set_title(title)
        fig.colorbar(image, ax=ax, label="tickets")
        return _svg(fig)


def team_kpi_svg(groups: dict[str, dict[str, Any]], kpi: str, label: str,
                 scale: float = 1.0) -> str:
    """Horizontal bars of one KPI per team; thin-data bars are pale and every bar shows its n."""
    names = [n for n in groups if (groups[n].get(kpi) or {}).get("value") is not None]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7, 0.45 * max(2, len(names)) + 0.8))
        values = [groups[n][kpi]["value"] * scale for n in names]
        colors = [_THIN if groups[n][kpi]["thin"] else _SOLID for n in names]
        ax.barh(names, values, color=colors)
        for y, n in enumerate(names):
            fig_ = groups[n][kpi]
            mark = " (thin)" if fig_["thin"] else ""
            ax.text(values[y], y, f" {values[y]:.1f}  n={fig_['n']}{mark}", va="center",
                    fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.set_title(f"{label} per team (pale = fewer tickets than the threshold)")
        if not names:
            ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes)
        return _svg(fig)


def coverage_svg(rows: list[dict[str, Any]]) -> str:
    """Weekly agent-hours needed (Erlang C) against agent-hours the plan's headcount supplies."""
    labels = [f"{r['team']} / {r['tier']}" for r in rows]
    need = [r["agent_hours_needed"] for r in rows]
    have = [r["agent_hours_available"] for r in rows]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.5 * max(2, len(rows)) + 1))
        ys = list(range(len(rows)))
        ax.barh([y - 0.2 for y in ys], need, height=0.4, color="#c4523a", label="needed")
        ax.barh([y + 0.2 for y in ys], have, height=0.4, color=_SOLID, label="headcount supplies")
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
        ax.set_xlabel("agent-hours per week")
        ax.set_title("Coverage: agent-hours needed vs supplied, per team and tier")
        ax.legend(loc="lower right", frameon=False)
        return _svg(fig)
