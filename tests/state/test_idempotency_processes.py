"""Idempotency across processes: 1,024 concurrent duplicates execute once; a crashed call is taken
over after its lease expires."""

from __future__ import annotations

import multiprocessing
from multiprocessing.pool import Pool
from pathlib import Path

import pytest
from _workers import PROCESSES, THREADS, claim_then_crash, idempotent_worker, pool, run_everywhere

from railguard.state._counters import idempotency
from railguard.state.idempotency import Idempotency
from railguard.store import open_store

pytestmark = pytest.mark.slow  # each test starts processes

__all__ = ["pool"]


def test_one_execution_under_a_thousand_concurrent_duplicates(
    store_url: str, pool: Pool, tmp_path: Path
) -> None:
    open_store(store_url).close()
    marker = tmp_path / "executions.log"
    marker.touch()
    results = run_everywhere(pool, idempotent_worker, store_url, "charge/order-42", 32, str(marker), 0.3)
    flat = [r for per_process in results for r in per_process]
    assert len(flat) == PROCESSES * THREADS * 32 == 1024
    assert all(r == {"charge": "ch_1", "amount": 120} for r in flat)
    assert len(marker.read_text().splitlines()) == 1


def test_a_crashed_call_is_recovered_after_its_lease_expires(store_url: str) -> None:
    open_store(store_url).close()
    crasher = multiprocessing.get_context("spawn").Process(
        target=claim_then_crash, args=(store_url, "refund/r-9", 1.0)
    )
    crasher.start()
    crasher.join(60)
    assert crasher.exitcode == 17  # died inside the call, leaving the record "running"
    with open_store(store_url) as store:
        with store.read_connection() as conn:
            row = conn.execute(idempotency.select().where(idempotency.c.key == "refund/r-9")).one()
        assert (row.status, row.attempt) == ("running", 1)
        executed: list[int] = []

        def refund() -> str:
            executed.append(1)
            return "refunded"

        # waits for the dead owner's lease to run out, then takes over and executes once
        assert Idempotency(store, lease_s=1.0, wait_s=60).run("refund/r-9", refund) == "refunded"
        assert executed == [1]
        with store.read_connection() as conn:
            row = conn.execute(idempotency.select().where(idempotency.c.key == "refund/r-9")).one()
        assert (row.status, row.attempt) == ("done", 2)
