"""The restructuring report: KPI baselines per role and the coverage each team needs (issue 7).

Library first: :func:`build_report` takes a stream of :class:`TicketHistory` and an
:class:`Attribution` (two callables from the plan) and returns JSON-ready data; the renderers
turn that into Markdown and a self-contained HTML page.
"""

from __future__ import annotations

from migrator.reporting.attribution import Attribution, source_attribution, tier_kind
from migrator.reporting.build import build_report
from migrator.reporting.history import (TicketHistory, histories_from_records,
                                        histories_from_store, join_histories)
from migrator.reporting.options import ReportOptions, load_nps, parse_duration, parse_period

__all__ = [
    "Attribution", "source_attribution", "tier_kind", "build_report", "TicketHistory",
    "histories_from_records", "histories_from_store", "join_histories", "ReportOptions",
    "load_nps", "parse_duration", "parse_period",
]
