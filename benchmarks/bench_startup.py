"""Start-up cost of `import railguard`, of one Claude Code hook call (`python -m
railguard.integrations.claude_code` deciding one PreToolUse event) and of the span API the guard and
the integrations use, measured with `python -X
importtime`: the total import time, the number of modules loaded, and whether the OpenTelemetry SDK
or SQLAlchemy were loaded. With `--baseline REF` the same is measured for the tree at git REF, runs
interleaved so that both see the same machine load, and reported side by side as ratios.

    .venv/bin/python -m benchmarks.bench_startup --baseline 20446dc   # writes benchmarks/results/startup.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "startup.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_startup --baseline {ref}"
HEAVY = ("opentelemetry.sdk", "sqlalchemy")
HOOK_EVENT = json.dumps(
    {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls -la"},
     "session_id": "bench", "tool_use_id": "t1", "cwd": "/tmp"}
)  # fmt: skip
CASES = {
    "import railguard": (["-c", "import railguard"], ""),
    "hook: one PreToolUse call": (["-m", "railguard.integrations.claude_code"], HOOK_EVENT),
    # What `@engine.guard` and the integrations load to create spans (tracing off).
    "span API: _guard + integrations.generic": (
        ["-c", "import railguard._guard, railguard.integrations.generic"],
        "",
    ),
}


@dataclass
class Sample:
    import_ms: float
    wall_ms: float
    modules: int
    heavy: list[str]


def measure(src: Path, args: list[str], stdin: str) -> Sample:
    env = {**os.environ, "PYTHONPATH": str(src)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args], input=stdin, capture_output=True, text=True, env=env
    )
    wall_ms = (time.perf_counter() - started) * 1000
    rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
    rows = [r for r in rows if r[0].split(":")[1].strip().isdigit()]  # skip the header line
    names = [r[2].strip() for r in rows]
    return Sample(
        import_ms=sum(int(r[0].split(":")[1]) for r in rows) / 1000,
        wall_ms=wall_ms,
        modules=len(names),
        heavy=sorted({h for h in HEAVY for n in names if n == h or n.startswith(h + ".")}),
    )


def tree_at(ref: str, into: Path) -> Path:
    archive = into / "src.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="git ref to compare with")
    parser.add_argument("--runs", type=int, default=9)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"now": ROOT / "src"}
        if opts.baseline:
            trees = {"before": tree_at(opts.baseline, Path(tmp)), "after": ROOT / "src"}
        for src in trees.values():  # warm-up: both trees get their bytecode caches written
            for args, stdin in CASES.values():
                measure(src, args, stdin)
        samples: dict[tuple[str, str], list[Sample]] = {}
        for _ in range(opts.runs):  # interleaved: every tree sees the same machine load
            for case, (args, stdin) in CASES.items():
                for label, src in trees.items():
                    samples.setdefault((case, label), []).append(measure(src, args, stdin))
    lines = [
        "## Start-up: import railguard and one hook call",
        "",
        f"Median of {opts.runs} runs of `python -X importtime` each, trees interleaved. import ms = the sum "
        "of every module's own import time; wall ms = the whole process (interpreter start, the hook's "
        "decision, exit). Heavy = the OpenTelemetry SDK / SQLAlchemy were loaded.",
        "",
        "| case | tree | import ms | wall ms | modules | heavy |",
        "|---|---|---:|---:|---:|---|",
    ]
    for case in CASES:
        for label in trees:
            s = samples[(case, label)]
            heavy = ", ".join(s[-1].heavy) or "none"
            lines.append(
                f"| {case} | {label} | {statistics.median(x.import_ms for x in s):.0f} | "
                f"{statistics.median(x.wall_ms for x in s):.0f} | {s[-1].modules} | {heavy} |"
            )
        if opts.baseline:
            before = statistics.median(x.import_ms for x in samples[(case, "before")])
            after = statistics.median(x.import_ms for x in samples[(case, "after")])
            lines.append(f"| {case} | after / before | {after / before:.2f}x | | | |")
    lines += ["", f"Reproduce: `{COMMAND.format(ref=opts.baseline or 'REF')}`", ""]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
