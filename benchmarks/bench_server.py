"""Guard API benchmark: decisions per second and latency of `POST /v1/guard/evaluate` and
`/v1/guard/evaluate-batch` on loopback, at concurrency 1, 8, 32 and 128, one worker vs two, SQLite vs
PostgreSQL; the remote/in-process overhead ratio; and `RemoteEngine` against a stopped server.

    .venv/bin/python -m benchmarks.bench_server                 # full run
    .venv/bin/python -m benchmarks.bench_server --seconds 2 --concurrency 1,32   # a smaller grid
    .venv/bin/python -m benchmarks.bench_server --seconds 2 --concurrency 32 --workers 1 --skip-postgres --no-write

Each configuration runs `railguard serve` as its own subprocess (a fresh SQLite file or PostgreSQL
schema, the default pack, an agent key with no rate limit). The load generator is separate processes
on the same 2-core machine (two, each holding half the connections), each a small HTTP/1.1 keep-alive
client, a bare asyncio protocol per connection with the requests pre-encoded, so the client costs
little next to the server (its CPU per decision is reported); client and server still share the CPUs, and other work on the machine shares them too. So
besides wall-clock decisions/s the table gives the server's own CPU time per decision (its process
tree, from /proc), how the connections were spread over the workers and each worker's share of
that CPU, and the throughput two cores would give if they ran only the server. Actions
alternate an allowed and a blocked shell command, without tool call ids (with ids every answer is
also stored for idempotency: measured separately). Writes benchmarks/results/server.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks._procs import children_cpu_s, connections_per_child, tree_cpu_s
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


@dataclass
class Server:
    url: str
    key: str
    process: subprocess.Popen[bytes]

    def cpu_s(self) -> float:
        """CPU seconds used so far by the server and its worker processes."""
        return tree_cpu_s(self.process.pid)


@contextmanager
def running_server(db_url: str, workers: int) -> Iterator[Server]:
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
            for _ in range(50 * workers):  # build the tenant's engine (in every worker) and warm up
                warm.post(f"{url}/v1/guard/evaluate", json=ACTIONS[1])
        yield Server(url, key, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _request(port: int, key: str, path: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


_CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length:[ \t]*(\d+)")


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending requests back to back until `stop`: a bare protocol (no
    stream reader, no coroutine per response), so the load generator's CPU stays small next to the
    server's on the cores they share."""

    def __init__(
        self, next_request: Callable[[int], bytes], stop: float, per_request: int, out: dict[str, Any]
    ):
        self.next_request, self.stop, self.per_request, self.out = next_request, stop, per_request, out
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = b""
        self.sent = 0
        self.started = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        self.sent += 1
        self.started = time.perf_counter()
        self.transport.write(self.next_request(self.sent))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        length = _CONTENT_LENGTH.search(self.buffer, 0, head_end + 2)
        if len(self.buffer) < head_end + 4 + (int(length[1]) if length else 0):
            return
        now = time.perf_counter()
        self.out["latencies"].append(now - self.started)
        if self.buffer[9:12] == b"200":
            self.out["decisions"] += self.per_request
        else:
            self.out["errors"] += 1
        self.buffer = b""
        if now < self.stop:
            self._send()
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _requests(port: int, key: str, n: int, batch: bool, ids: bool) -> Callable[[int], bytes]:
    """The request a connection sends `sent`-th: pre-encoded, unless each carries its own call id."""
    if ids:
        return lambda sent: _request(
            port, key, "/v1/guard/evaluate", {**ACTIONS[sent % 2], "id": f"{os.getpid()}-{n}-{sent}"}
        )
    if batch:
        fixed = [
            _request(
                port, key, "/v1/guard/evaluate-batch", {"actions": [ACTIONS[i % 2] for i in range(BATCH)]}
            )
        ]
    else:
        fixed = [_request(port, key, "/v1/guard/evaluate", action) for action in ACTIONS]
    return lambda sent: fixed[sent % len(fixed)]


async def _connection(
    port: int, key: str, n: int, stop: float, batch: bool, ids: bool, out: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(
        lambda: _Connection(_requests(port, key, n, batch, ids), stop, BATCH if batch else 1, out),
        "127.0.0.1",
        port,
    )
    await connection.done


def _client(args: tuple[int, str, int, float, float, bool, bool], results: Any) -> None:
    port, key, connections, start_at, seconds, batch, ids = args
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    out: dict[str, Any] = {"latencies": [], "decisions": 0, "errors": 0}

    async def run() -> None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        stop = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(port, key, n, stop, batch, ids, out) for n in range(connections)))

    cpu = time.process_time()
    asyncio.run(run())
    out["cpu_s"] = time.process_time() - cpu
    out["ended"] = time.time()  # the last answer may come well after the window (a deep queue)
    results.put(out)


def _load(
    server: Server, *, concurrency: int, seconds: float, batch: bool, ids: bool, processes: int = 2
) -> dict[str, Any]:
    """`concurrency` connections over `processes` client processes, for `seconds`."""
    port = int(server.url.rsplit(":", 1)[1])
    processes = min(processes, concurrency)
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    results: Any = multiprocessing.get_context("fork").Queue()
    start_at = time.time() + 0.5  # every client starts together, after its process is up
    clients = [
        multiprocessing.get_context("fork").Process(
            target=_client, args=((port, server.key, share, start_at, seconds, batch, ids), results)
        )
        for share in shares
    ]
    for client in clients:
        client.start()
    time.sleep(max(0.0, start_at - time.time()))
    server_cpu, per_worker = server.cpu_s(), children_cpu_s(server.process.pid)
    time.sleep(min(0.5, seconds / 2))  # every client has connected
    connections = connections_per_child(server.process.pid, port)
    outs = [results.get(timeout=seconds + 120) for _ in clients]
    server_cpu = server.cpu_s() - server_cpu
    per_worker = {
        pid: cpu - per_worker.get(pid, 0.0) for pid, cpu in children_cpu_s(server.process.pid).items()
    }
    for client in clients:
        client.join()
    latencies = sorted(x for out in outs for x in out["latencies"])
    decisions = sum(out["decisions"] for out in outs)
    elapsed = max(out["ended"] for out in outs) - start_at
    return {
        "decisions_per_s": decisions / elapsed,
        "requests": len(latencies),
        "errors": sum(out["errors"] for out in outs),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "server_cpu_us": 1e6 * server_cpu / max(1, decisions),
        "client_cpu_us": 1e6 * sum(out["cpu_s"] for out in outs) / max(1, decisions),
        # how evenly the work went to the workers: each worker's share of their CPU, largest first
        # (children that used none, e.g. a multiprocessing helper, are not workers)
        "worker_shares": sorted(
            (round(cpu / max(1e-9, sum(per_worker.values())), 2) for cpu in per_worker.values() if cpu > 0),
            reverse=True,
        ),
        "worker_connections": connections,  # established connections per worker, largest first
        "load": os.getloadavg()[0],
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
    parser.add_argument("--concurrency", default="1,8,32,128", help="comma-separated connection counts")
    parser.add_argument("--workers", default="1,2", help="comma-separated `railguard serve --workers`")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true", help=f"print the rows only, not {RESULTS.name}")
    args = parser.parse_args()
    grid = [int(c) for c in args.concurrency.split(",")]
    command = "python -m benchmarks.bench_server" + "".join(
        f" --{name} {value}"
        for name, value, default in (
            ("seconds", f"{args.seconds:g}", "5"),
            ("concurrency", args.concurrency, "1,8,32,128"),
            ("workers", args.workers, "1,2"),
        )
        if value != default
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
            for workers in (int(w) for w in args.workers.split(",")):
                with running_server(db_url, workers) as server:
                    cells = [(c, batch, False) for c in grid for batch in (False, True)]
                    if workers == 1:
                        cells.append((32, False, True))
                    for concurrency, batch, ids in cells:
                        result = _load(
                            server, concurrency=concurrency, seconds=args.seconds, batch=batch, ids=ids
                        )
                        kind = (
                            "evaluate with call ids" if ids else f"batch of {BATCH}" if batch else "evaluate"
                        )
                        rows.append({"store": store_name, "workers": workers, "concurrency": concurrency,
                                     "kind": kind, **result})  # fmt: skip
                        print(rows[-1], flush=True)
                    if workers == 1 and store_name == "SQLite":
                        extras["overhead"] = _overhead(server.url, server.key, 300)
        finally:
            if schema is not None:
                schema.__exit__(None, None, None)
    if args.no_write:  # the rows were printed as measured
        return
    extras["failures"] = _stopped_server(timeout_s=1.0)
    write_markdown(rows, extras, command, args)


def write_markdown(
    rows: list[dict[str, Any]], extras: dict[str, Any], command: str, args: argparse.Namespace
) -> None:
    load = os.getloadavg()
    lines = [
        "## Server: guard API decisions per second",
        "",
        f"Command: `.venv/bin/{command}`",
        "",
        f"`railguard serve` (default pack, uvicorn with httptools and uvloop) as a subprocess per "
        f"configuration; the load generator is two client processes (raw asyncio HTTP/1.1 keep-alive "
        f"connections, requests pre-encoded, the connections split between them) on the same 2-core "
        f"machine, {args.seconds:g} s per cell. Client, server and the other work on this shared machine "
        f"compete for the two cores (load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the "
        "end; each row gives it when measured). Allowed and blocked shell commands alternate; every "
        "decision is also recorded in the store by the server's background writer. A batch request "
        f"carries {BATCH} actions (its latency is per request).",
        "",
        "*server CPU µs/decision*: CPU time of the server's processes (from /proc) over the decisions "
        "answered, so it does not depend on what else runs on the machine; *2 cores, server only*: "
        "2 s of CPU per second divided by it, the throughput this server would reach if it had both "
        "cores to itself (load generator elsewhere). *client CPU*: the load generator's, per decision.",
        "",
        "| store | workers | concurrency | request | decisions/s | p50 ms | p99 ms | errors "
        "| server CPU µs/decision | 2 cores, server only: decisions/s | client CPU µs/decision | connections per worker "
        "| workers' CPU shares | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        capacity = 2e6 / r["server_cpu_us"] if r["server_cpu_us"] else 0.0
        lines.append(
            f"| {r['store']} | {r['workers']} | {r['concurrency']} | {r['kind']} | {r['decisions_per_s']:,.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['server_cpu_us']:,.0f} | {capacity:,.0f} | "
            f"{r['client_cpu_us']:,.0f} | {' / '.join(str(n) for n in r['worker_connections']) or '-'} | "
            f"{' / '.join(f'{x:.2f}' for x in r['worker_shares']) or '-'} | {r['load']:.1f} |"
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
    at_32 = [r for r in rows if r["concurrency"] == 32]
    if at_32:
        best = max(at_32, key=lambda r: r["decisions_per_s"])
        single = [r for r in at_32 if r["kind"] == "evaluate"]
        met = best["decisions_per_s"] >= 5000 and best["p99_ms"] < 5
        lines += [
            "",
            f"Target (issue 13): >= 5,000 decisions/s with p99 < 5 ms at concurrency 32: "
            f"**{'met' if met else 'missed'}** on this shared machine. Best wall-clock cell at 32: "
            f"{best['decisions_per_s']:,.0f}/s ({best['store']}, {best['workers']} worker(s), {best['kind']}, "
            f"p99 {best['p99_ms']:.1f} ms, load average {best['load']:.1f}).",
        ]
        if single:
            lean = min(single, key=lambda r: r["server_cpu_us"])
            lines.append(
                f"Single evaluates at 32 cost the server {lean['server_cpu_us']:,.0f} µs of CPU per decision "
                f"at best ({lean['store']}, {lean['workers']} worker(s)): {2e6 / lean['server_cpu_us']:,.0f} "
                "decisions/s on two cores it had to itself."
            )
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
