"""The state store behaves the same on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
import pytest

from migrator.errors import ConfigError
from migrator.models import Comment, Entity, Outcome, Ticket, Attachment
from migrator.state import SCHEMA_VERSION, RecordOutcome, StateStore


def _tickets(n, start=0):
    return [Ticket(id=str(i), subject=f"t{i}", status="open", updated_at="2025-01-01T00:00:00Z")
            for i in range(start, start + n)]


def test_stage_and_stream_in_pages(state_url):
    store = StateStore(state_url)
    store.stage(_tickets(25))
    got = list(store.iter_staged(Entity.TICKETS, page=7))
    assert sorted(int(t.id) for t in got) == list(range(25))
    assert all(isinstance(t, Ticket) for t in got)
    assert store.count_staged(Entity.TICKETS) == 25
    store.close()


def test_restaging_replaces_and_cursor_moves_with_page(state_url):
    store = StateStore(state_url)
    store.stage(_tickets(3), cursor=("zendesk:tickets", "c1"))
    changed = Ticket(id="1", subject="changed", status="solved")
    store.stage([changed], cursor=("zendesk:tickets", "c2"))
    assert store.count_staged(Entity.TICKETS) == 3
    assert store.get_staged(Entity.TICKETS, "1").subject == "changed"
    assert store.get_cursor("zendesk:tickets") == "c2"
    store.close()


def test_cursor_not_moved_when_page_fails(state_url):
    store = StateStore(state_url)
    store.stage(_tickets(2), cursor=("s", "before"))

    class Broken:
        entity = Entity.TICKETS
        id = None  # violates NOT NULL on source_id -> the transaction rolls back

    with pytest.raises(Exception):
        store.stage([Ticket(id="9", subject="ok"), Broken()], cursor=("s", "after"))
    assert store.get_cursor("s") == "before"
    assert store.get_staged(Entity.TICKETS, "9") is None
    store.close()


def test_comments_by_parent_with_nested_attachments(state_url):
    store = StateStore(state_url)
    att = Attachment(id="a1", file_name="Fünf.pdf", size=10, inline=True)
    comments = [Comment(id=f"c{i}", ticket_id="t1" if i < 3 else "t2", author_id="u", body="héllo",
                        attachments=[att] if i == 0 else []) for i in range(5)]
    store.stage(comments)
    got = list(store.iter_staged(Entity.COMMENTS, parent_id="t1"))
    assert [c.id for c in got] == ["c0", "c1", "c2"]
    assert got[0].attachments[0] == att
    store.close()


def test_batches_outcomes_and_id_map(state_url):
    store = StateStore(state_url)
    run = store.start_run("migrate")
    bid = store.open_batch(run, Entity.TICKETS, ["1", "2", "3"], {"1": "d1", "2": None}, {"3"})
    open_ = store.open_batches(Entity.TICKETS)
    assert [(b["id"], b["status"], sorted(b["source_ids"])) for b in open_] == [(bid, "pending", ["1", "2", "3"])]
    assert open_[0]["digests"] == {"1": "d1", "2": None, "3": None}  # what each was sent with
    assert open_[0]["existed"] == {"3"}  # held by the target before the run
    store.mark_sent(bid, "job-9")
    assert store.open_batches()[0]["job_id"] == "job-9"
    store.finish_batch(bid, Entity.TICKETS, [
        RecordOutcome("1", Outcome.CREATED, "101"),
        RecordOutcome("2", Outcome.REUSED, "102"),
        RecordOutcome("3", Outcome.FAILED, reason="422 requester is blank"),
    ], run, cursor=("load:tickets", "3"))
    assert store.open_batches() == []
    assert store.target_ids(Entity.TICKETS) == {"1": "101", "2": "102"}
    assert store.created_by_run(Entity.TICKETS, run) == {"1": "101"}
    assert store.outcome_counts()["tickets"] == {"created": 1, "reused": 1, "failed": 1}
    [failed] = store.failed()
    assert failed["source_id"] == "3" and "requester" in failed["reason"]
    assert store.get_cursor("load:tickets") == "3"

    # A retry that succeeds keeps the id map, counts the attempt, and belongs to the new run.
    run2 = store.start_run("migrate")
    store.record_outcomes(Entity.TICKETS, [RecordOutcome("3", Outcome.CREATED, "103")], run2)
    rows = store.record_rows(Entity.TICKETS, ["3"])
    assert rows["3"]["attempts"] == 2 and rows["3"]["created_run"] == run2
    assert store.created_by_run(Entity.TICKETS, run) == {"1": "101"}
    store.forget_records(Entity.TICKETS, ["1"])
    assert "1" not in store.target_ids(Entity.TICKETS)
    store.close()


def test_created_run_is_kept_when_a_later_run_updates(state_url):
    store = StateStore(state_url)
    r1, r2 = store.start_run("migrate"), store.start_run("migrate")
    store.record_outcomes(Entity.END_USERS, [RecordOutcome("u", Outcome.CREATED, "9")], r1)
    store.record_outcomes(Entity.END_USERS, [RecordOutcome("u", Outcome.UPDATED, None)], r2)
    assert store.created_by_run(Entity.END_USERS, r1) == {"u": "9"}
    assert store.created_by_run(Entity.END_USERS, r2) == {}
    # "created" again by a later run (a resend): still the first run's, rollback of r2 keeps it
    store.record_outcomes(Entity.END_USERS, [RecordOutcome("u", Outcome.CREATED, "")], r2)
    assert store.created_by_run(Entity.END_USERS, r1) == {"u": "9"}  # an empty id keeps "9"
    assert store.record_rows(Entity.END_USERS, ["u"])["u"]["attempts"] == 3
    store.close()


def test_runs_are_recorded(state_url):
    store = StateStore(state_url)
    rid = store.start_run("export", {"since": "2024-01-01"})
    store.finish_run(rid, "done")
    [run] = store.list_runs()
    assert run["status"] == "done" and run["options"] == {"since": "2024-01-01"}
    store.close()


def test_schema_version_written_and_reopen_keeps_data(state_url):
    store = StateStore(state_url)
    store.stage(_tickets(1))
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    store.close()
    again = StateStore(state_url)
    assert again.count_staged(Entity.TICKETS) == 1
    again.close()


def test_newer_schema_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = StateStore(url)
    store.set_meta("schema_version", str(SCHEMA_VERSION + 5))
    store.close()
    with pytest.raises(ConfigError, match="newer release"):
        StateStore(url)


def test_unreachable_database_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot open the state database"):
        StateStore("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1")


def test_postgres_backend_really_is_postgres(pg_url):
    store = StateStore(pg_url)
    assert store.dialect == "postgresql"
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select current_schema()")).scalar().startswith("t_")
    store.close()


@pytest.mark.parametrize("url, said", [
    ("mysql://bob:s3cret@db/x", "SQLite or PostgreSQL"),
    ("postgresql://bob:s3cret@db:notaport/x", "not valid")])
def test_a_state_url_it_cannot_use_is_a_clear_error_without_the_password(url, said):
    with pytest.raises(ConfigError) as err:
        StateStore(url)
    assert said in err.value.message and "s3cret" not in str(err.value)
