"""Store benchmark: insert throughput through `Store.write_spans`, and query latency of the run list
(first page, filtered by agent) and of a 1,000-span trace, on a store holding `--spans` spans.

    .venv/bin/python -m benchmarks.bench_store                         # 1,000,000 spans, SQLite + PostgreSQL
    .venv/bin/python -m benchmarks.bench_store --spans 100000 --backend sqlite   # quick run

Writes benchmarks/results/store.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from railguard.store import SpanRow, Store, open_store

RESULTS = Path(__file__).parent / "results" / "store.md"
SPANS_PER_TRACE = 20
BIG_TRACE_SPANS = 1000
TENANTS = [f"tenant-{i}" for i in range(5)]
AGENTS = [f"agent-{i}" for i in range(10)]
OPERATIONS = ["chat", "execute_tool", "execute_tool", "chat"]
DEEP_PAGE = 41  # the run list's page 41: 2,000 newer runs of the agent to skip


def trace_spans(trace_no: int, n_spans: int, start_ns: int) -> list[SpanRow]:
    """A realistic trace: an agent root, then alternating model and tool calls."""
    trace_id = f"{trace_no:032x}"
    tenant, agent = TENANTS[trace_no % len(TENANTS)], AGENTS[trace_no % len(AGENTS)]
    rows = []
    for j in range(n_spans):
        op = "invoke_agent" if j == 0 else OPERATIONS[j % len(OPERATIONS)]
        attributes: dict[str, Any] = {"gen_ai.operation.name": op}
        if op == "chat":
            attributes |= {"gen_ai.usage.input_tokens": 500 + j, "gen_ai.usage.output_tokens": 80}
        rows.append(
            SpanRow(
                trace_id=trace_id,
                span_id=f"{j:016x}",
                parent_span_id=None if j == 0 else f"{0:016x}",
                name=op,
                kind="internal",
                start_ns=start_ns + j * 1_000_000,
                end_ns=start_ns + j * 1_000_000 + 500_000,
                status="ok",
                tenant=tenant if j == 0 else None,  # identity only on the root, as most SDKs do
                agent=agent if j == 0 else None,
                operation=op,
                tool_name="search" if op == "execute_tool" else None,
                input_tokens=attributes.get("gen_ai.usage.input_tokens"),
                output_tokens=attributes.get("gen_ai.usage.output_tokens"),
                verdict="allow" if op == "execute_tool" else None,
                attributes=attributes,
                resource={"service.name": "bench"},
            )
        )
    return rows


def batches(total_spans: int, batch_size: int) -> Iterator[list[SpanRow]]:
    """Traces in start order, the 1,000-span trace in the middle, cut into write batches."""
    start = 1_700_000_000 * 10**9
    pending: list[SpanRow] = []
    n_traces = max(1, (total_spans - BIG_TRACE_SPANS) // SPANS_PER_TRACE)
    for t in range(n_traces + 1):
        size = BIG_TRACE_SPANS if t == n_traces // 2 else SPANS_PER_TRACE
        pending += trace_spans(t, size, start + t * 10**9)
        while len(pending) >= batch_size:
            yield pending[:batch_size]
            pending = pending[batch_size:]
    if pending:
        yield pending


def load(store: Store, total_spans: int, batch_size: int) -> tuple[int, float]:
    written, seconds = 0, 0.0
    for batch in batches(total_spans, batch_size):
        t0 = time.perf_counter()
        written += store.write_spans(batch)
        seconds += time.perf_counter() - t0  # only the store's time, not building the rows
        if written % 100_000 < batch_size:
            print(f"  {written:,} spans", file=sys.stderr)
    return written, seconds


def latency_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm the caches and the connection pool
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def deep_page_cursor(store: Store, page: int) -> str | None:
    """The cursor that opens page `page` (1-based) of the benchmark's run list."""
    cursor = None
    for _ in range(page - 1):
        rows = store.list_runs(tenant="tenant-3", agent="agent-3", limit=50, before=cursor)
        if not rows:
            break
        cursor = rows[-1].cursor
    return cursor


def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"{name}: loading {args.spans:,} spans", file=sys.stderr)
    with open_store(url) as store:
        written, seconds = load(store, args.spans, args.batch)
        n_traces = max(1, (args.spans - BIG_TRACE_SPANS) // SPANS_PER_TRACE)
        big_trace, big_tenant = f"{n_traces // 2:032x}", TENANTS[(n_traces // 2) % len(TENANTS)]
        assert len(store.get_trace(big_trace, tenant=big_tenant)) == BIG_TRACE_SPANS
        run_list = latency_ms(
            lambda: store.list_runs(tenant="tenant-3", agent="agent-3", limit=50), args.repeat
        )
        cursor = deep_page_cursor(store, DEEP_PAGE)
        deep_page = latency_ms(
            lambda: store.list_runs(tenant="tenant-3", agent="agent-3", limit=50, before=cursor), args.repeat
        )
        trace = latency_ms(lambda: store.get_trace(big_trace, tenant=big_tenant), args.repeat)
    extra = {}
    if store.dialect == "postgresql":
        with store.read_connection() as conn:
            extra["autovacuum"] = str(conn.exec_driver_sql("SHOW autovacuum").scalar())
    return {
        **extra,
        "backend": name,
        "spans": written,
        "rate": written / seconds,
        "run_list": run_list,
        "deep_page": deep_page,
        "trace": trace,
    }


@contextmanager
def pg_schema(server: str) -> Iterator[str]:
    schema = f"rg_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def write_markdown(results: list[dict[str, Any]], args: argparse.Namespace, command: str) -> None:
    lines = [
        "## Store: insert throughput and query latency",
        "",
        f"Reproduce: `{command}`",
        "",
        f"{args.spans:,} spans ({SPANS_PER_TRACE}-span traces plus one {BIG_TRACE_SPANS:,}-span trace; "
        f"{len(TENANTS)} tenants, {len(AGENTS)} agents), written through `Store.write_spans` in batches of "
        f"{args.batch:,}; identity only on root spans (copied onto the rest at ingest). Query latencies over "
        f"{args.repeat} repetitions after one warm-up, with all the spans stored. Shared 2-core machine.",
        "",
        "No ANALYZE after the load (PostgreSQL autovacuum: "
        f"{next((r['autovacuum'] for r in results if 'autovacuum' in r), 'not measured')}): the run list's "
        "plans must not depend on planner statistics.",
        "",
        "| backend | spans stored | insert (spans/s) | run list, tenant+agent, first 50: p50 / p99 (ms) "
        f"| same, page {DEEP_PAGE} by cursor: p50 / p99 (ms) "
        f"| {BIG_TRACE_SPANS:,}-span trace: p50 / p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['spans']:,} | {r['rate']:,.0f} | {r['run_list'][0]:.2f} / {r['run_list'][1]:.2f} "
            f"| {r['deep_page'][0]:.2f} / {r['deep_page'][1]:.2f} | {r['trace'][0]:.1f} / {r['trace'][1]:.1f} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans to store before querying")
    parser.add_argument("--batch", type=int, default=2000, help="spans per write_spans call")
    parser.add_argument("--repeat", type=int, default=200, help="repetitions per query")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL server URL"
    )
    args = parser.parse_args()
    command = ".venv/bin/python -m benchmarks.bench_store " + " ".join(sys.argv[1:])
    results = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run_backend("SQLite (WAL, synchronous=NORMAL)", f"sqlite:///{tmp}/bench.db", args))
    if args.backend in ("postgresql", "both"):
        with pg_schema(args.pg) as url:
            results.append(run_backend("PostgreSQL 15 (psycopg 3)", url, args))
    write_markdown(results, args, command.strip())


if __name__ == "__main__":
    main()
