"""The state store's hot paths the benchmarks found: children by parent, upgrade to schema 2."""

from __future__ import annotations

import sqlalchemy as sa

from migrator.models import Comment, Entity, Ticket
from migrator.state import SCHEMA_VERSION, StateStore


def _store(url: str) -> StateStore:
    store = StateStore(url)
    records = []
    for t in range(30):
        tid = str(900 + t)
        records.append(Ticket(id=tid, subject=f"t{tid}"))
        records += [Comment(id=f"{tid}-{k}", ticket_id=tid, author_id=None, body=str(k))
                    for k in range(t % 4)]
    store.stage(records)
    return store


def test_children_of_equals_one_query_per_parent(state_url):
    store = _store(state_url)
    parents = [str(900 + t) for t in range(30)] + ["nope"]
    grouped = store.children_of(Entity.COMMENTS, parents)
    for pid in parents:
        one = [c.id for c in store.iter_staged(Entity.COMMENTS, parent_id=pid)]
        assert [c.id for c in grouped.get(pid, [])] == one
    assert sum(len(v) for v in grouped.values()) == sum(t % 4 for t in range(30))


def test_sqlite_reads_a_parents_children_through_the_parent_index(tmp_path):
    store = _store(f"sqlite:///{tmp_path / 's.db'}")
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT source_id, payload FROM staged WHERE entity = 'comments' "
            "AND parent_id = '905' AND source_id > '' ORDER BY source_id LIMIT 1000").all()
    assert "ix_staged_parent_id" in str(plan)


def test_a_version_1_database_is_upgraded_to_the_new_index(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = _store(url)
    with store.engine.begin() as conn:  # make it look like a release-1 database
        conn.execute(sa.text("DROP INDEX ix_staged_parent_id"))
        conn.execute(sa.text("CREATE INDEX ix_staged_parent ON staged (entity, parent_id)"))
        conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
        conn.execute(sa.text("ALTER TABLE batch_items DROP COLUMN digest"))  # before schema 4
        conn.execute(sa.text("ALTER TABLE batch_items DROP COLUMN existed"))  # before schema 5
        conn.execute(sa.text("INSERT INTO batches (run_id, entity, status, created_at, "
                             "updated_at) VALUES (1, 'tickets', 'pending', 0, 0)"))
        conn.execute(sa.text("INSERT INTO batch_items (batch_id, source_id) VALUES (1, '905')"))
    store.close()
    again = StateStore(url)
    names = {ix["name"] for ix in sa.inspect(again.engine).get_indexes("staged")}
    assert "ix_staged_parent_id" in names and "ix_staged_parent" not in names
    assert again.get_meta("schema_version") == str(SCHEMA_VERSION) == "5"
    assert "stamp" in {c["name"] for c in sa.inspect(again.engine).get_columns("records")}
    assert len(list(again.iter_staged(Entity.TICKETS))) == 30
    # a batch left open by an older release: its items have no digest (recovery then resends)
    [batch] = again.open_batches()
    assert batch["source_ids"] == ["905"] and batch["digests"] == {"905": None}
    assert batch["existed"] == set()
