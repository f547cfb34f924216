"""The repeat tracker keeps the customers active lately, not all of them, and still counts."""

from __future__ import annotations

from migrator.reporting.facts import TicketFacts
from migrator.reporting.kpis import KpiBook, Period, RepeatTracker

DAY = 86400.0


def facts(tid: int, customer: str, created: float) -> TicketFacts:
    return TicketFacts(ticket_id=str(tid), created=created, team="t", tier="l1", agent_id=None,
                       agent_tier="l1", agent_team="t", agent_left=False, channel="email",
                       requester_id=customer, organization_id=None,
                       tech_keys=frozenset({"tag:bug"}))


def test_old_customers_are_forgotten_and_repeats_still_count():
    book = KpiBook([Period("all", None, None)])
    tracker = RepeatTracker(window=7 * DAY, sweep_every=10)
    for i in range(1000):  # one new customer a day, each writing twice three days apart
        for k, created in ((2 * i, i * DAY), (2 * i + 1, i * DAY + 3 * DAY)):
            f = facts(k, f"c{i}", created)
            tracker.add(f, book.add(f, None), book)
    assert tracker.hits == 1000  # every customer's first ticket repeated
    assert len(tracker) <= 30  # about two windows of customers, not 1,000
    assert book.get("all", "department", "all").repeat.hits == 1000
