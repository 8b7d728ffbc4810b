"""Limits under real contention: 4 processes x 8 threads on one SQLite file or one PostgreSQL schema."""

from __future__ import annotations

from multiprocessing.pool import Pool

import pytest
from _workers import PROCESSES, THREADS, count_limit_worker, pool, refund_limit_worker, run_everywhere

from railguard.state._counters import counters, read_counter
from railguard.store import open_store

pytestmark = pytest.mark.slow  # each test starts processes

__all__ = ["pool"]


def test_sum_limit_is_never_exceeded_under_contention(store_url: str, pool: Pool) -> None:
    open_store(store_url).close()  # migrate once, before the workers race
    allowed = sum(run_everywhere(pool, refund_limit_worker, store_url, 6, 7.0, 500.0))
    # 192 attempts of 7.00 against a 500.00 cap: exactly floor(500 / 7) = 71 may pass, never 72.
    assert PROCESSES * THREADS * 6 == 192
    assert allowed == 71
    with open_store(store_url) as store, store.read_connection() as conn:
        (key,) = [row[0] for row in conn.execute(counters.select().with_only_columns(counters.c.key))]
        state = read_counter(conn, key)
    assert state.calls == 71 and state.total == 71 * 7_000_000


def test_count_limit_is_exact_under_contention(store_url: str, pool: Pool) -> None:
    open_store(store_url).close()
    allowed = sum(run_everywhere(pool, count_limit_worker, store_url, 5, 37))
    assert allowed == 37
