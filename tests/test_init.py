"""`railguard.init(...)`: one call, and a script's decisions and runs are in the store that
`railguard traces list` and `railguard decisions` read (checked from a separate process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import railguard as rg

engine = rg.init("policy.yaml", db="sqlite:///agent.db")
with rg.run(agent="support", tenant="acme", user="ana"):
    allowed = engine.check(rg.Action("lookup_order", {"id": "A-1"}))
    blocked = engine.check(rg.Action("refund", {"amount": 900}))
print(allowed.verdict.value, blocked.verdict.value)
"""
POLICY = """
name: init-test
budgets:
  - {scope: run, metric: steps, limit: 10}
rules:
  - rule: refunds/too-large
    tools: [refund]
    when: args.amount > 500
    verdict: block
"""


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "railguard.cli", *args, "--db", "sqlite:///agent.db", "--json"],
        cwd=folder, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


def test_one_call_traces_decisions_into_the_store_and_installs_the_cushions(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["allow", "block"]
    (run,) = [json.loads(line) for line in _cli(tmp_path, "traces", "list").stdout.splitlines()]
    assert (run["agent"], run["tenant"], run["tool_calls"], run["blocks"]) == ("support", "acme", 2, 1)
    decisions = [json.loads(line) for line in _cli(tmp_path, "decisions").stdout.splitlines()]
    assert sorted(d["verdict"] for d in decisions) == ["allow", "block"]
    # The cushions run on the same store: a kill switch engaged from the CLI stops the next run.
    subprocess.run(
        [sys.executable, "-m", "railguard.cli", "killswitch", "on", "--agent", "support", "--db", "sqlite:///agent.db"],
        cwd=tmp_path, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    again = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["block", "block"]
