"""OTLP ingest benchmark: spans/s stored through Railguard's OTLP/HTTP receiver (SQLite and PostgreSQL)
and through Arize Phoenix, with the same protobuf batches, in the same run.

Phoenix lives in its own virtualenv so it cannot disturb ours:

    python3 -m venv /tmp/phoenix-venv && /tmp/phoenix-venv/bin/pip install arize-phoenix
    .venv/bin/python -m benchmarks.bench_ingest                   # 10,000 spans, 4 client threads
    .venv/bin/python -m benchmarks.bench_ingest --spans 2000 --skip-phoenix

Each server runs alone as a subprocess on a free localhost port (Railguard: `railguard serve`; Phoenix:
`phoenix serve` with a temporary working dir and its default SQLite). Client threads post protobuf
batches. Only stored spans count: Railguard acknowledges after the commit, and the stored rows are
counted afterwards; Phoenix acknowledges before it writes, so its database is polled until every span
is there (or --drain-timeout). Throughput = stored spans / (first post -> last span stored).
Writes benchmarks/results/ingest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import text

from benchmarks.bench_store import pg_schema
from railguard.store import open_store

RESULTS = Path(__file__).parent / "results" / "ingest.md"
PHOENIX_BIN = Path("/tmp/phoenix-venv/bin/phoenix")
SPANS_PER_TRACE = 5  # an agent root, two model calls, two tool calls
PROMPT = "You are a support agent. The customer asks where order {n} is; look it up and answer briefly. " * 2


# -- the workload: OpenInference-style agent traces, as protobuf request bodies --------------------


def _kv(key: str, value: str | int) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = value
    return kv


def _span(trace_no: int, index: int, start_ns: int) -> Span:
    span = Span(
        trace_id=(trace_no + 1).to_bytes(16, "big"),
        span_id=(trace_no * SPANS_PER_TRACE + index + 1).to_bytes(8, "big"),
        start_time_unix_nano=start_ns + index * 1_000_000,
        end_time_unix_nano=start_ns + index * 1_000_000 + 800_000,
        kind=Span.SPAN_KIND_INTERNAL,
    )
    common = [_kv("session.id", f"session-{trace_no % 97}"), _kv("input.value", PROMPT.format(n=trace_no))]
    if index == 0:
        span.name, kind = "support-agent", "CHAIN"
    else:
        span.parent_span_id = (trace_no * SPANS_PER_TRACE + 1).to_bytes(8, "big")
        if index % 2:
            span.name, kind = "ChatCompletion", "LLM"
            common += [_kv("llm.model_name", "gpt-4o-mini"), _kv("llm.provider", "openai")]
            common += [_kv("llm.token_count.prompt", 900 + index), _kv("llm.token_count.completion", 60)]
        else:
            span.name, kind = "lookup_order", "TOOL"
            common += [
                _kv("tool.name", "lookup_order"),
                _kv("tool.parameters", json.dumps({"order": trace_no})),
            ]
    span.attributes.extend([_kv("openinference.span.kind", kind), *common])
    span.attributes.append(_kv("output.value", f"Order {trace_no} ships tomorrow."))
    return span


def build_bodies(total_spans: int, batch_spans: int) -> list[bytes]:
    traces = total_spans // SPANS_PER_TRACE
    start_ns = time.time_ns() - 3_600 * 10**9
    spans = [_span(t, i, start_ns + t * 10**7) for t in range(traces) for i in range(SPANS_PER_TRACE)]
    bodies = []
    for first in range(0, len(spans), batch_spans):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(_kv("service.name", "bench-agent"))
        scope = resource_spans.scope_spans.add()
        scope.scope.name = "openinference.instrumentation.openai"
        scope.spans.extend(spans[first : first + batch_spans])
        bodies.append(request.SerializeToString())
    return bodies


# -- targets ---------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    traces_url: str
    count_stored: Callable[[], int]
    ack_means_stored: bool


@dataclass
class Outcome:
    name: str
    sent: int
    stored: int
    seconds: float
    request_ms: list[float] = field(default_factory=list)
    errors: int = 0
    note: str = ""

    @property
    def spans_per_s(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready at {url} after {timeout_s:.0f} s")


@contextmanager
def _process(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[None]:
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _wait_ready(ready_url, process, timeout_s=120)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def railguard_target(name: str, db_url: str, workdir: Path) -> Iterator[Target]:
    port = _free_port()
    command = [sys.executable, "-m", "railguard.cli", "serve", "--port", str(port), "--db", db_url]
    command += ["--log-level", "warning"]
    env = {k: v for k, v in os.environ.items() if k != "RAILGUARD_INGEST_TOKEN"}

    def count() -> int:
        with open_store(db_url) as store, store.read_connection() as conn:
            return int(conn.execute(text("SELECT count(*) FROM spans")).scalar_one())

    with _process(command, env, f"http://127.0.0.1:{port}/readyz", workdir / f"{name}.log"):
        yield Target(name, f"http://127.0.0.1:{port}/v1/traces", count, ack_means_stored=True)


@contextmanager
def phoenix_target(workdir: Path) -> Iterator[Target]:
    port, grpc_port = _free_port(), _free_port()
    home = workdir / "phoenix"
    home.mkdir()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(home),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }

    def count() -> int:
        # Read-only: Phoenix owns the file (WAL mode lets us read while it writes).
        with sqlite3.connect(f"file:{home / 'phoenix.db'}?mode=ro", uri=True, timeout=10) as conn:
            return int(conn.execute("SELECT count(*) FROM spans").fetchone()[0])

    with _process([str(PHOENIX_BIN), "serve"], env, f"http://127.0.0.1:{port}/", workdir / "phoenix.log"):
        yield Target(
            "Arize Phoenix (SQLite)", f"http://127.0.0.1:{port}/v1/traces", count, ack_means_stored=False
        )


# -- the load --------------------------------------------------------------------------------------


def run_load(
    target: Target, bodies: list[bytes], spans_sent: int, threads: int, drain_timeout_s: float
) -> Outcome:
    before = target.count_stored()
    request_ms: list[float] = []
    errors = 0
    lock = threading.Lock()
    headers = {"Content-Type": "application/x-protobuf"}

    def post_all(chunk: list[bytes]) -> None:
        nonlocal errors
        with httpx.Client(timeout=120) as client:
            for body in chunk:
                began = time.perf_counter()
                status = client.post(target.traces_url, content=body, headers=headers).status_code
                with lock:
                    request_ms.append((time.perf_counter() - began) * 1000)
                    errors += status != 200

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post_all, [bodies[i::threads] for i in range(threads)]))
    posted = time.perf_counter()
    stored = target.count_stored() - before
    note = ""
    if not target.ack_means_stored:
        stored, last_change = _drain(target, before, spans_sent, drain_timeout_s, stored, posted)
        if stored < spans_sent:
            note = f"only {stored} of {spans_sent} spans stored after a {drain_timeout_s:.0f} s drain"
        finished = last_change
    else:
        finished = posted
    return Outcome(target.name, spans_sent, stored, finished - started, request_ms, errors, note)


def _drain(
    target: Target, before: int, expected: int, timeout_s: float, stored: int, since: float
) -> tuple[int, float]:
    """Poll until every span is stored or nothing new arrived for a while; returns (stored, when)."""
    last_change = since
    deadline = time.perf_counter() + timeout_s
    while stored < expected and time.perf_counter() < deadline:
        time.sleep(0.25)
        now_stored = target.count_stored() - before
        if now_stored != stored:
            stored, last_change = now_stored, time.perf_counter()
        elif time.perf_counter() - last_change > 30:
            break  # stalled: whatever is not stored by now is not coming
    return stored, last_change


# -- report ----------------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else (values or [0.0])[0]


def _phoenix_version() -> str:
    python = PHOENIX_BIN.parent / "python"
    try:
        probe = "import importlib.metadata as m; print(m.version('arize-phoenix'))"
        return subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, timeout=60
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "(not installed)"


def render(
    outcomes: list[Outcome], args: argparse.Namespace, command: str, phoenix_problem: str | None
) -> str:
    lines = [
        "## OTLP ingest throughput: Railguard receiver vs Arize Phoenix",
        "",
        f"Command: `{command}`",
        "",
        f"{args.spans} spans ({args.spans // SPANS_PER_TRACE} OpenInference-style agent traces of {SPANS_PER_TRACE}"
        f" spans: CHAIN root, 2 LLM, 2 TOOL, ~12 attributes each incl. ~190-char input text), OTLP/HTTP"
        f" protobuf batches of {args.batch} spans, {args.threads} client threads, every server alone on"
        f" localhost, one run. Phoenix: arize-phoenix {_phoenix_version()}. Machine: {os.cpu_count()} CPUs"
        f" shared with other work (load average {os.getloadavg()[0]:.1f} at the end); client and server on the"
        f" same cores. Only stored spans count (Railguard: 200 = committed, rows counted after; Phoenix: its"
        f" SQLite `spans` table polled until all arrived). Railguard redacts every string attribute before storing.",
        "",
        "| target | spans stored / sent | HTTP errors | seconds | stored spans/s | request p50 ms | request p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.name} | {o.stored} / {o.sent} | {o.errors} | {o.seconds:.2f} | {o.spans_per_s:,.0f} |"
            f" {_percentile(o.request_ms, 50):.1f} | {_percentile(o.request_ms, 95):.1f} |"
        )
    notes = [f"- {o.name}: {o.note}" for o in outcomes if o.note]
    phoenix = next((o for o in outcomes if "Phoenix" in o.name), None)
    if phoenix is not None and phoenix.spans_per_s:
        for o in outcomes:
            if o is not phoenix:
                notes.append(
                    f"- {o.name} / Phoenix: **{o.spans_per_s / phoenix.spans_per_s:.1f}x** stored spans/s"
                )
    if phoenix_problem:
        notes.append(f"- Phoenix not measured: {phoenix_problem}")
    return "\n".join([*lines, "", *notes, ""])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200, help="spans per OTLP request")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-phoenix", action="store_true")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="max seconds to wait for Phoenix")
    args = parser.parse_args()
    command = " ".join([".venv/bin/python -m benchmarks.bench_ingest", *sys.argv[1:]])
    bodies = build_bodies(args.spans, args.batch)
    sent = (args.spans // SPANS_PER_TRACE) * SPANS_PER_TRACE
    outcomes: list[Outcome] = []
    phoenix_problem: str | None = None
    with tempfile.TemporaryDirectory(prefix="rg-bench-ingest-") as tmp:
        workdir = Path(tmp)
        with railguard_target("Railguard + SQLite", f"sqlite:///{workdir / 'rg.db'}", workdir) as target:
            outcomes.append(run_load(target, bodies, sent, args.threads, args.drain_timeout))
        with (
            pg_schema(args.pg) as pg_url,
            railguard_target("Railguard + PostgreSQL", pg_url, workdir) as target,
        ):
            outcomes.append(run_load(target, bodies, sent, args.threads, args.drain_timeout))
        if args.skip_phoenix:
            phoenix_problem = "skipped (--skip-phoenix)"
        elif not PHOENIX_BIN.exists():
            phoenix_problem = f"{PHOENIX_BIN} not found (install it as the module docstring says)"
        else:
            try:
                with phoenix_target(workdir) as target:
                    outcomes.append(run_load(target, bodies, sent, args.threads, args.drain_timeout))
            except RuntimeError as exc:
                phoenix_problem = f"{exc} (log: {workdir / 'phoenix.log'})"
        for o in outcomes:
            print(
                f"{o.name:28} {o.stored:>7}/{o.sent} stored in {o.seconds:7.2f} s = {o.spans_per_s:9,.0f} spans/s"
            )
    RESULTS.write_text(render(outcomes, args, command, phoenix_problem))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
