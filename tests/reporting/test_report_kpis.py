"""Each KPI on a small hand-built history with a known answer, edge cases included."""

from __future__ import annotations

import pytest

from tests.reporting.report_kit import Desk, value


def approx(x):
    return pytest.approx(x, abs=1e-3)  # the JSON keeps 4 decimals


def dept(report):
    return report["department"]


def test_first_response_average_median_and_never_responded():
    d = Desk()
    d.ticket("1", reply=1)
    d.ticket("2", reply=2)
    d.ticket("3", reply=6)
    d.ticket("4")  # never answered; an internal note is not a response
    d.comment("4", "a1", 0.5, public=False)
    d.ticket("5", requester="a2")  # opened by an agent: the description is not a reply
    r = d.report()
    assert value(dept(r)["first_response_avg_h"]) == approx(3.0)
    assert value(dept(r)["first_response_median_h"]) == approx(2.0)
    assert dept(r)["first_response_avg_h"]["n"] == 3
    assert value(dept(r)["never_responded"]) == 2


def test_first_response_falls_back_to_vendor_metric_without_comments():
    d = Desk()
    d.ticket("1", first_responded_at="2024-01-01T04:00:00Z")
    d.comments.clear()  # comments were not exported
    r = d.report()
    assert value(dept(r)["first_response_avg_h"]) == approx(4.0)
    assert value(dept(r)["never_responded"]) == 0


def test_resolution_time_rate_and_reopens_use_the_last_solve():
    d = Desk()
    d.ticket("1", status="solved", reply=1)
    d.event("1", "status", "open", "solved", 10)
    d.ticket("2", status="solved", solved=5, reply=1)  # stale solved_at: events win
    d.event("2", "status", "open", "solved", 5)
    d.event("2", "status", "solved", "open", 20)
    d.event("2", "status", "open", "solved", 30)
    d.ticket("3", status="closed", solved=4, reply=1)  # no events: the ticket's timestamp
    d.ticket("4", status="open", reply=1)
    r = d.report()
    assert value(dept(r)["resolution_avg_h"]) == approx((10 + 30 + 4) / 3)
    assert value(dept(r)["resolution_median_h"]) == approx(10)
    assert value(dept(r)["resolution_rate"]) == approx(3 / 4)
    assert value(dept(r)["reopen_rate"]) == approx(1 / 3)
    assert dept(r)["reopen_rate"]["n"] == 3


def test_first_contact_resolution():
    d = Desk()
    d.ticket("1", status="solved", solved=3, reply=1)  # one touch: yes
    d.ticket("2", status="solved", solved=9, reply=1)  # customer wrote again: no
    d.comment("2", "c1", 4)
    d.comment("2", "a1", 5)
    d.ticket("3", status="solved", solved=9, reply=1)  # reopened: no
    d.event("3", "status", "open", "solved", 2)
    d.event("3", "status", "solved", "open", 3)
    d.event("3", "status", "open", "solved", 9)
    d.ticket("4", status="solved", solved=9, reply=1, group="g2")  # escalated L1 -> L2: no
    d.event("4", "group_id", "g1", "g2", 2)
    d.ticket("5", status="solved", solved=2)  # solved without any reply: not in the base
    d.ticket("6", status="open", reply=1)  # not solved: not in the base
    r = d.report()
    assert value(dept(r)["fcr_rate"]) == approx(1 / 4)
    assert dept(r)["fcr_rate"]["n"] == 4


def test_csat_latest_rating_wins_and_offers_are_not_ratings():
    d = Desk()
    for tid in "1234":
        d.ticket(tid, status="solved", solved=2, reply=1)
    d.rating("1", "good", 3)
    d.rating("2", "bad", 3)
    d.rating("2", "good", 5)  # the customer changed their mind
    d.rating("3", "offered", 3)
    d.rating("4", "bad", 3)
    r = d.report()
    assert value(dept(r)["csat"]) == approx(2 / 3)
    assert dept(r)["csat"]["n"] == 3


def test_deleted_spam_and_merged_tickets_are_left_out_and_counted():
    d = Desk()
    d.ticket("1", reply=1)
    d.ticket("2", reply=1, deleted=True)
    d.ticket("3", reply=1, spam=True)
    d.ticket("4", status="closed", solved=1, tags=["closed_by_merge"])
    r = d.report()
    assert value(dept(r)["tickets"]) == 1
    assert dept(r)["excluded"] == {"deleted": 1, "merged": 1, "spam": 1}
    assert sum(row["tickets"] for row in r["coverage"]["rows"]) == 1
    assert any("1 deleted" in w and "1 merged" in w for w in r["warnings"])


def test_agents_who_left_keep_their_tickets_in_the_team():
    d = Desk()
    d.ticket("1", assignee="a4", reply=1)  # a4 is deactivated
    d.ticket("2", assignee="a9", reply=1)  # a9 is no longer in the source at all
    d.ticket("3", assignee="a1", reply=1)
    r = d.report()
    assert r["agents"]["a4"]["left"] and r["agents"]["a4"]["tier"] == "(left)"
    assert r["agents"]["a9"]["left"] and r["agents"]["a9"]["name"] == "agent a9"
    assert not r["agents"]["a1"]["left"] and r["agents"]["a1"]["tier"] == "l1"
    assert value(r["teams"]["alpha"]["tickets"]) == 3
    heads = {(row["team"], row["tier"]): row["headcount"] for row in r["coverage"]["rows"]}
    assert heads[("alpha", "l1")] == 1  # a1 only: a4 has left


def test_escalation_rates_from_group_changes():
    d = Desk()
    d.ticket("1", group="g2", status="solved", solved=5, reply=1)
    d.event("1", "group_id", None, "g1", 0)  # the creation event is not a move
    d.event("1", "group_id", "g1", "g2", 2)
    d.ticket("2", group="g1", status="solved", solved=5, reply=1)
    d.event("2", "group_id", None, "g1", 0)
    d.ticket("3", group="g2", status="open", reply=1)
    d.event("3", "group_id", "g1", "g2", 1)
    d.ticket("4", group="g2", status="solved", solved=5, reply=1)
    r = d.report()
    l1, l2 = r["tiers"]["l1"], r["tiers"]["l2"]
    assert value(l1["escalated_out_rate"]) == approx(2 / 3) and l1["escalated_out_rate"]["n"] == 3
    assert value(l2["escalated_in_rate"]) == approx(2 / 3)
    assert value(l2["escalated_resolution_rate"]) == approx(1 / 2)
    assert l2["escalated_resolution_rate"]["n"] == 2
    assert value(dept(r)["escalated_out_rate"]) == approx(2 / 4)
    assert l1["kind"] == "l1" and l2["kind"] == "l2"


def test_escalation_by_assignment_to_an_agent_of_another_tier():
    d = Desk()
    d.ticket("1", group="g1", assignee="a2", status="solved", solved=5, reply=1)
    d.event("1", "assignee_id", None, "a1", 0)
    d.event("1", "assignee_id", "a1", None, 1)  # unassigned for a while: not a move
    d.event("1", "assignee_id", None, "a2", 2)  # a2 is Level 2
    r = d.report()
    assert value(r["tiers"]["l1"]["escalated_out_rate"]) == 1.0
    assert value(r["tiers"]["l2"]["escalated_in_rate"]) == 1.0


def test_handling_time_prefers_time_entries_and_labels_estimates():
    d = Desk()
    d.ticket("1", group="g1", reply=1)
    d.logged("1", "a1", 600)
    d.logged("1", "a1", 1200)
    d.ticket("2", group="g1", reply=1)
    d.logged("2", "a1", 600)
    d.ticket("3", group="g3", assignee="a3", reply=1)  # no time logged: 2 replies x 8 min
    d.comment("3", "a3", 3)
    r = d.report()
    assert value(r["tiers"]["l1"]["handling_avg_min"]) == approx(20.0)
    assert "estimate" not in r["teams"]["alpha"]["handling_avg_min"]
    beta = r["teams"]["beta"]["handling_avg_min"]
    assert value(beta) == approx(16.0) and beta["estimate"] is True


def test_handling_estimate_warning_when_no_time_is_logged():
    d = Desk()
    d.ticket("1", reply=1)
    r = d.report()
    assert r["department"]["handling_avg_min"]["estimate"] is True
    assert any("estimates" in w for w in r["warnings"])


def test_repeat_rate_of_technical_issues_by_requester_and_organisation():
    d = Desk()
    d.ticket("1", requester="c1", tags=["api"], created=48, reply=1)
    d.ticket("2", requester="c1", tags=["api"], created=0, reply=1)  # earlier: the one that failed
    d.ticket("3", requester="c2", tags=["api"], created=0, reply=1)
    d.ticket("4", requester="c2", tags=["api"], created=30 * 24, reply=1)  # outside 14 days
    d.ticket("5", requester="c3", organization_id="o1", tags=["bug"], created=0, reply=1)
    d.ticket("6", requester="c4", organization_id="o1", tags=["bug"], created=24, reply=1)
    d.ticket("7", requester="c3", tags=["billing"], created=1, reply=1)  # not technical
    d.ticket("8", requester="c1", tags=["bug"], created=50, reply=1)  # other technical key
    r = d.report()
    assert dept(r)["tech_repeat_rate"]["n"] == 7
    assert value(dept(r)["tech_repeat_rate"]) == approx(2 / 7)


def test_backlog_and_before_after_comparison():
    from migrator.reporting import parse_period

    d = Desk()
    d.ticket("1", created=0, status="solved", solved=10, reply=1)
    d.ticket("2", created=24, status="solved", solved=200, reply=1)  # solved after the period
    d.ticket("3", created=48, status="open", reply=1)
    d.ticket("4", created=170, status="solved", solved=171, reply=1)
    d.ticket("5", created=180, status="open", reply=1)
    before = parse_period("2024-01-01:2024-01-08", "before")
    after = parse_period("2024-01-08:2024-01-15", "after")
    r = d.report(before=before, after=after)
    alpha = r["comparison"]["team"]["alpha"]
    assert value(alpha["backlog"]["before"]) == 2 and value(alpha["backlog"]["after"]) == 1
    assert alpha["backlog"]["delta"] == -1
    assert value(alpha["resolution_median_h"]["before"]) == approx((10 + 176) / 2)
    assert value(alpha["resolution_median_h"]["after"]) == approx(1)
    assert value(alpha["tickets"]["before"]) == 3
    assert "a1" in r["comparison"]["agent"]
    assert value(dept(r)["backlog"]) == 2  # open at the end of the data: 3 and 5


def test_customer_return_rate():
    d = Desk()
    d.ticket("1", requester="c1", created=0)
    d.ticket("2", requester="c1", created=40 * 24)
    d.ticket("3", requester="c2", created=0)
    d.ticket("4", requester="c2", created=10 * 24)
    d.ticket("5", requester="c3", created=0)
    r = d.report()
    assert value(dept(r)["customer_return_rate"]) == approx(1 / 3)
    assert dept(r)["customer_return_rate"]["n"] == 3


def test_thin_data_is_flagged_not_trusted():
    d = Desk()
    for tid in "123":
        d.ticket(tid, status="solved", solved=2, reply=1)
    r = d.report(min_n=20)
    fig = dept(r)["resolution_median_h"]
    assert fig["thin"] is True and "n=3 < 20" in fig["warning"]
    assert any("Only 3 tickets" in w for w in r["warnings"])
    assert dept(d.report(min_n=3))["resolution_median_h"]["thin"] is False


def test_a_custom_status_counts_as_its_category():
    from migrator.models import Ticket
    from migrator.reporting.attribution import source_attribution
    from migrator.reporting.facts import ticket_facts
    from migrator.reporting.history import TicketHistory
    where = source_attribution([], [])
    bot = Ticket(id="1", subject="s", status="Resolved by bot", extra={"status_category": "solved"},
                 created_at="2024-01-01T00:00:00Z", solved_at="2024-01-01T02:00:00Z")
    vendor = Ticket(id="2", subject="s", status="Waiting on vendor", extra={"status_category": "pending"},
                    created_at="2024-01-01T00:00:00Z")
    solved = ticket_facts(TicketHistory(bot), where)
    assert solved.solved and solved.solved_at is not None
    assert not ticket_facts(TicketHistory(vendor), where).solved
