"""Adversarial inputs: CPU time and peak memory of one check against the command's length and nesting.

Run from the repo root:  .venv/bin/python -m benchmarks.bench_adversarial [--baseline COMMIT]
Writes benchmarks/results/adversarial.md.

Each row is one `Engine.check` of a Bash action through the coding-agent pack (the JSON rows add the
secrets pack, which reads every argument), with the analyzer's cache cleared before every run. CPU time
is the check's own thread time (median of 5 runs); peak memory is tracemalloc's peak over one more run
(Python and tree-sitter allocations). `--baseline` also runs the pipeline shape on the source of an
older commit, in a subprocess (its CPU time and the subprocess's peak RSS), with a per-run timeout.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import railguard as rg
from railguard.detect._budget import InputTooLarge
from railguard.detect.shell._analyze import analyze_cached, analyze_uncached
from railguard.detect.shell._limits import (
    MAX_COMMAND_CHARS,
    MAX_COMMANDS,
    MAX_DESTINATIONS,
    MAX_NESTING,
    MAX_PIPELINE_STAGES,
    MAX_WORDS,
)

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
COMMAND = ".venv/bin/python -m benchmarks.bench_adversarial --baseline b818e74"
LENGTHS = [1_000, 2_000, 4_000, 8_000, 16_000, 64_000, 100_000, 1_000_000]
DEPTHS = [8, 16, 32, 64, 256, 1_000, 10_000]
TARGET_MS, TARGET_MB = 50.0, 50.0


def _repeat(unit: str, length: int) -> str:
    return unit * max(1, length // len(unit))


# Shapes by length: the text grows, the structure repeats.
LENGTH_SHAPES: dict[str, Callable[[int], str]] = {
    "pipeline `a|a|...|rm -rf /`": lambda n: _repeat("a|", n) + "rm -rf /",
    "shell pipeline `echo x|sh|sh|...`": lambda n: "echo x|" + _repeat("sh|", n) + "rm -rf /",
    "sequence `a; a; ...`": lambda n: _repeat("a; ", n) + "rm -rf /",
    "substitutions `echo $(a) $(a) ...`": lambda n: "echo " + _repeat("$(a) ", n) + "; rm -rf /",
    "heredoc to a shell": lambda n: "bash <<'EOF'\n" + _repeat("ls -la\n", n) + "rm -rf /\nEOF\n",
    "heredoc written to a file": lambda n: "cat > notes.md <<'EOF'\n" + _repeat("| a | b |\n", n) + "EOF\n",
    "arguments `rm -rf / x x ...`": lambda n: "rm -rf / " + _repeat("x ", n),
    "URLs `curl https://h.example.com/ ...`": lambda n: "curl " + _repeat("https://h.example.com/ ", n),
}


def _nest_json(depth: int) -> Any:
    value: Any = ["rm", "-rf", "/"]
    for _ in range(depth):
        value = [value]
    return value


# Shapes by depth: the structure nests.
DEPTH_SHAPES: dict[str, Callable[[int], str | Any]] = {
    "command substitutions `$($(...))`": lambda d: "echo " + "$(" * d + "rm -rf /" + ")" * d,
    "subshells `((...))`": lambda d: "(" * d + "rm -rf /" + ")" * d,
    "if statements": lambda d: "if a; then " * d + "rm -rf /" + "; fi" * d,
    "JSON argument (argv nested in lists)": _nest_json,
}


def at_the_cap(build: Callable[[int], str]) -> int:
    """The largest length `build` takes before the analyzer refuses it (binary search)."""
    low, high = 1, MAX_COMMAND_CHARS
    while low < high:
        middle = (low + high + 1) // 2
        try:
            analyze_uncached(build(middle), None, None)
            low = middle
        except InputTooLarge:
            high = middle - 1
    return low


def _check(engine: rg.Engine, args: dict[str, Any]) -> rg.Decision:
    analyze_cached.cache_clear()
    return engine.check(rg.Action("Bash", args))


def measure(engine: rg.Engine, args: dict[str, Any]) -> tuple[float, float, str]:
    """(median CPU ms, peak MB, outcome) of one check."""
    times = []
    try:
        decision = _check(engine, args)
    except Exception as err:  # reported as a row: the engine must never raise (issue 10, item 5)
        return float("nan"), float("nan"), f"**engine raised {type(err).__name__}** (outside the analyzer)"
    for _ in range(5):
        start = time.thread_time()
        decision = _check(engine, args)
        times.append((time.thread_time() - start) * 1000)
    tracemalloc.start()
    _check(engine, args)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    refused = "InputTooLarge" in decision.reason
    outcome = (
        f"{decision.verdict.value} ({'refused past a cap' if refused else ', '.join(decision.rules) or '-'})"
    )
    return statistics.median(times), peak, outcome


_BASELINE_CHILD = """
import resource, sys, time
from railguard.detect.shell import analyze_command
command = "a|" * (int(sys.argv[1]) // 2) + "rm -rf /"
start = time.process_time()
verdict = analyze_command(command).verdict
cpu = time.process_time() - start
print(cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, verdict)
"""


def baseline(commit: str, lengths: list[int], timeout: float) -> list[tuple[int, str, str, str]]:
    """The pipeline shape analyzed by the source of `commit` (git archive into a temp dir)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", commit, "src"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        for length in lengths:
            env = {"PYTHONPATH": f"{tmp}/src", "PATH": "/usr/bin:/bin"}
            try:
                done = subprocess.run([sys.executable, "-c", _BASELINE_CHILD, str(length)], env=env,
                                      capture_output=True, text=True, timeout=timeout)  # fmt: skip
                cpu, rss, verdict = done.stdout.split()
                rows.append((length, f"{float(cpu) * 1000:,.0f}", f"{float(rss):,.0f}", verdict))
            except subprocess.TimeoutExpired:
                rows.append((length, f"> {timeout * 1000:,.0f} (timeout)", "-", "-"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", help="also measure the pipeline shape on this older commit")
    parser.add_argument("--baseline-timeout", type=float, default=60.0)
    options = parser.parse_args()

    coding = rg.Engine(packs=["coding-agent"])
    with_secrets = rg.Engine(packs=["coding-agent", "secrets"])
    _check(coding, {"command": "ls -la | grep x && rm -rf build/"})  # parsers loaded outside the measure

    md = [
        "## Adversarial inputs: bounded analysis",
        "",
        f"Reproduce: `{COMMAND}` (Python {platform.python_version()}). One `Engine.check` of a Bash action "
        "through the coding-agent pack (the JSON rows add the secrets pack); the analyzer's cache is cleared "
        "before each run. CPU: the check's thread time, median of 5. Peak: tracemalloc's peak over one run. "
        f"Target at the caps: < {TARGET_MS:.0f} ms CPU and < {TARGET_MB:.0f} MB, linear below them; past a "
        "cap the check answers the policy's `on_error` (block) — never a milder verdict from a partial "
        "analysis.",
        "",
        f"Caps (`railguard/detect/shell/_limits.py`): {MAX_COMMAND_CHARS:,} characters, {MAX_COMMANDS:,} "
        f"simple commands, {MAX_PIPELINE_STAGES} pipeline stages, {MAX_WORDS:,} words, {MAX_DESTINATIONS} "
        f"network destinations, nesting depth {MAX_NESTING}; arguments nested deeper than 32 or longer than 100,000 characters are refused too.",
        "",
        "### By length",
        "",
        "| shape | length | CPU ms | peak MB | outcome |",
        "|---|---:|---:|---:|---|",
    ]
    worst_ms = worst_mb = 0.0
    for name, build in LENGTH_SHAPES.items():
        cap = at_the_cap(build)
        for length in sorted([*LENGTHS, cap]):
            command = build(length)
            ms, mb, outcome = measure(coding, {"command": command})
            worst_ms, worst_mb = max(worst_ms, ms), max(worst_mb, mb)
            label = f"**{len(command):,}** (at the cap)" if length == cap else f"{len(command):,}"
            md.append(f"| {name} | {label} | {ms:.1f} | {mb:.1f} | {outcome} |")
            print(name, len(command), f"{ms:.1f} ms", f"{mb:.1f} MB", outcome, flush=True)
    md += [
        "",
        "### By nesting depth",
        "",
        "| shape | depth | CPU ms | peak MB | outcome |",
        "|---|---:|---:|---:|---|",
    ]
    for name, build in DEPTH_SHAPES.items():
        for depth in DEPTHS:
            value = build(depth)
            engine = with_secrets if not isinstance(value, str) else coding
            ms, mb, outcome = measure(engine, {"command": value})
            worst_ms, worst_mb = max(worst_ms, ms), max(worst_mb, mb)
            md.append(f"| {name} | {depth:,} | {ms:.1f} | {mb:.1f} | {outcome} |")
            print(name, depth, f"{ms:.1f} ms", f"{mb:.1f} MB", outcome, flush=True)
    md += [
        "",
        f"Worst row: {worst_ms:.1f} ms CPU, {worst_mb:.1f} MB peak (target < {TARGET_MS:.0f} ms, "
        f"< {TARGET_MB:.0f} MB). `railguard/error` beside a rule is the engine's 50 ms deadline, measured "
        "on the wall clock and so hit on this busy machine (after the rule had already blocked); the CPU-time "
        "deadline is the engine's side of issue 10. The JSON rows that raise are the engine's own "
        "canonical JSON of the arguments (issue 10, item 5), not the analyzers: past 32 levels the facts "
        "refuse the arguments first.",
        "",
        "### Before: the pipeline shape on main before this work",
        "",
        'From the issue (measured from outside, the installed hook and `railguard check`): `"a|" * N + '
        '"rm -rf /"` took 6.9 s and 1 GB at 16 KB, 25 s and 3.2 GB at 32 KB, 381 to 425 s at 66 KB; the hook '
        "took 33 s on a 40 KB command. Past ~1,000 stages the analyzer also crashed (RecursionError) into "
        "`ask`, a milder verdict than the `block` the command deserves.",
    ]
    if options.baseline:
        rows = baseline(options.baseline, [1_000, 2_000, 4_000, 8_000, 16_000], options.baseline_timeout)
        md += [
            "",
            f"Measured now on commit `{options.baseline}` (analyzer alone, in a subprocess; peak RSS includes "
            "the interpreter):",
            "",
            "| length | CPU ms | peak RSS MB | verdict |",
            "|---:|---:|---:|---|",
            *(f"| {length:,} | {cpu} | {rss} | {verdict} |" for length, cpu, rss, verdict in rows),
        ]
        print(json.dumps(rows))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "adversarial.md").write_text("\n".join(md) + "\n")
    print(
        "wrote benchmarks/results/adversarial.md",
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "MB",
    )


if __name__ == "__main__":
    main()
