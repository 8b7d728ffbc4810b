"""Guard API benchmark: decisions per second and latency of `POST /v1/guard/evaluate` and
`/v1/guard/evaluate-batch` on loopback, at concurrency 1, 8, 32 and 128, one worker vs two, SQLite vs
PostgreSQL; the remote/in-process overhead ratio; and `RemoteEngine` against a stopped server.

    .venv/bin/python -m benchmarks.bench_server                 # full run
    .venv/bin/python -m benchmarks.bench_server --seconds 3     # shorter windows

Each configuration runs `railguard serve` as its own subprocess (a fresh SQLite file or PostgreSQL
schema, the default pack, an agent key with no rate limit). The load generator is one asyncio
process with a pooled httpx client on the same 2-core machine, so client and server share the CPUs:
the numbers are what one box does end to end, not the server alone. Actions alternate an allowed
and a blocked shell command, without tool call ids (with ids every answer is also stored for
idempotency: measured separately). Writes benchmarks/results/server.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_store import pg_schema
from railguard import Action, Context, Engine, RemoteEngine
from railguard.store import KeyRing, open_store

RESULTS = Path(__file__).parent / "results" / "server.md"
PG_SERVER = os.environ.get("RAILGUARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
ACTIONS = [
    {"tool": "bash", "args": {"command": "ls -la src"}, "context": {"agent": "bench", "run": "r1"}},
    {"tool": "bash", "args": {"command": "rm -rf /"}, "context": {"agent": "bench", "run": "r1"}},
]
BATCH = 50


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(db_url: str, workers: int) -> Iterator[tuple[str, str]]:
    with open_store(db_url) as store:
        key = KeyRing(store).create(tenant="bench", role="agent", actor="bench", rate_per_s=1e9).key
    port = _free_port()
    command = [sys.executable, "-m", "railguard.cli", "serve", "--port", str(port), "--db", db_url,
               "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=120) as warm:
            for _ in range(50):  # build the tenant's engine and warm the pools
                warm.post(f"{url}/v1/guard/evaluate", json=ACTIONS[1])
        yield url, key
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _load(
    url: str, key: str, *, concurrency: int, seconds: float, batch: bool, ids: bool
) -> dict[str, Any]:
    latencies: list[float] = []
    decisions = 0
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=30
    ) as client:
        stop = time.perf_counter() + seconds
        counter = 0

        async def worker(n: int) -> None:
            nonlocal decisions, errors, counter
            while time.perf_counter() < stop:
                counter += 1
                if batch:
                    path, body = (
                        "/v1/guard/evaluate-batch",
                        {"actions": [ACTIONS[i % 2] for i in range(BATCH)]},
                    )
                else:
                    action = dict(ACTIONS[counter % 2])
                    if ids:
                        action["id"] = f"w{n}-{counter}"
                    path, body = "/v1/guard/evaluate", action
                start = time.perf_counter()
                response = await client.post(f"{url}{path}", json=body)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors += 1
                else:
                    decisions += BATCH if batch else 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "decisions_per_s": decisions / elapsed,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def _overhead(url: str, key: str, n: int) -> dict[str, float]:
    """Sequential p50 of one decision: in-process Engine.check vs RemoteEngine.check (same pack)."""
    engine = Engine(packs=["default"])
    ctx = Context(tenant="bench", agent="bench", run="r1")
    action = Action("bash", {"command": "ls -la src"}, context=ctx)
    local = []
    for _ in range(n):
        start = time.perf_counter()
        engine.check(action)
        local.append(time.perf_counter() - start)
    remote_times = []
    with RemoteEngine(url, key, killswitch_cache_s=3600) as remote:
        remote.check(action)
        for _ in range(n):
            start = time.perf_counter()
            remote.check(action)
            remote_times.append(time.perf_counter() - start)
    return {
        "local_p50_ms": 1000 * statistics.median(local),
        "remote_p50_ms": 1000 * statistics.median(remote_times),
    }


def _stopped_server(timeout_s: float) -> dict[str, Any]:
    """RemoteEngine against a port nobody listens on, and against a server that never answers."""
    import socket

    out: dict[str, Any] = {}
    with RemoteEngine(f"http://127.0.0.1:{_free_port()}", "rg_x", timeout_s=timeout_s) as down:
        start = time.perf_counter()
        decision = down.check("bash", {"command": "ls"})
        out["stopped"] = (decision.verdict.value, decision.error, 1000 * (time.perf_counter() - start))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers: a hung server
    try:
        with RemoteEngine(f"http://127.0.0.1:{silent.getsockname()[1]}", "rg_x", timeout_s=timeout_s) as hung:
            start = time.perf_counter()
            decision = hung.check("bash", {"command": "ls"})
            out["hung"] = (decision.verdict.value, decision.error, 1000 * (time.perf_counter() - start))
    finally:
        silent.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring window per configuration")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    command = "python -m benchmarks.bench_server" + (
        f" --seconds {args.seconds:g}" if args.seconds != 5.0 else ""
    )
    rows: list[dict[str, Any]] = []
    extras: dict[str, Any] = {}
    stores: list[tuple[str, Any]] = [("SQLite", None)]
    if not args.skip_postgres:
        stores.append(("PostgreSQL", pg_schema(PG_SERVER)))
    for store_name, schema in stores:
        if schema is None:
            import tempfile

            folder = tempfile.mkdtemp(prefix="rg-bench-server-")
            db_url = f"sqlite:///{folder}/bench.db"
        else:
            db_url = schema.__enter__()
        try:
            for workers in (1, 2):
                with running_server(db_url, workers) as (url, key):
                    for concurrency in (1, 8, 32, 128):
                        for batch in (False, True):
                            result = asyncio.run(
                                _load(
                                    url,
                                    key,
                                    concurrency=concurrency,
                                    seconds=args.seconds,
                                    batch=batch,
                                    ids=False,
                                )
                            )
                            rows.append({"store": store_name, "workers": workers, "concurrency": concurrency,
                                         "kind": f"batch of {BATCH}" if batch else "evaluate", **result})  # fmt: skip
                            print(rows[-1], flush=True)
                    if workers == 1:
                        with_ids = asyncio.run(
                            _load(url, key, concurrency=32, seconds=args.seconds, batch=False, ids=True)
                        )
                        rows.append({"store": store_name, "workers": 1, "concurrency": 32,
                                     "kind": "evaluate with call ids", **with_ids})  # fmt: skip
                        if store_name == "SQLite":
                            extras["overhead"] = _overhead(url, key, 300)
        finally:
            if schema is not None:
                schema.__exit__(None, None, None)
    extras["failures"] = _stopped_server(timeout_s=1.0)
    write_markdown(rows, extras, command, args)


def write_markdown(
    rows: list[dict[str, Any]], extras: dict[str, Any], command: str, args: argparse.Namespace
) -> None:
    load = os.getloadavg()[0]
    lines = [
        "## Server: guard API decisions per second",
        "",
        f"Command: `.venv/bin/{command}`",
        "",
        f"`railguard serve` (default pack) as a subprocess per configuration; one asyncio load generator "
        f"(httpx, pooled connections) on the same 2-core machine, {args.seconds:g} s per cell, so client and "
        f"server share both cores (load average {load:.1f} at the end). Allowed and blocked shell commands "
        "alternate; every decision is also recorded in the store by the server's background writer. "
        f"A batch request carries {BATCH} actions (its latency is per request).",
        "",
        "| store | workers | concurrency | request | decisions/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['store']} | {r['workers']} | {r['concurrency']} | {r['kind']} | {r['decisions_per_s']:,.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |"
        )
    overhead = extras.get("overhead")
    if overhead:
        ratio = overhead["remote_p50_ms"] / overhead["local_p50_ms"]
        lines += [
            "",
            f"- Remote vs in-process, one decision at a time (SQLite server): `RemoteEngine.check` p50 "
            f"{overhead['remote_p50_ms']:.2f} ms vs `Engine.check` p50 {overhead['local_p50_ms']:.3f} ms: "
            f"**{ratio:.0f}x** (the HTTP round trip dominates).",
        ]
    failures = extras["failures"]
    for name, label in (
        ("stopped", "a stopped server (connection refused)"),
        ("hung", "a server that never answers"),
    ):
        verdict, error, ms = failures[name]
        lines.append(
            f"- `RemoteEngine` (timeout 1 s) against {label}: {verdict} ({error}) after {ms:.0f} ms."
        )
    best = max((r for r in rows if r["concurrency"] == 32), key=lambda r: r["decisions_per_s"])
    lines += [
        "",
        f"Target (issue 13): >= 5,000 decisions/s with p99 < 5 ms at concurrency 32. Best at 32 here: "
        f"{best['decisions_per_s']:,.0f}/s ({best['store']}, {best['workers']} worker(s), {best['kind']}, "
        f"p99 {best['p99_ms']:.1f} ms).",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
