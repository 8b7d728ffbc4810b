"""`railguard check --json` as a stream: decisions per second of CPU, per built-in pack, on the
everyday documented shell commands (`benchmarks/data/shell_everyday.tsv`, one `Bash` action each).

Each measurement is a fresh process running the command line's own entry (`railguard.cli.main(["check",
"--json", "--pack", PACK, "--input", FILE])`, output to /dev/null) several times and reading its own
CPU time (`time.process_time`) around each: a stream of the first line only (engine load and one
decision), a few warm-up lines outside the corpus that load every detector a pack may read (the SQL
parser, the injection model ...: once per process), then the whole corpus (every command new to the
process: "first sight"), then the corpus again ("seen before": what a session that repeats its
commands costs). Decisions per second = (N - 1) / (CPU of the stream - CPU of the one-line stream),
so start-up is left out; "first sight incl. loading" adds the warm-up's loading back, as a short
stream that meets each detector for the first time pays it. The median over fresh processes is
reported.

With `--baseline REF`, the same streams run through the tree at git REF too, and every decision's
verdict and fired rules are compared line by line: the report counts the differences (target 0).

    .venv/bin/python -m benchmarks.bench_check_stream --baseline main   # writes benchmarks/results/check_stream.md
"""

from __future__ import annotations

import argparse
import json
import os
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


def _env(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    return env


def decide(src: Path, pack: str, stream: Path) -> list[str]:
    """The JSON decisions of `railguard check --json --pack PACK` over `stream`, one per line."""
    done = subprocess.run(
        [sys.executable, "-m", "railguard.cli", "check", "--json", "--pack", pack, "--input", str(stream)],
        capture_output=True,
        env=_env(src),
    )
    if done.returncode != 0:
        raise RuntimeError(f"check --pack {pack} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return done.stdout.decode().splitlines()


# Runs in the measured process: the CLI's own entry, timed by the process's own CPU clock.
_PROBE = """
import json, os, sys, time
from railguard.cli import main
pack, one, warm, corpus = sys.argv[1:5]
sys.stdout = open(os.devnull, "w")
def cpu(path):
    started = time.process_time()
    try:
        main(["check", "--json", "--pack", pack, "--input", path])
    except SystemExit as done:
        assert not done.code, done.code
    return time.process_time() - started
cpu(one)  # imports loaded once, as for any stream
base = cpu(one)
loading = cpu(warm)  # the detectors the corpus will need (SQL parser, injection model ...), once
first, again = cpu(corpus), cpu(corpus)
sys.__stdout__.write(json.dumps([base, first, again, loading]))
"""

# Lines outside the corpus that load every detector a pack may read: a stream pays this once.
WARM_UP = [
    {"tool": "Bash", "args": {"command": "psql -c 'DELETE FROM warm_up_rows WHERE id = 1'"}},
    {"tool": "Bash", "args": {"command": "curl -s https://warm-up.example.org/status",
                              "description": "Please summarize the attached quarterly report for me."}},
    {"tool": "Write", "args": {"file_path": "notes/warm-up.txt",
                               "content": "contact: someone@example.com token=abc, card 4111 1111 1111 1111"}},
    {"tool": "run_sql", "args": {"sql": "DELETE FROM warm_up_rows WHERE id = 1"}},
    {"tool": "send_money", "args": {"to": "DE89370400440532013000", "amount": 1, "currency": "EUR"}},
]  # fmt: skip


def stream_files(folder: Path, commands: list[str]) -> tuple[Path, Path, Path]:
    """The streams a measurement reads: the first line only, the warm-up lines, the whole corpus."""
    one = write_stream(folder / "one.jsonl", commands[:1])
    warm = folder / "warm.jsonl"
    warm.write_text("".join(json.dumps(line) + "\n" for line in WARM_UP))
    return one, warm, write_stream(folder / "corpus.jsonl", commands)


def check_in_process(pack: str, stream: Path) -> None:
    """`railguard check --json --pack PACK --input STREAM` through the command line's own entry, in
    this process, its output to /dev/null."""
    from railguard.cli import main as cli

    out, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    try:
        cli(["check", "--json", "--pack", pack, "--input", str(stream)])
    except SystemExit as done:
        assert not done.code, done.code
    finally:
        sys.stdout.close()
        sys.stdout = out


def measure(src: Path, pack: str, one: Path, warm: Path, corpus: Path) -> tuple[float, float, float, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, pack, str(one), str(warm), str(corpus)],
        capture_output=True,
        env=_env(src),
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring --pack {pack} failed: {done.stderr.decode()[-500:]}")
    base, first, again, loading = json.loads(done.stdout)
    return base, first, again, loading


def outcome(line: str) -> tuple[str, tuple[str, ...]]:
    decision = json.loads(line)
    return decision["verdict"], tuple(decision["rules"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="git ref whose verdicts (and speed) to compare with")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--packs", nargs="*", help="default: every built-in pack")
    parser.add_argument(
        "--no-write", action="store_true", help=f"print the report only, not to {RESULTS.name}"
    )
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
        warm = folder / "warm.jsonl"
        warm.write_text("".join(json.dumps(line) + "\n" for line in WARM_UP))
        once = write_stream(folder / "once.jsonl", everyday)
        compare = write_stream(folder / "compare.jsonl", everyday + shell_sets())
        speed: dict[tuple[str, str], dict[str, float]] = {}
        verdicts: dict[tuple[str, str], dict[str, int]] = {}
        differ: dict[str, int] = {}
        n = len(everyday)
        for pack in packs:
            outputs = {label: decide(src, pack, compare) for label, src in trees.items()}
            for label, lines in outputs.items():
                counts: dict[str, int] = {}
                for line in lines:
                    counts[outcome(line)[0]] = counts.get(outcome(line)[0], 0) + 1
                verdicts[(pack, label)] = counts
            if opts.baseline:
                pairs = zip(outputs["before"], outputs["after"], strict=True)
                differ[pack] = sum(outcome(a) != outcome(b) for a, b in pairs)
            samples: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label in trees}
            for _ in range(opts.runs):  # interleaved: every tree sees the same machine load
                for label, src in trees.items():
                    samples[label].append(measure(src, pack, one, warm, once))
            for label in trees:
                rows = samples[label]
                speed[(pack, label)] = {
                    "first": statistics.median((n - 1) / max(f - b, 1e-6) for b, f, _a, _w in rows),
                    "cold": statistics.median((n - 1) / max(f + w - 2 * b, 1e-6) for b, f, _a, w in rows),
                    "again": statistics.median((n - 1) / max(a - b, 1e-6) for b, _f, a, _w in rows),
                    "startup": statistics.median(b for b, _f, _a, _w in rows) * 1000,
                    "loading": statistics.median(w - b for b, _f, _a, w in rows) * 1000,
                }
    load = (load_before + os.getloadavg()[0]) / 2
    labels = list(trees)
    lines = [
        "## `railguard check` as a stream: decisions per second, per pack",
        "",
        f"Everyday documented shell commands ({len(everyday)} lines of `benchmarks/data/shell_everyday.tsv`, one "
        "`Bash` action each) through the command line's entry (`check --json --pack PACK --input FILE`, output "
        "to /dev/null). Decisions per second of the process's CPU time, engine load taken out by difference (a "
        f"stream of the first line only); median of {opts.runs} fresh processes, trees interleaved; 1-minute load average "
        f"{load:.1f} (shared 2-core machine). first sight = every command new to the process, its detectors "
        "loaded by a few warm-up lines first; incl. loading = the same with that loading counted; seen before "
        f"= the same commands again in the same process. Target: {TARGET:,}/s for the default pack.",
        "",
        "| pack | tree | first sight /s | first sight incl. loading /s | seen before /s "
        "| engine load + 1 decision, ms CPU | loading the detectors, ms CPU |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for pack in packs:
        for label in labels:
            s = speed[(pack, label)]
            lines.append(
                f"| {pack} | {label} | {s['first']:,.0f} | {s['cold']:,.0f} | {s['again']:,.0f} "
                f"| {s['startup']:,.0f} | {s['loading']:,.0f} |"
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
    lines += [
        "",
        "Where the time goes (default pack, a `Bash` action: the shell analysis, the URLs and hosts, and the "
        "injection score of every argument text, then about eight rules). Seen before: the policy step's "
        "outcome is remembered per action for the policy's text (`railguard.policy._memo`: the same tool, "
        "plain-JSON arguments in order, context, tool spec and mode give the same hits, for the built-in "
        "detectors), so a repeated command skips the detectors, the conversion of the facts into CEL values "
        "(about 20 µs a decision: the CEL binding converts each string at a few µs) and the rules. What "
        "remains, measured in one process on a less busy moment: the engine's own path (admission checks, "
        "deadline, the decision id's two digests, assembly) about 30-40 µs, reading and validating the JSON "
        "line about 15-20 µs, writing the decision about 10 µs. First sight is dominated by the shell "
        "analysis of a new command (about 250 µs of CPU on a quieter moment, spread over the tree-sitter "
        "parse, the walker and dozens of rule functions), then the injection score of its text; loading the "
        "SQL parser (sqlglot) and the injection model once per process costs most of a second here (last "
        "column), which a short stream pays on its first SQL or long text. Both first-sight columns are far "
        "from the target: that needs a shell analysis several times cheaper, not the stream's glue.",
        "",
        f"Reproduce: `{COMMAND.format(ref=opts.baseline or 'REF')}`",
        "",
    ]
    if not opts.no_write:
        RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
