"""Overhead of the Anthropic and OpenAI integrations per model call: the bare SDK client vs the same
client instrumented (tracing off, then tracing into a SQLite store), all against one local
wire-format server (tests/integrations/fake_providers.py) in one run, interleaved round by round so
machine noise hits every variant alike. Also the cost of `guard_tool_calls` on a two-call response.

    .venv/bin/python -m benchmarks.bench_integrations            # writes benchmarks/results/integrations.md
    .venv/bin/python -m benchmarks.bench_integrations --quick
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
from tests.integrations.fake_providers import (
    FakeProvider,
    anthropic_message,
    chat_completion,
    chat_tool_call,
    serving,
    tool_use,
)

import railguard as rg
from railguard.engine import Engine
from railguard.integrations import anthropic as rg_anthropic
from railguard.integrations import openai as rg_openai
from railguard.trace import configure_tracing

RESULTS = Path(__file__).parent / "results" / "integrations.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_integrations"
POLICY = """
rules:
  - rule: payments/limit
    tools: [send_money]
    when: args.amount > 1000
    verdict: block
    message: payments over 1000 need another way
"""
ANTHROPIC_REPLY = anthropic_message(
    [
        tool_use("toolu_a", "get_balance", {"account": "main"}),
        tool_use("toolu_b", "send_money", {"to": "DE1", "amount": 5000}),
    ],
    stop_reason="tool_use",
    input_tokens=100,
    output_tokens=40,
    cache_read=1000,
)
OPENAI_REPLY = chat_completion(
    {"content": None, "tool_calls": [chat_tool_call("call_a", "get_balance", '{"account": "main"}')]},
    finish_reason="tool_calls",
    prompt_tokens=1200,
    cached_tokens=1000,
    completion_tokens=300,
)


def _always(fake: FakeProvider, reply: dict[str, Any]) -> None:
    """Script a reply for every request the benchmark will make."""
    fake.turns = [lambda body: (200, reply)] * 1_000_000


def _per_call_us(call: Callable[[], Any], n: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        call()
    return (time.perf_counter_ns() - start) / n / 1000


def _measure(variants: dict[str, Callable[[], Any]], n: int, rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for call in variants.values():
        call()  # warm up: connection, imports, first-use compilation
    for _ in range(rounds):
        for name, call in variants.items():
            samples[name].append(_per_call_us(call, n))
    return {name: statistics.median(values) for name, values in samples.items()}


def bench_provider(
    label: str,
    make: Callable[[str], Any],
    create: Callable[[Any], Any],
    reply: dict[str, Any],
    n: int,
    rounds: int,
    folder: Path,
) -> dict[str, float]:
    with serving() as fake:
        _always(fake, reply)
        bare = make(fake.url)
        instrumented = make(fake.url)
        (rg_anthropic if label == "anthropic" else rg_openai).instrument(instrumented)
        off = _measure(
            {"bare": lambda: create(bare), "instrumented": lambda: create(instrumented)}, n, rounds
        )
        tracing = configure_tracing(f"sqlite:///{folder / (label + '.db')}", service_name="bench")
        try:
            with rg.run(agent="bench", tenant="bench"):
                on = _measure(
                    {"bare": lambda: create(bare), "instrumented": lambda: create(instrumented)}, n, rounds
                )
            stats = tracing.stats()
        finally:
            tracing.shutdown()
        fake.turns = []
    return {
        "bare_us": off["bare"],
        "instrumented_off_us": off["instrumented"],
        "bare_tracing_us": on["bare"],
        "instrumented_tracing_us": on["instrumented"],
        "dropped": float(stats["dropped"]),
    }


def bench_guard(n: int) -> dict[str, float]:
    engine = Engine.from_yaml(POLICY)
    with serving() as fake:
        _always(fake, ANTHROPIC_REPLY)
        response = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0).messages.create(
            model="claude-sonnet-4-6", max_tokens=16, messages=[{"role": "user", "content": "x"}]
        )
        fake.turns = []
    with rg.run(tenant="bench"):
        guard_us = statistics.median(
            _per_call_us(lambda: rg_anthropic.guard_tool_calls(engine, response), n) for _ in range(5)
        )
    return {"guard_two_calls_us": guard_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    n, rounds = (50, 3) if options.quick else (200, 5)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {
            "anthropic": bench_provider(
                "anthropic",
                lambda url: anthropic.Anthropic(api_key="k", base_url=url, max_retries=0),
                lambda c: c.messages.create(
                    model="claude-sonnet-4-6", max_tokens=16, messages=[{"role": "user", "content": "x"}]
                ),
                ANTHROPIC_REPLY,
                n,
                rounds,
                folder,
            ),
            "openai": bench_provider(
                "openai",
                lambda url: openai.OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0),
                lambda c: c.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "x"}]
                ),
                OPENAI_REPLY,
                n,
                rounds,
                folder,
            ),
        }
    guard = bench_guard(n * 5)
    lines = [
        "## Integrations: wrapper overhead per model call",
        "",
        f"Command: `{COMMAND}{' --quick' if options.quick else ''}`  ",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"anthropic {anthropic.__version__}, openai {openai.__version__}; {n} calls x {rounds} rounds "
        "(median of rounds) per variant, against a local wire-format server (HTTP on 127.0.0.1).",
        "",
        "| SDK | bare client | instrumented, tracing off | ratio | bare, tracing on | instrumented, tracing on (SQLite) | ratio | spans dropped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sdk, r in results.items():
        lines.append(
            f"| {sdk} | {r['bare_us']:.0f} µs | {r['instrumented_off_us']:.0f} µs | "
            f"{r['instrumented_off_us'] / r['bare_us']:.3f}x | {r['bare_tracing_us']:.0f} µs | "
            f"{r['instrumented_tracing_us']:.0f} µs | {r['instrumented_tracing_us'] / r['bare_tracing_us']:.3f}x | "
            f"{r['dropped']:.0f} |"
        )
    lines += [
        "",
        f"`guard_tool_calls` on a two-call Anthropic response (one allowed, one blocked): "
        f"{guard['guard_two_calls_us']:.1f} µs per response (tracing off).",
        "",
        "The local server answers in a few milliseconds (a real provider takes hundreds), so these ratios "
        "are the worst case; a ratio below 1.0 shows the run-to-run noise of a shared machine, which is "
        "larger than the wrapper's own cost.",
        "",
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
