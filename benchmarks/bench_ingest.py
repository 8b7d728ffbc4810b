"""OTLP ingest benchmark: spans/s stored through Railguard's OTLP/HTTP receiver (SQLite and PostgreSQL)
and through Arize Phoenix, with the same protobuf batches, in the same run.

Phoenix lives in its own virtualenv so it cannot disturb ours:

    python3 -m venv /tmp/phoenix-venv && /tmp/phoenix-venv/bin/pip install arize-phoenix
    .venv/bin/python -m benchmarks.bench_ingest                   # 10,000 spans, 4 client threads
    .venv/bin/python -m benchmarks.bench_ingest --spans 2000 --skip-phoenix

Each server runs alone as a subprocess on a free localhost port (Railguard: `railguard serve` with an
agent key; Phoenix: `phoenix serve` with a temporary working dir and its default SQLite). The spans are
made by the OpenTelemetry SDK and sent by the real OTLP/HTTP exporter (`OTLPSpanExporter`, protobuf),
one exporter per client thread, in batches as a BatchSpanProcessor would send them; OTLP/JSON sends the
same batches encoded as the OTLP/JSON mapping (hex ids). Only stored spans count: Railguard acknowledges after the commit, and the stored rows are
counted afterwards; Phoenix acknowledges before it writes, so its database is polled until every span
is there (or --drain-timeout). Throughput = stored spans / (first post -> last span stored).
Writes benchmarks/results/ingest.md.
"""

from __future__ import annotations

import argparse
import base64
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
from google.protobuf import json_format
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

from benchmarks._procs import tree_cpu_s
from benchmarks.bench_store import pg_schema
from railguard.store import KeyRing, open_store

RESULTS = Path(__file__).parent / "results" / "ingest.md"
PHOENIX_BIN = Path("/tmp/phoenix-venv/bin/phoenix")
SPANS_PER_TRACE = 5  # an agent root, two model calls, two tool calls
PROMPT = "You are a support agent. The customer asks where order {n} is; look it up and answer briefly. " * 2


# -- the workload: OpenInference-style agent traces, made by the OpenTelemetry SDK -----------------


def _attributes(trace_no: int, index: int) -> tuple[str, dict[str, str | int]]:
    attributes: dict[str, str | int] = {
        "session.id": f"session-{trace_no % 97}",
        "input.value": PROMPT.format(n=trace_no),
    }
    if index == 0:
        name, kind = "support-agent", "CHAIN"
    elif index % 2:
        name, kind = "ChatCompletion", "LLM"
        attributes |= {"llm.model_name": "gpt-4o-mini", "llm.provider": "openai"}
        attributes |= {
            "llm.token_count.prompt": 900 + trace_no % 500 + index,
            "llm.token_count.completion": 60,
        }
    else:
        name, kind = "lookup_order", "TOOL"
        attributes |= {"tool.name": "lookup_order", "tool.parameters": json.dumps({"order": trace_no})}
    attributes["openinference.span.kind"] = kind
    attributes["output.value"] = f"Order {trace_no} ships tomorrow."
    return name, attributes


def build_spans(total_spans: int) -> list[ReadableSpan]:
    """Finished SDK spans: a CHAIN root with two LLM and two TOOL children per trace."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("openinference.instrumentation.openai")
    start_ns = time.time_ns() - 3_600 * 10**9
    for trace_no in range(total_spans // SPANS_PER_TRACE):
        began = start_ns + trace_no * 10**7
        name, attributes = _attributes(trace_no, 0)
        root = tracer.start_span(name, attributes=attributes, start_time=began)
        with trace.use_span(root, end_on_exit=False):
            for index in range(1, SPANS_PER_TRACE):
                name, attributes = _attributes(trace_no, index)
                child = tracer.start_span(name, attributes=attributes, start_time=began + index * 10**6)
                child.end(end_time=began + index * 10**6 + 800_000)
        root.end(end_time=began + SPANS_PER_TRACE * 10**6)
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return spans


def batches_of(spans: list[ReadableSpan], size: int) -> list[list[ReadableSpan]]:
    return [spans[i : i + size] for i in range(0, len(spans), size)]


def json_body(batch: list[ReadableSpan]) -> bytes:
    """The batch in the OTLP/JSON encoding: the protobuf JSON mapping with trace and span ids as hex
    (OTLP/JSON's one difference from the mapping's base64 for bytes)."""
    document = json_format.MessageToDict(encode_spans(batch))
    for resource_spans in document.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


# -- targets ---------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    traces_url: str
    count_stored: Callable[[], int]
    ack_means_stored: bool
    headers: dict[str, str] = field(default_factory=dict)
    cpu_s: Callable[[], float] = lambda: 0.0  # CPU seconds the server's processes have used so far


@dataclass
class Outcome:
    name: str
    sent: int
    stored: int
    seconds: float
    request_ms: list[float] = field(default_factory=list)
    errors: int = 0
    note: str = ""
    server_cpu_s: float = 0.0

    @property
    def spans_per_s(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0

    @property
    def spans_per_cpu_s(self) -> float:
        """Stored spans per CPU second of the server's processes: what one core would sustain,
        whatever else the machine was doing (SQLite's work is in it; PostgreSQL's server is not)."""
        return self.stored / self.server_cpu_s if self.server_cpu_s else 0.0


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
def _process(
    command: list[str], env: dict[str, str], ready_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _wait_ready(ready_url, process, timeout_s=120)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def railguard_target(name: str, db_url: str, workdir: Path, workers: int = 1) -> Iterator[Target]:
    port = _free_port()
    with open_store(db_url) as store:  # an agent key without a rate limit, as a busy fleet would have
        key = KeyRing(store).create(tenant="bench", role="agent", actor="bench", rate_per_s=1e9).key
    command = [sys.executable, "-m", "railguard.cli", "serve", "--port", str(port), "--db", db_url]
    command += ["--log-level", "warning", "--workers", str(workers)]
    env = {k: v for k, v in os.environ.items() if k != "RAILGUARD_INGEST_TOKEN"}

    def count() -> int:
        with open_store(db_url) as store, store.read_connection() as conn:
            return int(conn.execute(text("SELECT count(*) FROM spans")).scalar_one())

    with _process(command, env, f"http://127.0.0.1:{port}/readyz", workdir / f"{name}.log") as process:
        yield Target(
            name,
            f"http://127.0.0.1:{port}/v1/traces",
            count,
            ack_means_stored=True,
            headers={"Authorization": f"Bearer {key}"},
            cpu_s=lambda: tree_cpu_s(process.pid),
        )


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

    with _process(
        [str(PHOENIX_BIN), "serve"], env, f"http://127.0.0.1:{port}/", workdir / "phoenix.log"
    ) as process:
        yield Target(
            "Arize Phoenix (SQLite)",
            f"http://127.0.0.1:{port}/v1/traces",
            count,
            ack_means_stored=False,
            cpu_s=lambda: tree_cpu_s(process.pid),
        )


# -- the load --------------------------------------------------------------------------------------


def run_load(
    target: Target,
    batches: list[list[ReadableSpan]],
    spans_sent: int,
    threads: int,
    drain_timeout_s: float,
    encoding: str = "protobuf",
) -> Outcome:
    """Every batch sent once, from `threads` clients: protobuf through the OpenTelemetry exporter,
    JSON as OTLP/JSON bodies (encoded before the clock starts, as the exporter's encoding is not)."""
    before = target.count_stored()
    request_ms: list[float] = []
    errors = 0
    lock = threading.Lock()
    bodies = [json_body(batch) for batch in batches] if encoding == "json" else []

    def export_all(chunk: list[int]) -> None:
        nonlocal errors
        exporter = OTLPSpanExporter(endpoint=target.traces_url, headers=target.headers, timeout=120)
        client = httpx.Client(timeout=120, headers={**target.headers, "Content-Type": "application/json"})
        try:
            for number in chunk:
                began = time.perf_counter()
                if encoding == "json":
                    ok = client.post(target.traces_url, content=bodies[number]).status_code == 200
                else:
                    ok = exporter.export(batches[number]) is SpanExportResult.SUCCESS
                with lock:
                    request_ms.append((time.perf_counter() - began) * 1000)
                    errors += not ok
        finally:
            exporter.shutdown()
            client.close()

    numbers = list(range(len(batches)))
    _settle(target)
    cpu_before = target.cpu_s()
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(export_all, [numbers[i::threads] for i in range(threads)]))
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
    server_cpu_s = target.cpu_s() - cpu_before
    name = f"{target.name}, OTLP/JSON" if encoding == "json" else target.name
    return Outcome(name, spans_sent, stored, finished - started, request_ms, errors, note, server_cpu_s)


def _settle(target: Target, timeout_s: float = 60.0) -> None:
    """Wait until the server is idle (its start-up work, e.g. compiling the redaction scanner in the
    background, is done), so that the CPU measured is the load's."""
    deadline = time.monotonic() + timeout_s
    last = target.cpu_s()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = target.cpu_s()
        if now - last < 0.02:
            return
        last = now


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


def _targets(outcomes: list[Outcome]) -> list[str]:
    """Issue 11's targets, said against the best configuration of each store."""
    lines = []
    for store, target in (("SQLite", 10_000), ("PostgreSQL", 5_000)):
        protobuf = [
            o for o in outcomes if store in o.name and "JSON" not in o.name and "Phoenix" not in o.name
        ]
        as_json = [o for o in outcomes if store in o.name and "JSON" in o.name]
        if not protobuf:
            continue
        best = max(protobuf, key=lambda o: o.spans_per_s)
        verdict = "met" if best.spans_per_s >= target else "**missed**"
        lines.append(
            f"- Target >= {target:,} stored spans/s on {store} (protobuf): {verdict}, best {best.spans_per_s:,.0f}/s"
            f" ({best.name}); one server core sustains {best.spans_per_cpu_s:,.0f} spans per CPU second"
        )
        if as_json:
            best_json = max(as_json, key=lambda o: o.spans_per_s)
            ratio = best.spans_per_s / best_json.spans_per_s if best_json.spans_per_s else float("inf")
            verdict = "met" if ratio <= 2 else "**missed**"
            lines.append(
                f"- OTLP/JSON within 2x of protobuf on {store}: {verdict} (protobuf / JSON = {ratio:.2f})"
            )
    return lines


def render(
    outcomes: list[Outcome], args: argparse.Namespace, command: str, phoenix_problem: str | None
) -> str:
    lines = [
        "## OTLP ingest throughput: Railguard receiver vs Arize Phoenix",
        "",
        f"Command: `{command}`",
        "",
        f"{args.spans} spans ({args.spans // SPANS_PER_TRACE} OpenInference-style agent traces of {SPANS_PER_TRACE}"
        f" spans: CHAIN root, 2 LLM, 2 TOOL, ~12 attributes each incl. ~190-char input text) made by the"
        f" OpenTelemetry SDK, sent in batches of {args.batch} spans by the real OTLP/HTTP exporter (protobuf;"
        f" OTLP/JSON rows: the same batches as JSON bodies), {args.threads} client threads, every server alone on"
        f" localhost, one run. Phoenix: arize-phoenix {_phoenix_version()}. Machine: {os.cpu_count()} CPUs"
        f" shared with other work (load average {os.getloadavg()[0]:.1f} at the end); client and server on the"
        f" same cores. Only stored spans count (Railguard: 200 = committed, rows counted after; Phoenix: its"
        f" SQLite `spans` table polled until all arrived). Railguard redacts every string attribute before storing.",
        "",
        "| target | spans stored / sent | HTTP errors | seconds | stored spans/s | server CPU s | spans per server CPU s | request p50 ms | request p95 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.name} | {o.stored} / {o.sent} | {o.errors} | {o.seconds:.2f} | {o.spans_per_s:,.0f} |"
            f" {o.server_cpu_s:.2f} | {o.spans_per_cpu_s:,.0f} |"
            f" {_percentile(o.request_ms, 50):.1f} | {_percentile(o.request_ms, 95):.1f} |"
        )
    notes = [f"- {o.name}: {o.note}" for o in outcomes if o.note]
    phoenix = next((o for o in outcomes if "Phoenix" in o.name), None)
    if phoenix is not None and phoenix.spans_per_s:
        for o in outcomes:
            if o is not phoenix:
                cpu_ratio = (
                    f", {o.spans_per_cpu_s / phoenix.spans_per_cpu_s:.1f}x spans per server CPU second"
                    if phoenix.spans_per_cpu_s and o.spans_per_cpu_s
                    else ""
                )
                notes.append(
                    f"- {o.name} / Phoenix: **{o.spans_per_s / phoenix.spans_per_s:.1f}x** stored spans/s{cpu_ratio}"
                )
    notes.extend(_targets(outcomes))
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
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server worker processes")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="max seconds to wait for Phoenix")
    args = parser.parse_args()
    command = " ".join([".venv/bin/python -m benchmarks.bench_ingest", *sys.argv[1:]])
    batches = batches_of(build_spans(args.spans), args.batch)
    sent = sum(len(batch) for batch in batches)
    outcomes: list[Outcome] = []
    phoenix_problem: str | None = None
    with tempfile.TemporaryDirectory(prefix="rg-bench-ingest-") as tmp:
        workdir = Path(tmp)
        for workers in args.workers:
            label = f"Railguard + SQLite ({workers} worker{'s' if workers > 1 else ''})"
            for encoding in ("protobuf", "json"):
                db = f"sqlite:///{workdir / f'rg-{workers}-{encoding}.db'}"
                with railguard_target(label, db, workdir, workers) as target:
                    outcomes.append(
                        run_load(target, batches, sent, args.threads, args.drain_timeout, encoding)
                    )
            label = f"Railguard + PostgreSQL ({workers} worker{'s' if workers > 1 else ''})"
            for encoding in ("protobuf", "json"):
                with (
                    pg_schema(args.pg) as pg_url,
                    railguard_target(label, pg_url, workdir, workers) as target,
                ):
                    outcomes.append(
                        run_load(target, batches, sent, args.threads, args.drain_timeout, encoding)
                    )
        if args.skip_phoenix:
            phoenix_problem = "skipped (--skip-phoenix)"
        elif not PHOENIX_BIN.exists():
            phoenix_problem = f"{PHOENIX_BIN} not found (install it as the module docstring says)"
        else:
            try:
                with phoenix_target(workdir) as target:
                    outcomes.append(run_load(target, batches, sent, args.threads, args.drain_timeout))
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
