"""Every wait on the database is bounded: a store that is hung, or locked by someone else, fails the
call with a StoreError (password masked) instead of stalling it. Before the fix an unresponsive
PostgreSQL was waited for forever and a locked SQLite file for 30 s."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from railguard.errors import StoreError
from railguard.store import open_store
from railguard.store._connect import PG_LOCK_TIMEOUT_MS, SQLITE_BUSY_TIMEOUT_MS

# Far above the configured timeouts (5 s connect, 5 s busy, 10 s lock) and far below "never".
BOUND_S = 40.0


def outcome_within(bound_s: float, call: Callable[[], Any]) -> BaseException | None:
    """Run `call` on a thread; the exception it ended with (None if it returned). Fails the test if
    it has not ended within `bound_s`."""
    result: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            result.append(None)
        except BaseException as err:
            result.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(bound_s)
    assert result, f"the store call was still waiting after {bound_s} s"
    return result[0]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers (a hung PostgreSQL)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def test_an_unresponsive_postgresql_fails_fast_with_a_masked_error(silent_server: int) -> None:
    url = f"postgresql://postgres:s3cretpw@127.0.0.1:{silent_server}/test"
    err = outcome_within(BOUND_S, lambda: open_store(url))
    assert isinstance(err, StoreError)
    assert "s3cretpw" not in str(err)


def test_a_locked_sqlite_file_fails_the_write_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = open_store(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        record = {"decision_id": "d1", "tool": "t", "verdict": "allow", "context": {}}
        err = outcome_within(BOUND_S, lambda: store.write_decisions([record]))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert isinstance(err, StoreError) and "locked" in str(err)
    assert SQLITE_BUSY_TIMEOUT_MS <= 5_000
    store.write_decisions([record])  # the lock gone, the same write goes through
    assert [d["decision_id"] for d in store.list_decisions(tenant=None)] == ["d1"]
    store.close()


def test_a_postgresql_lock_held_elsewhere_fails_the_write_after_the_lock_timeout(pg_url: str) -> None:
    store = open_store(pg_url)
    schema = pg_url.rsplit("%3D", 1)[1]
    holder = psycopg.connect(pg_url.split("?")[0])
    holder.execute(f'LOCK TABLE "{schema}".decisions IN ACCESS EXCLUSIVE MODE')
    try:
        record = {"decision_id": "d1", "tool": "t", "verdict": "allow", "context": {}}
        err = outcome_within(BOUND_S, lambda: store.write_decisions([record]))
    finally:
        holder.rollback()
        holder.close()
    assert isinstance(err, StoreError) and "lock timeout" in str(err)
    assert PG_LOCK_TIMEOUT_MS <= 10_000
    store.close()


def test_a_url_that_sets_its_own_timeouts_keeps_them(pg_url: str) -> None:
    with open_store(pg_url + "%20-clock_timeout%3D1234") as store, store.read_connection() as conn:
        assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "1234ms"
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "30s"
