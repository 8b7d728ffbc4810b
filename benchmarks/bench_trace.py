"""Tracing overhead on the agent's thread, and redaction processor throughput.

    .venv/bin/python -m benchmarks.bench_trace

Per traced tool call (guard check + execute_tool span + decision attributes, exported through the
redaction processor to a SQLite store in the background), as a ratio to a bare OpenTelemetry SDK span
start/end measured in the same run, interleaved round by round. Writes benchmarks/results/trace.md.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from railguard.engine import Engine
from railguard.model import Action
from railguard.trace import RedactionPolicy, configure_tracing, redact_span, tool_call, trace_engine

COMMAND = ".venv/bin/python -m benchmarks.bench_trace"
OUT = Path(__file__).parent / "results" / "trace.md"
TRACED = "traced tool call (check + span + decision, redacted store export)"
ROUNDS = 20
PER_ROUND = 500
POLICY = """
rules:
  - rule: mail/external
    tools: [send_email]
    when: "!args.to.endsWith('@corp.example.com')"
    verdict: block
    message: "external recipient"
"""
ARGS = {
    "to": "ana@corp.example.com",
    "subject": "Q3 report",
    "body": "Hi Ana, the numbers are attached. " * 4,
}


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    return ordered[len(ordered) // 2] / 1000, ordered[int(len(ordered) * 0.99)] / 1000


def _time(fn: Callable[[], object], n: int, into: list[int]) -> None:
    clock = (
        time.thread_time_ns
    )  # the agent thread's own CPU: neither other processes nor background threads count
    for _ in range(n):
        start = clock()
        fn()
        into.append(clock() - start)


def agent_thread_overhead(tmp: Path) -> tuple[dict[str, tuple[float, float]], dict[str, object]]:
    bare_tracer = TracerProvider().get_tracer("bare")
    batch_provider = TracerProvider()
    batch_provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter(), max_queue_size=100_000))
    batch_tracer = batch_provider.get_tracer("batch")
    engine = Engine.from_yaml(POLICY)
    tracing = configure_tracing(f"sqlite:///{tmp / 'bench.db'}", service_name="bench")
    trace_engine(engine)
    counter = iter(range(10**9))

    def bare() -> None:
        with bare_tracer.start_as_current_span("execute_tool send_email"):
            pass

    def batch() -> None:
        with batch_tracer.start_as_current_span("execute_tool send_email"):
            pass

    untraced = Engine.from_yaml(POLICY)

    def check_untraced() -> None:
        untraced.check(Action("send_email", ARGS, call_id="c"))

    def traced_call() -> None:
        call_id = f"call_{next(counter)}"
        with tool_call("send_email", call_id=call_id, args=ARGS) as call:
            engine.check(Action("send_email", ARGS, call_id=call_id))
            call.record_result({"status": "sent"})

    cases = {
        "bare OTel span (SDK, no processor)": bare,
        "OTel span + BatchSpanProcessor (in-memory exporter)": batch,
        "guard check, no tracing": check_untraced,
        TRACED: traced_call,
    }
    samples: dict[str, list[int]] = {name: [] for name in cases}
    for fn in cases.values():
        _time(fn, 200, [])  # warm-up
    for _ in range(ROUNDS):
        for name, fn in cases.items():
            _time(fn, PER_ROUND, samples[name])
        tracing.flush()  # keep the queue from overflowing between rounds (flush time is not measured)
    stats = tracing.stats()
    tracing.shutdown()
    batch_provider.shutdown()
    return {name: _percentiles(s) for name, s in samples.items()}, stats


def redaction_throughput() -> dict[str, float]:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    secret_args = {
        **ARGS,
        "to": "ana.lopez@mail.example.org",
        "token": "ghp_" + "k3Y9mQ2xV7bN1cR5tW8zL4pD6fH0jS2aE8uI",
    }
    for i in range(2000):
        args = secret_args if i % 2 else ARGS
        with tracer.start_as_current_span(
            "execute_tool send_email",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "send_email",
                "gen_ai.tool.call.id": f"call_{i}",
                "gen_ai.tool.call.arguments": json.dumps(args),
                "gen_ai.tool.call.result": json.dumps({"status": "sent"}),
                "railguard.verdict": "allow",
                "railguard.reason": "no rule matched",
            },
        ):
            pass
    spans: tuple[ReadableSpan, ...] = memory.get_finished_spans()
    policy = RedactionPolicy.build(salt="bench")
    redact_span(spans[0], policy)
    best = float("inf")
    for _ in range(5):
        start = time.thread_time()
        for span in spans:
            redact_span(span, policy, spans[0].resource)
        best = min(best, time.thread_time() - start)
    return {"spans": len(spans), "spans_per_s": len(spans) / best, "us_per_span": best / len(spans) * 1e6}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        overhead, stats = agent_thread_overhead(Path(tmp))
    throughput = redaction_throughput()
    base_p50, base_p99 = overhead["bare OTel span (SDK, no processor)"]
    lines = [
        "## Tracing overhead (`railguard.trace`)",
        "",
        f"Command: `{COMMAND}`  ",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {ROUNDS} interleaved rounds x "
        f"{PER_ROUND} calls per case (shared 2-core box: ratios are the stable number); load average "
        f"{os.getloadavg()[0]:.1f} (1 min) at the end.",
        "",
        "Agent-thread CPU time per call (`time.thread_time_ns`: the machine is shared, and neither other"
        " processes nor the background threads that export, redact and store count; a wall clock here"
        " measured the load):",
        "",
        "| case | p50 us | p99 us | p50 / bare span | p99 / bare span |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (p50, p99) in overhead.items():
        lines.append(f"| {name} | {p50:.1f} | {p99:.1f} | {p50 / base_p50:.1f}x | {p99 / base_p99:.1f}x |")
    check_p50 = overhead["guard check, no tracing"][0]
    traced_p50 = overhead[TRACED][0]
    lines += [
        "",
        f"Tracing's own share of a traced call (traced p50 minus untraced check p50): "
        f"{traced_p50 - check_p50:.1f} us = {(traced_p50 - check_p50) / base_p50:.1f} bare spans.",
        "",
        f"Target (issue 11): a traced tool call <= 3x a bare span at p50 and p99: p50 {traced_p50 / base_p50:.1f}x"
        f" ({'met' if traced_p50 <= 3 * base_p50 else '**missed**'}), p99"
        f" {overhead[TRACED][1] / base_p99:.1f}x"
        f" ({'met' if overhead[TRACED][1] <= 3 * base_p99 else '**missed**'}).",
    ]
    lines += [
        "",
        f"Export during the run: {stats['spans_exported']} spans exported, {stats['dropped']} dropped, "
        f"{stats['export_failures']} export failures.",
        "",
        "Redaction processor throughput in thread CPU time (one background thread, `redact_span` on realistic tool spans, "
        "half of them carrying an email and a GitHub token in JSON arguments):",
        "",
        f"- {throughput['spans_per_s']:,.0f} spans/s ({throughput['us_per_span']:.1f} us per span, "
        f"best of 5 passes over {int(throughput['spans'])} spans)",
        "",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
