"""Stateful-guard benchmark: latency of one atomic check+increment (a limit check, a budget
reserve+commit, a loop check, an idempotent call that hits its stored result) on SQLite and
PostgreSQL, and throughput of limit checks under contention (P processes x T threads, one key).

    .venv/bin/python -m benchmarks.bench_state                        # SQLite + PostgreSQL
    .venv/bin/python -m benchmarks.bench_state --backend sqlite --ops 500

Writes benchmarks/results/state.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from railguard.model import Action, Context
from railguard.state.budgets import BudgetRule, Budgets
from railguard.state.idempotency import Idempotency
from railguard.state.limits import LimitRule, Limits
from railguard.state.loops import LoopRules, Loops
from railguard.store import open_store

RESULTS = Path(__file__).parent / "results" / "state.md"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
CTX = Context(tenant="acme", agent="support", run="bench-run")
HUGE = 10**12  # caps that are never reached: measure the allowed path


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/state.db"
        return
    schema = f"rg_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def percentiles(samples_us: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_us)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(op: Callable[[int], object], n: int) -> list[float]:
    for i in range(min(50, n)):  # warm the pool and the statement caches
        op(-1 - i)
    out = []
    for i in range(n):
        start = time.perf_counter_ns()
        op(i)
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def latency_rows(url: str, ops: int) -> list[tuple[str, float, float]]:
    with open_store(url) as store:
        limits = Limits(store, [LimitRule(tools=["refund"], key="tenant", max_sum=HUGE, sum_of="amount")])
        budgets = Budgets(store, [BudgetRule("tenant_day", "cost", limit=HUGE, warn_at=None)])
        loops = Loops(store, LoopRules())
        idem = Idempotency(store)
        idem.run("bench-key", lambda: {"ok": True})
        refund = Action("refund", {"amount": 12.5}, context=CTX)
        cases: list[tuple[str, Callable[[int], object]]] = [
            ("limit check+increment (sum cap)", lambda _i: limits.check(refund)),
            ("budget reserve+commit", lambda _i: budgets.reserve(CTX, cost=0.01).commit()),
            ("loop check (store-backed)", lambda i: loops.check(Action("search", {"q": i}, context=CTX))),
            ("idempotent call, stored result", lambda _i: idem.run("bench-key", lambda: {"ok": False})),
        ]
        return [(name, *percentiles(timed(op, ops))) for name, op in cases]


def _contention_worker(url: str, threads: int, seconds: float) -> int:
    with open_store(url) as store:
        limits = Limits(store, [LimitRule(tools=["refund"], key="tenant", max_sum=HUGE, sum_of="amount")])
        refund = Action("refund", {"amount": 1}, context=CTX)
        counts = [0] * threads
        barrier = threading.Barrier(threads)

        def body(index: int) -> None:
            barrier.wait()
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                limits.check(refund)
                counts[index] += 1

        workers = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return sum(counts)


def throughput(url: str, processes: int, threads: int, seconds: float) -> float:
    open_store(url).close()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(abs, range(processes))  # start the workers before the clock
        start = time.monotonic()
        done = sum(pool.starmap(_contention_worker, [(url, threads, seconds)] * processes))
        elapsed = time.monotonic() - start
    return done / max(elapsed, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    command = "`.venv/bin/python -m benchmarks.bench_state " + " ".join(argv or sys.argv[1:]) + "`"
    lines = [
        "## Stateful guards: budgets, limits, loops, idempotency",
        "",
        f"Command: {command.replace(' `', '`')} (from the repo root). Machine: 2 shared cores; numbers are",
        "one run's, measured while other engineers' jobs were running.",
        "",
        "Latency of one call from one thread (µs; each is one write transaction):",
        "",
        "| backend | operation | p50 µs | p99 µs |",
        "|---|---|---:|---:|",
    ]
    contention = []
    for backend in backends:
        with database(backend) as url:
            for name, p50, p99 in latency_rows(url, args.ops):
                lines.append(f"| {backend} | {name} | {p50:,.0f} | {p99:,.0f} |")
                print(f"{backend:10} {name:36} p50 {p50:8,.0f} µs  p99 {p99:8,.0f} µs", flush=True)
        with database(backend) as url:
            rate = throughput(url, args.processes, args.threads, args.seconds)
            contention.append(f"| {backend} | {args.processes} x {args.threads} | {rate:,.0f} |")
            print(
                f"{backend:10} contention {args.processes}x{args.threads}: {rate:,.0f} checks/s", flush=True
            )
    lines += [
        "",
        f"Throughput of limit checks on ONE shared key under contention ({args.seconds:g} s, processes x threads):",
        "",
        "| backend | processes x threads | checks/s |",
        "|---|---|---:|",
        *contention,
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
