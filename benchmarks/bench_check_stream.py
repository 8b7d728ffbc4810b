"""`railguard check --json` as a stream: decisions per second of CPU, per built-in pack, on the
everyday documented shell commands (`benchmarks/data/shell_everyday.tsv`, one `Bash` action each).

Each measurement is a fresh `python -m railguard.cli check --json` process reading a JSON Lines file
and writing to /dev/null; its CPU time (user + system, `RUSAGE_CHILDREN`) is read after it exits.
Start-up (imports, policy load, detector load) is taken out by difference: a stream of N lines minus
a stream of its first line gives the marginal cost of N - 1 decisions on the real command path
(JSON read, engine, JSON write and flush per line). "first sight" is the corpus once: every command
new to the process. "seen before" is a second copy of the corpus after the first: what a session
that repeats its commands (git status, ls, pytest...) costs, where the shell analysis is reused.

With `--baseline REF`, the same streams run through the tree at git REF too, and every decision's
verdict and fired rules are compared line by line: the report counts the differences (target 0).

    .venv/bin/python -m benchmarks.bench_check_stream --baseline main   # writes benchmarks/results/check_stream.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.bench_shell import everyday_rows
from benchmarks.bench_startup import tree_at

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "check_stream.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_check_stream --baseline {ref}"
TARGET = 20_000  # decisions/s, default pack, everyday commands


def shell_sets() -> list[str]:
    """The other shell sets of benchmarks/data (dangerous, benign, red team, brief): for the verdict
    comparison, where what the guard blocks matters most."""
    commands: list[str] = []
    for name in ("shell_dangerous", "shell_benign", "shell_redteam", "shell_brief"):
        for item in yaml.safe_load((DATA / f"{name}.yaml").read_text()) or []:
            if isinstance(item, dict) and isinstance(item.get("command"), str):
                commands.append(item["command"])
    return commands


def write_stream(path: Path, commands: list[str]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for command in commands:
            out.write(json.dumps({"tool": "Bash", "args": {"command": command}}) + "\n")
    return path


def run(src: Path, pack: str, stream: Path, *, keep: bool = False) -> tuple[float, list[str]]:
    """CPU ms of one `railguard check --json --pack PACK` process over `stream` (and its output lines)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with stream.open("rb") as given:
        done = subprocess.run(
            [sys.executable, "-m", "railguard.cli", "check", "--json", "--pack", pack],
            stdin=given,
            stdout=subprocess.PIPE if keep else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"check --pack {pack} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return cpu, (done.stdout.decode().splitlines() if keep else [])


def outcome(line: str) -> tuple[str, tuple[str, ...]]:
    decision = json.loads(line)
    return decision["verdict"], tuple(decision["rules"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="git ref whose verdicts (and speed) to compare with")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--packs", nargs="*", help="default: every built-in pack")
    opts = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from railguard.policy import available_packs

    packs = opts.packs or ["default", *[p for p in available_packs() if p != "default"]]
    everyday = everyday_rows()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        trees = {"after": ROOT / "src"}
        if opts.baseline:
            (folder / "base").mkdir()
            trees = {"before": tree_at(opts.baseline, folder / "base"), "after": ROOT / "src"}
        one = write_stream(folder / "one.jsonl", everyday[:1])
        once = write_stream(folder / "once.jsonl", everyday)
        twice = write_stream(folder / "twice.jsonl", everyday + everyday)
        compare = write_stream(folder / "compare.jsonl", everyday + shell_sets())
        speed: dict[tuple[str, str], dict[str, float]] = {}
        verdicts: dict[tuple[str, str], dict[str, int]] = {}
        differ: dict[str, int] = {}
        for pack in packs:
            outputs = {label: run(src, pack, compare, keep=True)[1] for label, src in trees.items()}
            for label, lines in outputs.items():
                counts: dict[str, int] = {}
                for line in lines:
                    counts[outcome(line)[0]] = counts.get(outcome(line)[0], 0) + 1
                verdicts[(pack, label)] = counts
            if opts.baseline:
                pairs = zip(outputs["before"], outputs["after"], strict=True)
                differ[pack] = sum(outcome(a) != outcome(b) for a, b in pairs)
            samples: dict[tuple[str, str], list[float]] = {}
            for _ in range(opts.runs):  # interleaved: every tree sees the same machine load
                for label, src in trees.items():
                    for name, stream in (("one", one), ("once", once), ("twice", twice)):
                        samples.setdefault((label, name), []).append(run(src, pack, stream)[0])
            n = len(everyday)
            for label in trees:
                med = {name: statistics.median(samples[(label, name)]) for name in ("one", "once", "twice")}
                speed[(pack, label)] = {
                    "first": (n - 1) / max(med["once"] - med["one"], 1e-9) * 1000,
                    "again": n / max(med["twice"] - med["once"], 1e-9) * 1000,
                    "startup": med["one"],
                }
    load = (load_before + os.getloadavg()[0]) / 2
    labels = list(trees)
    lines = [
        "## `railguard check` as a stream: decisions per second, per pack",
        "",
        f"Everyday documented shell commands ({len(everyday)} lines of `benchmarks/data/shell_everyday.tsv`, one "
        "`Bash` action each) through `python -m railguard.cli check --json --pack PACK` to /dev/null. Decisions "
        "per second of CPU time (user + system of the process), start-up taken out by difference (a stream "
        f"of the first line only); median of {opts.runs} runs, trees interleaved; 1-minute load average "
        f"{load:.1f} (shared 2-core machine). first sight = every command new to the process; seen before = "
        f"the same commands again in the same process. Target: {TARGET:,}/s for the default pack.",
        "",
        "| pack | tree | first sight /s | seen before /s | start-up + 1 decision, ms CPU |",
        "|---|---|---:|---:|---:|",
    ]
    for pack in packs:
        for label in labels:
            s = speed[(pack, label)]
            lines.append(
                f"| {pack} | {label} | {s['first']:,.0f} | {s['again']:,.0f} | {s['startup']:,.0f} |"
            )
    total = len(everyday) + len(shell_sets())
    lines += [
        "",
        f"Verdicts on the everyday commands plus the dangerous, benign, red-team and brief shell sets ({total} "
        "actions), per pack:",
        "",
        "| pack | " + " | ".join(f"{label} (allow / ask / block)" for label in labels)
        + (" | decisions that differ (verdict or rules) |" if opts.baseline else " |"),
        "|---|" + "---|" * len(labels) + ("---:|" if opts.baseline else ""),
    ]  # fmt: skip
    for pack in packs:
        cells = [
            " / ".join(str(verdicts[(pack, label)].get(v, 0)) for v in ("allow", "ask", "block"))
            for label in labels
        ]
        extra = f" | {differ[pack]} |" if opts.baseline else " |"
        lines.append(f"| {pack} | " + " | ".join(cells) + extra)
    lines += ["", f"Reproduce: `{COMMAND.format(ref=opts.baseline or 'REF')}`", ""]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
