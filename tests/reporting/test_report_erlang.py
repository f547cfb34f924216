"""Erlang C against published reference values and an independent textbook computation.

Reference: the classic worked example (callcentrehelper.com, "Erlang C formula - made simple"):
100 calls in 30 minutes, 180 s average handling time, target answer time 20 s. Traffic intensity
A = (100 / 1800 s) * 180 s = 10 Erlangs. Published: N = 11 agents -> Pw = 0.682, service level
0.39; N = 13 -> service level 0.80 (0.7956 unrounded, so a strict 80 % target needs 14);
N = 14 -> Pw = 0.174. For N = 14 the service level is 0.888 (not 0.876 as sometimes quoted): the
independent computation below, from the factorial form of the formula, agrees with 0.888.
"""

from __future__ import annotations

import math

import pytest

from migrator.reporting.coverage import (ArrivalBook, agents_needed, coverage_rows, erlang_b,
                                         erlang_c, service_level)

A = 100 / 1800 * 180  # 10 Erlangs


def textbook_erlang_c(n: int, a: float) -> float:
    """Pw from the factorial form: (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + that)."""
    top = a ** n / math.factorial(n) * n / (n - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize("n, pw, sl", [(11, 0.682, 0.39), (12, 0.449, 0.64), (13, 0.285, 0.80),
                                       (14, 0.174, 0.888)])
def test_classic_example_published_values(n, pw, sl):
    assert A == pytest.approx(10.0)
    assert erlang_c(n, A) == pytest.approx(pw, abs=5e-4)
    assert service_level(n, A, 180, 20) == pytest.approx(sl, abs=5e-3)


@pytest.mark.parametrize("n, a", [(11, 10.0), (14, 10.0), (3, 2.5), (30, 24.7), (60, 51.3)])
def test_matches_the_independent_factorial_form(n, a):
    assert erlang_c(n, a) == pytest.approx(textbook_erlang_c(n, a), rel=1e-9)


def test_erlang_b_reference_value():
    # Erlang B tables: 10 Erlangs on 10 lines blocks 21.46 % of calls.
    assert erlang_b(10, 10.0) == pytest.approx(0.2146, abs=1e-4)


def test_agents_needed_is_the_first_n_that_meets_the_target():
    rate_per_hour = 200  # 100 per 30 minutes
    assert agents_needed(rate_per_hour, 180, 0.79, 20) == 13  # SL(13) = 0.7956
    assert agents_needed(rate_per_hour, 180, 0.80, 20) == 14  # strictly 80 %: 13 falls short
    assert agents_needed(rate_per_hour, 180, 0.389, 20) == 11  # SL(11) = 0.3896
    assert agents_needed(rate_per_hour, 180, 0.89, 20) == 15  # SL(14) = 0.8884


def test_no_traffic_needs_nobody_and_overload_never_meets_a_target():
    assert agents_needed(0, 180, 0.8, 20) == 0
    assert erlang_c(10, 10.0) == 1.0 and service_level(9, 10.0, 180, 20) == 0.0


def test_large_traffic_is_numerically_stable():
    # The factorial form overflows floats near N = 171; the recursive form must not.
    n = agents_needed(3600 * 2, 300, 0.8, 20)  # 600 Erlangs
    assert 600 < n < 660
    assert 0.8 <= service_level(n, 600.0, 300, 20) < service_level(n + 1, 600.0, 300, 20)


def test_coverage_rows_compare_need_with_headcount():
    book = ArrivalBook()
    monday_9 = 1704099600.0  # 2024-01-01T09:00:00Z, a Monday
    for week in range(2):
        for i in range(20):  # 20 tickets in the Monday 09:00 hour, two weeks running
            book.add("alpha", "l1", "email", monday_9 + week * 7 * 86400 + i * 60)
    rows = coverage_rows(book, {"l1": (180 / 60, False)}, {("alpha", "l1"): 2},
                         target_sl=0.8, within_s=20)
    row = rows[0].to_json()
    assert row["tickets"] == 40
    assert book.weeks == 2  # two Mondays observed
    assert row["needed_by_hour"][9] == agents_needed(20, 180, 0.8, 20)
    assert sum(1 for x in row["needed_by_hour"] if x) == 1
    assert row["agent_hours_available"] == 80
    assert row["idle_agent_hours"] == 80 - row["agent_hours_needed"]
    assert book.heatmap()[0][9] == 40
