"""The examples run as documented (so they never rot)."""

from __future__ import annotations

import runpy
from pathlib import Path

from railguard.policy.testing import Status, run_tests

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_support_agent_example_runs() -> None:
    module = runpy.run_path(str(EXAMPLES / "support_agent" / "agent.py"))
    log = module["main"]()
    assert log[0] == "refunded 49.90 on ord_123"
    assert log[1].startswith("waiting for a human: payment of 350.0")
    assert "args.order_id: must match the pattern" in log[2]
    assert "[redacted:stripe_key]" in log[3] and "sk_live" not in log[3]


def test_example_policy_tests_pass() -> None:
    results = list(run_tests([EXAMPLES]))
    assert results and all(r.status is Status.PASS for r in results), [r.message for r in results]
