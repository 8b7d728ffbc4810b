"""CPU time (user + system) of a fresh process for what a person waits on: `import railguard`,
`railguard --help`, `railguard check` on one action (JSON and human output), `railguard version` and
the Claude Code hook through the CLI. Each case runs as a child process; its CPU time is read with
`resource.getrusage(RUSAGE_CHILDREN)` (CPU, not wall: the machine may be shared), median of N runs.
With `--baseline REF` the tree at git REF runs the same cases, interleaved with this one so both see
the same machine load, and the table shows both side by side.

    .venv/bin/python -m benchmarks.bench_startup_cpu --baseline main   # writes benchmarks/results/startup_cpu.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_startup import tree_at

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "startup_cpu.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_startup_cpu --baseline {ref}"
TARGET_MS = 150
ONE_ACTION = json.dumps({"tool": "Bash", "args": {"command": "git status"}}) + "\n"
HOOK_EVENT = json.dumps(
    {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "git status"},
     "session_id": "bench", "tool_use_id": "t1", "cwd": "/tmp"}
)  # fmt: skip
CLI = ["-m", "railguard.cli"]
CASES: dict[str, tuple[list[str], str]] = {
    "`python -c 'import railguard'`": (["-c", "import railguard"], ""),
    "`railguard --help`": ([*CLI, "--help"], ""),
    "`railguard check --json` (one action: git status)": ([*CLI, "check", "--json"], ONE_ACTION),
    "`railguard check` (one action, human output)": ([*CLI, "check"], ONE_ACTION),
    "`railguard version`": ([*CLI, "version"], ""),
    "`railguard hook claude-code` (one PreToolUse)": ([*CLI, "hook", "claude-code"], HOOK_EVENT),
}


def cpu_ms(src: Path, args: list[str], stdin: str, cache: Path | None = None) -> float:
    """`cache`: a parsed-data cache directory emptied before the run (a user's first run of this
    version); None: the user's own cache, warm after the warm-up."""
    # Bytecode caches as on a user's machine (pip writes them; an editable install writes them on
    # first run): PYTHONDONTWRITEBYTECODE in this environment would make every run compile from source.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(src), COLUMNS="100")
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
        env["RAILGUARD_CACHE_DIR"] = str(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 2):
        raise RuntimeError(f"{args} failed ({done.returncode}): {done.stderr[-500:]}")
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="git ref to compare with")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--cold", action="store_true", help="every run starts with an empty parsed-data cache"
    )
    parser.add_argument("--no-write", action="store_true", help=f"print the table only (not {RESULTS.name})")
    opts = parser.parse_args()
    load_before = os.getloadavg()[0]
    samples: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"now": ROOT / "src"}
        if opts.baseline:
            trees = {"before": tree_at(opts.baseline, Path(tmp)), "after": ROOT / "src"}
        cache = Path(tmp) / "cold-cache" if opts.cold else None
        for src in trees.values():  # warm-up: bytecode caches written, files in the page cache
            for args, stdin in CASES.values():
                cpu_ms(src, args, stdin, cache)
        for _ in range(opts.runs):  # interleaved: every tree sees the same machine load
            for case, (args, stdin) in CASES.items():
                for label, src in trees.items():
                    samples.setdefault((case, label), []).append(cpu_ms(src, args, stdin, cache))
    load = (load_before + os.getloadavg()[0]) / 2
    labels = list(trees)
    header = "| command | " + " | ".join(f"{label} (ms CPU)" for label in labels) + " |"
    lines = [
        "## Start-up: CPU time of a fresh process",
        "",
        f"CPU time (user + system) of one fresh process per command, median of {opts.runs} runs, "
        f"{' and '.join(labels)} trees interleaved; 1-minute load average {load:.1f} during the run "
        f"(shared 2-core machine){'; every run with an empty parsed-data cache' if opts.cold else ''}. Target: under {TARGET_MS} ms for `--help` and a one-action `check`.",
        "",
        header,
        "|---|" + "---:|" * len(labels),
    ]
    for case in CASES:
        cells = [f"{statistics.median(samples[(case, label)]):.0f}" for label in labels]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "How: `railguard --help` prints a static command table (no command module, Typer, Rich or engine); "
        "`import railguard` loads the engine, model and policy on first use; `railguard check` parses its own "
        "options (Typer only for anything else, whose errors stay the reference) and loads detectors as its "
        "actions need them; other commands build the Typer app with only their own modules. Policies parse "
        "with libyaml, contracts load jsonschema only when declared, asyncio loads only for async callers. "
        "A detector loads on the first action that reads its fact (off the deadline's clock), and only when "
        "that action needs it: `git status` is too short for the injection model to score. A pack parsed "
        "before comes from a per-user parsed-data cache (`railguard._parsed_cache`, keyed by the text and "
        "the parser's code; no PyYAML import), and package data is read without `importlib.resources`. "
        "The methods `dataclasses` writes for the ~60 classes a check loads (~350 functions, about a third "
        "of its start-up CPU when compiled) come compiled from a per-user table in the same cache "
        "(`railguard._dataclass_code`, installed only by a process the CLI owns); so does the matcher code of "
        "the ~110 regular expressions it compiles (`railguard._regex_code`). In that process the cyclic "
        "collector waits until the first action is decided, and a finished check exits without tearing "
        "the interpreter down (`railguard.cli._process`; exit handlers still run). Redaction kinds a "
        "policy names are checked against names cached with the packs, not by building the scanners, and "
        "digests come from CPython's own hash modules (no OpenSSL). What a one-action check still pays: "
        "the engine, policy and shell analyzer modules (loading and running their code, making their "
        "classes) and the interpreter itself.",
        "",
        "Where the time goes: `python -X importtime -m railguard.cli check --json < action.jsonl`. "
        "`tests/test_startup_imports.py` pins which heavy modules each of these loads (never a time).",
        "",
        f"Reproduce: `{COMMAND.format(ref=opts.baseline or 'REF')}`",
        "",
    ]
    if not opts.no_write:
        RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
