"""Run every benchmark in sequence, then rebuild BENCHMARKS.md (`make bench`).

    .venv/bin/python -m benchmarks.run_all            # full sizes (the 1M-span store run takes a while)
    .venv/bin/python -m benchmarks.run_all --quick    # smaller sizes, same tables

The Phoenix comparison needs Phoenix in its own virtualenv (see benchmarks/bench_ingest.py); without
it the ingest benchmark reports Railguard alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

FULL: list[list[str]] = [
    ["bench_engine"],
    ["bench_shell"],
    ["bench_adversarial", "--baseline", "b818e74"],
    ["bench_sql_net"],
    ["bench_secrets"],
    ["bench_injection"],
    ["bench_trace"],
    ["bench_store"],
    ["bench_ingest"],
    ["bench_state"],
    ["bench_state_approvals"],
    ["bench_integrations"],
    ["bench_agentdojo"],
]
QUICK_ARGS = {
    "bench_engine": ["--quick"],
    "bench_store": ["--spans", "50000", "--repeat", "50"],
    "bench_ingest": ["--spans", "2000"],
    "bench_state": ["--ops", "300", "--seconds", "2"],
    "bench_state_approvals": ["-n", "500"],
    "bench_integrations": ["--quick"],
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    opts = parser.parse_args()
    wanted = set(filter(None, opts.only.split(",")))
    failed = []
    for (name,) in FULL:
        if wanted and name not in wanted:
            continue
        cmd = [sys.executable, "-m", f"benchmarks.{name}", *(QUICK_ARGS.get(name, []) if opts.quick else [])]
        print(f"== {' '.join(cmd[1:])}", flush=True)
        if subprocess.run(cmd).returncode != 0:
            failed.append(name)
    subprocess.run([sys.executable, "-m", "benchmarks.report"], check=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
