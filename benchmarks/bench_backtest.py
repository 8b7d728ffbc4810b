"""Backtest replay throughput: stored-history actions replayed per second through a candidate policy.

A synthetic history (a coding/deploy fleet: shell commands, file reads and writes, HTTP fetches,
refunds; 2% of them dangerous) is built in memory in the replay format and replayed with
`railguard.diagnose.backtest.backtest` through a policy of stateless rules (CEL conditions and the
shell analyzer's facts) against the recorded verdicts, as `railguard backtest` does after reading
the store. The measure is the process's CPU time, so other work on the machine does not count;
wall-clock throughput is reported beside it. Each run is 25 calls of one agent (as a stored run is).
Target: >= 20,000 replayed actions/s for stateless rules on one core.

A second row replays the same history through the same rules plus the stateful guards (loop caps and
a per-run limit, on the backtest's throw-away SQLite store) for comparison.

    .venv/bin/python -m benchmarks.bench_backtest                      # 100k and 1M actions
    .venv/bin/python -m benchmarks.bench_backtest --sizes 100000       # quick

Writes benchmarks/results/backtest.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from railguard.diagnose.backtest import HistoryAction, StoredHistory, backtest, replay_engine

RESULTS = Path(__file__).resolve().parent / "results" / "backtest.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_backtest"

RULES = """
rules:
  - rule: shell/terraform-prod
    tools: [Bash]
    when: "args.command.contains('terraform apply') && args.command.contains('prod')"
    verdict: block
    message: "terraform apply against prod"
  - rule: shell/force-push
    tools: [Bash]
    when: "args.command.contains('push') && args.command.contains('--force')"
    verdict: ask
    message: "force push"
  - rule: files/etc
    tools: [write_file]
    when: "args.path.startsWith('/etc/')"
    verdict: block
    message: "writes under /etc"
  - rule: refund/large
    tools: [refund]
    when: "args.amount > 500"
    verdict: ask
    message: "large refund"
  - rule: http/internal
    tools: [fetch]
    when: "args.url.contains('169.254.169.254')"
    verdict: block
    message: "metadata endpoint"
"""
STATEFUL = """
loops: {max_repeats: 6}
limits:
  - {tools: [refund], key: run, window_s: null, max_count: 20}
"""

_SAFE = [
    ("Bash", lambda r: {"command": f"git status && ls src/mod{r.randint(0, 50)}"}),
    ("Bash", lambda r: {"command": f"pytest tests/test_{r.randint(0, 99)}.py -q"}),
    ("read_file", lambda r: {"path": f"/work/src/file{r.randint(0, 999)}.py"}),
    ("write_file", lambda r: {"path": f"/work/src/file{r.randint(0, 999)}.py", "content": "x = 1\n"}),
    ("fetch", lambda r: {"url": f"https://docs.example.com/page/{r.randint(0, 999)}"}),
    ("refund", lambda r: {"order": f"o{r.randint(0, 9999)}", "amount": r.randint(1, 400)}),
]
_RISKY = [
    ("Bash", lambda r: {"command": "terraform apply -auto-approve -var workspace=prod"}),
    ("Bash", lambda r: {"command": "git push --force origin main"}),
    ("write_file", lambda r: {"path": "/etc/hosts", "content": "1.2.3.4 x"}),
    ("fetch", lambda r: {"url": "http://169.254.169.254/latest/meta-data/"}),
    ("refund", lambda r: {"order": "o1", "amount": 900}),
]


def synthetic_history(n: int, seed: int = 7) -> StoredHistory:
    rng = random.Random(seed)
    history = StoredHistory()
    for i in range(n):
        run = f"run-{i // 25}"
        tool, make = rng.choice(_RISKY) if rng.random() < 0.02 else rng.choice(_SAFE)
        context = {"run": run, "tenant": "acme", "agent": f"agent-{(i // 25) % 8}"}  # a run is one agent's
        history.events.append(
            {"run": run, "type": "action", "id": str(i), "tool": tool, "args": make(rng), "context": context}
        )
        history.actions.append(HistoryAction(run, context["agent"], "acme", tool, run, None, "allow", None))
    return history


def measure(history: StoredHistory, policy_text: str) -> tuple[float, float, int, int]:
    """(actions per CPU second, actions per wall second, actions, changed) for one replay of `history`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "candidate.yaml"
        path.write_text(policy_text)
        with replay_engine([path], provenance=False) as engine:
            cpu, wall = time.process_time(), time.perf_counter()
            report = backtest(history, engine)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return report.actions / cpu, report.actions / wall, report.actions, report.changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--stateful-size", type=int, default=20_000, help="actions for the stateful row")
    args = parser.parse_args(argv)
    rows: list[tuple[Any, ...]] = []
    runs = [(size, "stateless rules", RULES) for size in args.sizes]
    runs.append((args.stateful_size, "rules + loop caps + limit", STATEFUL + RULES))
    load_before = os.getloadavg()[0]
    for size, label, text in runs:
        history = synthetic_history(size)
        rate, wall_rate, actions, changed = measure(history, text)
        rows.append((label, actions, changed, rate, wall_rate))
        print(
            f"{label:28s} {actions:>9,d} actions  {changed:>7,d} changed  {rate:>9,.0f} actions/s (CPU)  "
            f"{wall_rate:>9,.0f} actions/s (wall)",
            flush=True,
        )
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    lines = [
        "## Backtest replay throughput",
        "",
        f"`{COMMAND} --sizes {' '.join(str(s) for s in args.sizes)} --stateful-size {args.stateful_size}`"
        " — synthetic history (2% risky calls, runs of 25 calls of one agent),",
        "replayed through a candidate policy against the recorded verdicts, in one process on one core.",
        "The CPU column (the process's CPU time) is the measure: the wall column moves with whatever else",
        f"the machine runs (load average {load}, on {os.cpu_count()} cores).",
        "Target: >= 20,000 replayed actions/s for stateless rules. The stateful guards read and write the",
        "backtest's throw-away SQLite store on every call, which is what bounds that row.",
        "",
        "| policy | actions | changed | replayed actions/s (CPU) | vs target | replayed actions/s (wall) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, actions, changed, rate, wall_rate in rows:
        lines.append(
            f"| {label} | {actions:,} | {changed:,} | {rate:,.0f} | {rate / 20_000:.2f}x | {wall_rate:,.0f} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
