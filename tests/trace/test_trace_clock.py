"""`configure_tracing(clock=...)`: spans carry the injected clock's times (simulations, replays)."""

from __future__ import annotations

from pathlib import Path

import railguard
from railguard.engine import Engine
from railguard.model import Action
from railguard.store import open_store
from railguard.trace import configure_tracing, model_call, tool_call, trace_engine


def test_spans_take_their_times_from_the_injected_clock(tmp_path: Path) -> None:
    now = [1_600_000_000 * 10**9]

    def clock() -> int:
        return now[0]

    url = f"sqlite:///{tmp_path / 't.db'}"
    tracing = configure_tracing(url, clock=clock)
    engine = Engine(
        text="rules:\n  - rule: no-rm\n    tools: [Bash]\n    when: args.command == 'rm'\n    verdict: block\n"
    )
    trace_engine(engine)
    try:
        with railguard.run(agent="sim", tenant="t"):
            with model_call("openai", "gpt-4o-mini") as call:
                now[0] += 2 * 10**9
                call.record_usage(input_tokens=10, output_tokens=2)
            with tool_call("Bash", call_id="c1", args={"command": "ls"}):
                engine.check(Action("Bash", {"command": "ls"}))
                now[0] += 10**9
            engine.check(Action("Bash", {"command": "rm"}))  # outside a tool span: its own short span
        assert tracing.flush()
    finally:
        tracing.shutdown()
    with open_store(url) as store:
        run = store.list_runs(tenant="t")[0]
        stored = store.get_trace(run.trace_id, tenant="t")
    spans = {s.name: s for s in stored}
    bash = sorted((s.start_ns, s.end_ns) for s in stored if s.name == "execute_tool Bash")
    base = 1_600_000_000 * 10**9
    assert (spans["chat gpt-4o-mini"].start_ns, spans["chat gpt-4o-mini"].end_ns) == (base, base + 2 * 10**9)
    assert bash == [(base + 2 * 10**9, base + 3 * 10**9), (base + 3 * 10**9, base + 3 * 10**9)]
    assert run.start_ns == base and run.end_ns == base + 3 * 10**9
