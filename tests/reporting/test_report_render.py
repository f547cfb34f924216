"""Renderers: self-contained HTML, Markdown, JSON shape, n on every figure, NPS only when given."""

from __future__ import annotations

import json
import re

import pytest

from migrator.errors import ConfigError
from migrator.reporting import load_nps, parse_duration, parse_period
from migrator.reporting.render_html import render_html
from migrator.reporting.render_md import render_markdown
from tests.reporting.report_kit import Desk


@pytest.fixture(scope="module")
def report():
    d = Desk()
    for i in range(30):
        tid = f"{i:03d}"
        group = ("g1", "g2", "g3", "g4")[i % 4]
        d.ticket(tid, created=i * 5, group=group, assignee=("a1", "a2", "a3", "a5")[i % 4],
                 status="solved" if i % 3 else "open", solved=i * 5 + 8, reply=1,
                 tags=["api"] if i % 4 == 3 else [], channel=("email", "chat")[i % 2])
        if i % 5 == 0:
            d.rating(tid, "good" if i % 2 else "bad", i * 5 + 9)
    d.ticket("999", deleted=True)
    return d.report(min_n=20, nps=[])  # an empty survey: NPS present, with no data


def figures(node):
    """Every figure dict in the report (anything that has a value and a unit)."""
    if isinstance(node, dict):
        if "value" in node and "unit" in node:
            yield node
        else:
            for child in node.values():
                yield from figures(child)
    elif isinstance(node, list):
        for child in node:
            yield from figures(child)


def test_json_shape(report):
    assert set(report) >= {"about", "department", "teams", "tiers", "team_tiers", "agents",
                           "coverage", "warnings"}
    assert set(report["teams"]) == {"alpha", "beta"}
    assert set(report["tiers"]) == {"l1", "l2", "engineer"}
    assert report["tiers"]["engineer"]["kind"] == "engineer"
    assert set(report["agents"]) == {"a1", "a2", "a3", "a5"}
    row = report["coverage"]["rows"][0]
    assert len(row["needed_by_hour"]) == 168 and "gap_agent_hours" in row
    assert len(report["coverage"]["heatmap"]) == 7 and len(report["coverage"]["assumptions"]) >= 3
    json.dumps(report)  # plain data only


def test_every_figure_carries_its_n_and_thin_ones_warn(report):
    figs = list(figures(report))
    assert len(figs) > 100
    for fig in figs:
        assert isinstance(fig["n"], int) and fig["thin"] == (fig["n"] < 20)
        if fig["thin"] or fig["value"] is None:
            assert fig["warning"]
    assert report["department"]["tickets"]["thin"] is False
    assert report["teams"]["alpha"]["tickets"]["thin"] is True  # 15 tickets


def test_nps_is_computed_only_from_supplied_scores(report, tmp_path):
    assert report["department"]["nps"]["value"] is None  # supplied but empty: no number
    csv = tmp_path / "nps.csv"
    csv.write_text("score,team\n10,alpha\n10,alpha\n9,beta\n8,beta\n3,alpha\n", encoding="utf-8")
    d = Desk()
    d.ticket("1", reply=1)
    with_nps = d.report(nps=load_nps(csv))
    assert with_nps["department"]["nps"]["value"] == pytest.approx(40.0)
    assert with_nps["department"]["nps"]["n"] == 5
    without = d.report()
    assert "nps" not in without["department"]
    assert "NPS" not in render_markdown(without).split("## Department")[1].split("##")[0]


@pytest.mark.parametrize("text, where", [("score\n7\neleven\n", ":3"), ("rating\n5\n", "score"),
                                         ("score\n", "no survey answers")])
def test_bad_nps_files_name_the_problem(tmp_path, text, where):
    path = tmp_path / "nps.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_nps(path)
    assert where in exc.value.message


def test_html_is_self_contained(report):
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 4
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html)
    assert not re.search(r"url\(\s*['\"]?https?:", html)
    assert "thin data" in html and "(n=" in html and "Erlang C" in html


def test_markdown_has_every_section_and_marks_thin_data(report):
    md = render_markdown(report)
    for heading in ("## Department", "## Teams", "## Level 1", "## Level 2",
                    "## Technical support engineers", "## Agents", "## Coverage"):
        assert heading in md
    assert "⚠" in md and "(n=" in md


def test_before_after_renders_in_both_formats():
    d = Desk()
    d.ticket("1", created=0, status="solved", solved=4, reply=1)
    d.ticket("2", created=200, status="solved", solved=202, reply=1)
    r = d.report(before=parse_period("2024-01-01:2024-01-08", "before"),
                 after=parse_period("2024-01-08T00:00:00Z:2024-01-15T00:00:00Z", "after"))
    assert r["comparison"]["team"]["alpha"]["resolution_median_h"]["delta"] == pytest.approx(-2)
    assert "Before / after" in render_markdown(r) and "Before / after" in render_html(r)


@pytest.mark.parametrize("text", ["2024-01-01", "2024-02-01:2024-01-01", "x:y",
                                  "2024-13-01:2024-14-01"])
def test_bad_periods_are_config_errors(text):
    with pytest.raises(ConfigError) as exc:
        parse_period(text, "before")
    assert "--before" in exc.value.message


def test_durations():
    assert parse_duration("1h") == 3600 and parse_duration("30m") == 1800
    assert parse_duration("90") == 90 and parse_duration("2d") == 172800
    with pytest.raises(ConfigError):
        parse_duration("soon")
