"""Overhead of tracing streamed calls: one Anthropic `messages.create(stream=True)` read to the end
(403 events) and one OpenAI chat stream with include_usage (203 chunks), each with the bare SDK
client, instrumented with tracing off, and instrumented with tracing into a SQLite store, against
the local wire-format server (tests/integrations/fake_providers.py), interleaved round by round.

    .venv/bin/python -m benchmarks.bench_integration_streams     # writes benchmarks/results/integration_streams.md
    .venv/bin/python -m benchmarks.bench_integration_streams --quick
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
    SSE,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    serving,
)

import railguard as rg
from railguard.integrations import anthropic as rg_anthropic
from railguard.integrations import openai as rg_openai
from railguard.trace import configure_tracing

RESULTS = Path(__file__).parent / "results" / "integration_streams.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_integration_streams"
BLOCKS = 100  # Anthropic: 100 text blocks = start + 2 deltas + stop each, plus 2 message-level events
CHUNKS = 200  # OpenAI: 200 content chunks, plus role, finish and usage chunks


def _anthropic_answer() -> SSE:
    blocks = [{"type": "text", "text": f"part {i} of the answer"} for i in range(BLOCKS)]
    answer = anthropic_stream(anthropic_message(blocks, stop_reason="end_turn", output_tokens=900))
    answer.events = [e for e in answer.events if e[0] not in ("ping", "message_stop")] + [answer.events[-1]]
    return answer


def _openai_answer() -> SSE:
    head = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-2024-08-06",
        "usage": None,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[str | None, Any]:
        return None, {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    usage = chat_completion(
        {"content": "x"}, finish_reason="stop", prompt_tokens=50, completion_tokens=CHUNKS
    )
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": f"token {i} "}) for i in range(CHUNKS)]
    events += [chunk({}, "stop"), (None, {**head, "choices": [], "usage": usage["usage"]}), (None, "[DONE]")]
    return SSE(events)


def _per_stream_us(read: Callable[[], int], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        read()
    return (time.perf_counter() - started) / n * 1e6


def bench(n: int, rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, list[float]]] = {"anthropic": {}, "openai": {}}
    anthropic_answer, openai_answer = _anthropic_answer(), _openai_answer()
    with serving() as fake, tempfile.TemporaryDirectory() as folder:
        fake.turns = _Forever(
            lambda body: (200, anthropic_answer if "messages" in fake.requests[-1][0] else openai_answer)
        )
        bare_a = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        bare_o = openai.OpenAI(api_key="k", base_url=f"{fake.url}/v1", max_retries=0)
        wrapped_a = rg_anthropic.instrument(
            anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        )
        wrapped_o = rg_openai.instrument(openai.OpenAI(api_key="k", base_url=f"{fake.url}/v1", max_retries=0))
        prompt: list[Any] = [{"role": "user", "content": "write"}]

        def read_a(client: Any) -> Callable[[], int]:
            return lambda: sum(
                1
                for _ in client.messages.create(
                    model="claude-sonnet-4-6", max_tokens=9, messages=prompt, stream=True
                )
            )

        def read_o(client: Any) -> Callable[[], int]:
            return lambda: sum(
                1
                for _ in client.chat.completions.create(
                    model="gpt-4o", messages=prompt, stream=True, stream_options={"include_usage": True}
                )
            )

        tracing = configure_tracing(f"sqlite:///{Path(folder) / 'bench.db'}", service_name="bench")
        tracing.shutdown()  # set up once to create the schema; each round below switches it on and off
        for _ in range(rounds):
            for provider, bare, wrapped, read in (
                ("anthropic", bare_a, wrapped_a, read_a),
                ("openai", bare_o, wrapped_o, read_o),
            ):
                timings = results[provider]
                timings.setdefault("bare SDK", []).append(_per_stream_us(read(bare), n))
                timings.setdefault("instrumented, tracing off", []).append(_per_stream_us(read(wrapped), n))
                tracing = configure_tracing(f"sqlite:///{Path(folder) / 'bench.db'}", service_name="bench")
                with rg.run(agent="bench", tenant="bench"):
                    timings.setdefault("instrumented, tracing on", []).append(
                        _per_stream_us(read(wrapped), n)
                    )
                tracing.shutdown()
        fake.turns = []
    return {p: {v: statistics.median(t) for v, t in variants.items()} for p, variants in results.items()}


class _Forever(list[Any]):
    """A turn list that never runs out: every request gets the same streamed answer."""

    def __init__(self, turn: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__([turn])

    def pop(self, index: Any = -1) -> Any:
        return self[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    n, rounds = (5, 3) if quick else (20, 7)
    medians = bench(n, rounds)
    events = {"anthropic": 3 + BLOCKS * 4, "openai": CHUNKS + 3}
    lines = [
        "## Streamed calls: tracing overhead per stream read to the end",
        "",
        f"Command: `{COMMAND}{' --quick' if quick else ''}` (median of {rounds} rounds x {n} streams; "
        f"Python {platform.python_version()}, local server, wall-clock per whole stream)",
        "",
        "| provider (events per stream) | variant | µs per stream | vs bare | µs added per event |",
        "|---|---|---|---|---|",
    ]
    for provider, variants in medians.items():
        bare = variants["bare SDK"]
        for variant, value in variants.items():
            added = (value - bare) / events[provider]
            lines.append(
                f"| {provider} ({events[provider]}) | {variant} | {value:,.0f} | {value / bare:.2f}x | {added:+.1f} |"
            )
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
