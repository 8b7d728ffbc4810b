"""The demo's timeline says what each decision spent its time on: evaluating, and the store (the
cushions' one transaction) — and a call stopped before the cushions never touched the store."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from railguard._demo import run_demo
from railguard.model import Verdict


def test_each_decision_shows_its_time_evaluating_and_in_the_store(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    steps = run_demo(console, db_url=f"sqlite:///{tmp_path / 'demo.db'}")
    text = console.export_text()
    lines = re.findall(r"decided in (\d+) µs(.*)", text)
    assert len(lines) == len(steps)
    for step, (total, rest) in zip(steps, lines, strict=True):
        decision = step.decision
        assert int(total) == round(decision.latency_us)
        if decision.store_us:
            evaluating, store = map(int, re.findall(r"(\d+) µs", rest))
            assert store == round(decision.store_us) and evaluating + store in (
                int(total) - 1,
                int(total),
                int(total) + 1,
            )
            assert "one transaction" in rest
        else:
            assert "no store access" in rest
    # the policy's blocks end the chain before the cushions; the budget's block needed the store
    policy_blocks = [
        s for s in steps if s.decision.verdict is Verdict.BLOCK and s.decision.rules[0] != "budget/run/steps"
    ]
    assert any(s.decision.store_us == 0 for s in policy_blocks)
    assert steps[-1].decision.rules == ("budget/run/steps",) and steps[-1].decision.store_us > 0
