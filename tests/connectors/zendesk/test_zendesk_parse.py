

def test_ticket_keeps_its_own_csat_score_for_targets_that_cannot_import_ratings():
    from connectors.zendesk.parse import parse_ticket
    rated = parse_ticket({"id": 5, "status": "solved", "satisfaction_rating": {
        "id": 77, "score": "bad", "comment": "slow", "created_at": "2025-02-01T10:00:00Z"}})
    assert rated.extra["satisfaction_rating"] == {"id": "77", "score": "bad", "comment": "slow",
                                                  "created_at": "2025-02-01T10:00:00Z"}
    offered = parse_ticket({"id": 6, "status": "solved",
                            "satisfaction_rating": {"score": "offered"}})
    assert "satisfaction_rating" not in offered.extra
