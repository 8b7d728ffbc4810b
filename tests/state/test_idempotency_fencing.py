"""Idempotency that cannot double-execute, on SQLite and PostgreSQL: a thousand concurrent
duplicates (4 processes x 250 threads) run the call once even though it lasts several leases (the
lease is renewed on a connection of its own, which the duplicates' polling cannot starve; before the
fix a lapsed renewal let a second execution start exactly one lease after the first), and a
claimant paused past its lease finds the key taken over and does not run at all (fencing)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from multiprocessing.pool import Pool
from pathlib import Path

import pytest
from _idem_storm import paused_claimant, storm

from railguard.state._counters import idempotency
from railguard.state.idempotency import Idempotency, IdempotencyLeaseLost, fencing_token
from railguard.store import open_store

PROCESSES = 4
THREADS = 250
RUNS = 3


@pytest.fixture(scope="module")
def storm_pool() -> Iterator[Pool]:
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as workers:
        yield workers


@pytest.mark.slow
@pytest.mark.parametrize("run", range(RUNS))
def test_a_thousand_concurrent_duplicates_execute_once_across_renewed_leases(
    store_url: str, storm_pool: Pool, tmp_path: Path, run: int
) -> None:
    open_store(store_url).close()
    marker = tmp_path / "executions.log"
    marker.touch()
    # The call lasts 3 leases: without renewal (or with a renewal starved by the duplicates) the
    # lease lapses mid-call and a duplicate executes a second time.
    args = (store_url, f"charge/order-{run}", THREADS, str(marker), 3.0, 1.0)
    results = [r for per_process in storm_pool.starmap(storm, [args] * PROCESSES) for r in per_process]
    assert len(results) == PROCESSES * THREADS == 1000
    assert marker.read_text().splitlines() == [marker.read_text().split()[0] + " 1"]
    assert all(r == {"charge": "ch_1", "token": 1} for r in results), {str(r) for r in results}


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_claimant_paused_past_its_lease_never_executes(store_url: str, tmp_path: Path) -> None:
    open_store(store_url).close()
    marker, answer = tmp_path / "executions.log", tmp_path / "answer.json"
    marker.touch()
    lease_s = 0.5
    claimant = multiprocessing.get_context("spawn").Process(
        target=paused_claimant, args=(store_url, "refund/r-1", str(marker), lease_s, str(answer))
    )
    claimant.start()
    try:
        assert claimant.pid is not None
        deadline = time.monotonic() + 120
        while not _stopped(claimant.pid):  # it claimed the key and stopped itself before running
            assert claimant.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        with open_store(store_url) as store:
            # A duplicate takes over once the paused lease runs out, and executes (attempt 2).
            idem = Idempotency(store, lease_s=lease_s, wait_s=60)
            result = idem.run("refund/r-1", lambda: {"charge": "ch_1", "token": fencing_token()})
            assert result == {"charge": "ch_1", "token": 2}
            os.kill(claimant.pid, signal.SIGCONT)
            claimant.join(120)
            # Resumed, the first claimant found its lease gone: it did not run, it got the result.
            assert claimant.exitcode == 0
            assert json.loads(answer.read_text()) == {"charge": "ch_1", "token": 2}
            with store.read_connection() as conn:
                row = conn.execute(idempotency.select().where(idempotency.c.key == "refund/r-1")).one()
            assert (row.status, row.attempt) == ("done", 2)
    finally:
        if claimant.is_alive():
            os.kill(claimant.pid, signal.SIGCONT)
            claimant.kill()
            claimant.join()
    assert marker.read_text() == ""  # the paused claimant never executed


def test_a_call_whose_lease_was_taken_over_cannot_commit(store_url: str) -> None:
    with open_store(store_url) as store:
        stale = Idempotency(store, lease_s=60)
        fresh = Idempotency(store, lease_s=60)

        def taken_over_meanwhile() -> str:
            # While this call runs, its lease is forced out and a duplicate takes the key over.
            with store.write_transaction() as conn:
                conn.execute(idempotency.update().values(lease_until=0.0))
            assert fresh.run("k", lambda: f"second:{fencing_token()}") == "second:2"
            return f"first:{fencing_token()}"

        with pytest.raises(IdempotencyLeaseLost, match="taken over"):
            stale.run("k", taken_over_meanwhile)
        assert fresh.run("k", lambda: "never") == "second:2"  # the replacing call's result stands
