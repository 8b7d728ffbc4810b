"""Subprocess workers for the concurrency tests of budgets, limits, idempotency and rollback.

Each worker runs in a spawned process (a fresh interpreter, like a separate agent worker), opens the
store from its URL and hammers it from several threads released together by a barrier.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool
from typing import Any

import pytest

from railguard.model import Action, Context
from railguard.state.budgets import BudgetRule, Budgets
from railguard.state.idempotency import Idempotency
from railguard.state.limits import LimitRule, Limits
from railguard.state.rollback import Saga
from railguard.store import open_store

PROCESSES = 4
THREADS = 8


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    """Worker processes started once per test module (spawn: no state inherited from pytest)."""
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as workers:
        workers.map(_warm_up, range(PROCESSES))  # import railguard in every worker before timing-free tests
        yield workers


def _warm_up(_: int) -> int:
    return os.getpid()


def run_everywhere(pool: Pool, fn: Callable[..., Any], *args: Any) -> list[Any]:
    """Run `fn(*args)` once in each worker process at the same time."""
    return pool.starmap(fn, [args] * PROCESSES)


def _threads(count: int, body: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = body(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def refund_limit_worker(url: str, calls_per_thread: int, amount: float, max_sum: float) -> int:
    """Every thread tries `calls_per_thread` refunds; returns how many the limit allowed."""
    with open_store(url) as store:
        limits = Limits(store, [LimitRule(tools=["refund"], key="tenant", max_sum=max_sum, sum_of="amount")])
        ctx = Context(tenant="acme", run=f"run-{os.getpid()}")

        def body(_: int) -> int:
            return sum(
                limits.check(Action("refund", {"amount": amount}, context=ctx)).ok
                for _ in range(calls_per_thread)
            )

        return sum(_threads(THREADS, body))


def count_limit_worker(url: str, calls_per_thread: int, max_count: int) -> int:
    with open_store(url) as store:
        limits = Limits(
            store, [LimitRule(tools=["send_email"], key="run", window_s=None, max_count=max_count)]
        )
        ctx = Context(tenant="acme", run="shared-run")

        def body(_: int) -> int:
            return sum(
                limits.check(Action("send_email", {}, context=ctx)).ok for _ in range(calls_per_thread)
            )

        return sum(_threads(THREADS, body))


def budget_worker(url: str, calls_per_thread: int, estimate: float, actual: float, limit: float) -> int:
    """Reserve `estimate`, then commit `actual`; returns how many reservations were granted."""
    with open_store(url) as store:
        budgets = Budgets(store, [BudgetRule("tenant_day", "cost", limit=limit)])
        ctx = Context(tenant="acme", run=f"run-{os.getpid()}")

        def body(_: int) -> int:
            granted = 0
            for _ in range(calls_per_thread):
                held = budgets.reserve(ctx, cost=estimate)
                if held.ok:
                    granted += 1
                    held.commit(cost=actual)
            return granted

        return sum(_threads(THREADS, body))


def idempotent_worker(url: str, key: str, calls_per_thread: int, marker: str, hold_s: float) -> list[Any]:
    """Every thread calls the same key; the call appends a line to `marker` each time it EXECUTES."""
    with open_store(url) as store:
        idem = Idempotency(store, lease_s=30, wait_s=120)

        def charge() -> dict[str, Any]:
            with open(marker, "a", encoding="utf-8") as out:
                out.write(f"{os.getpid()}\n")
            time.sleep(hold_s)  # stay in flight so that the duplicates really overlap it
            return {"charge": "ch_1", "amount": 120}

        def body(_: int) -> list[Any]:
            return [idem.run(key, charge) for _ in range(calls_per_thread)]

        return [result for per_thread in _threads(THREADS, body) for result in per_thread]


def claim_then_crash(url: str, key: str, lease_s: float) -> None:
    """Start an idempotent call and die inside it, without any cleanup (like kill -9)."""
    store = open_store(url)
    idem = Idempotency(store, lease_s=lease_s)

    def die() -> None:
        os._exit(17)

    idem.run(key, die)


def rollback_crash_worker(url: str, run_id: str, journal: str) -> None:
    """Roll back a saga whose second undo (in rollback order) kills the process half-way."""
    store = open_store(url)

    def note(step: str) -> None:
        with open(journal, "a", encoding="utf-8") as out:
            out.write(step + "\n")

    def crash(step: str) -> None:
        note(step)
        os._exit(17)

    Saga(store, run_id, undos={"note": note, "crash": crash}, lease_s=0.5).rollback()


CUSHIONED_POLICY = """
name: every-cushion
budgets:
  - {{name: tenant-steps, scope: tenant, metric: steps, limit: {steps}}}
limits:
  - {{name: refunds, tools: [refund], key: tenant, window_s: 3600, max_count: {refunds}}}
loops: {{max_repeats: 2}}
rules: []
"""


def cushioned_admit_worker(url: str, calls_per_thread: int, steps: int, refunds: int) -> int:
    """Every thread admits refunds through an engine with every cushion on (kill switch, approvals,
    budget, limit, loop history); returns how many were admitted."""
    from railguard.engine import Engine
    from railguard.state.cushions import install_cushions

    with open_store(url) as store:
        engine = Engine(text=CUSHIONED_POLICY.format(steps=steps, refunds=refunds))
        cushions = install_cushions(engine, store)
        try:

            def body(index: int) -> int:
                ctx = Context(tenant="acme", agent="a", run=f"run-{os.getpid()}-{index}")
                return sum(
                    engine.admit(Action("refund", {"n": n}, context=ctx)).allowed
                    for n in range(calls_per_thread)
                )

            return sum(_threads(THREADS, body))
        finally:
            cushions.close()
