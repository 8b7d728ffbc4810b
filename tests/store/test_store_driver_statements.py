"""PostgreSQL statements that commit on their own (`Store.driver_statements`, the guards' decision
path): each is one round trip, a failed one rolls itself back, and the pooled connection goes back
to transaction mode, so SQLAlchemy transactions and driver transactions on it still roll back as a
whole."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from railguard.errors import StoreError
from railguard.store import Store, open_store


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    with open_store(pg_url) as opened:
        with opened.write_transaction() as conn:
            conn.exec_driver_sql("CREATE TABLE t (k integer PRIMARY KEY)")
        yield opened


def _keys(store: Store) -> list[int]:
    with store.driver_transaction(write=False) as tx:
        return sorted(k for (k,) in tx.rows("SELECT k FROM t"))


def test_each_statement_commits_by_itself_and_a_failed_one_changes_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="duplicate key"), store.driver_statements() as tx:
        tx.rows("INSERT INTO t VALUES (1)")
        tx.rows("INSERT INTO t (k) SELECT * FROM (VALUES (2), (1)) AS v")  # fails as a whole
    assert _keys(store) == [1]  # the first statement stands: it committed by itself


def test_the_connection_goes_back_to_transactions(store: Store) -> None:
    with store.driver_statements() as tx:
        tx.rows("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError), store.driver_transaction() as tx:  # the same pooled connection
        tx.rows("INSERT INTO t VALUES (2)")
        tx.rows("INSERT INTO t VALUES (3)")
        raise RuntimeError("roll it all back")
    with pytest.raises(RuntimeError), store.write_transaction() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (4)")
        raise RuntimeError("roll it all back")
    assert _keys(store) == [1]
    with store.driver_statements() as tx:
        with pytest.raises(psycopg.errors.UniqueViolation):
            tx.rows("INSERT INTO t VALUES (1)")
        tx.rows("INSERT INTO t VALUES (5)")  # usable after a failed statement
    assert _keys(store) == [1, 5]
