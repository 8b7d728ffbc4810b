"""The Claude Code hook as Claude Code meets it: wall time per call, process start included, of
Railguard's installed command (the thin client and its warm daemon) against peer hooks, in one
interleaved run — on the machine as quiet as it gets, then with two CPU-bound processes running.

Peers, each installed in its own environment under a cache folder (`--peers-dir`):
cc-safety-net 2.4.5 (npm), claude-safety-guard 0.2.0 and azet-guard 0.2.0 (PyPI). A peer that cannot
be installed here is reported as such.

    .venv/bin/python -m benchmarks.bench_hook [--calls 60] [--peers-dir /tmp/railguard-bench-peers]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from railguard.integrations._claude_code_install import hook_commands
from railguard.integrations._hook_client import RUNTIME_DIR_ENV

RESULTS = Path(__file__).parent / "results" / "hook.md"
COMMANDS = [
    "git status",
    "ls -la src",
    "npm test",
    "rm -rf /",
    "cat README.md | head -20",
    "git push --force",
]
PEERS = {
    "cc-safety-net 2.4.5 (npm)": ("npm", "cc-safety-net@2.4.5", ["hook", "--claude-code"]),
    "claude-safety-guard 0.2.0 (PyPI)": ("pip", "claude-safety-guard==0.2.0", ["hook"]),
    "azet-guard 0.2.0 (PyPI)": ("pip", "azet-guard==0.2.0", ["hook"]),
}
RAILGUARD = "railguard (installed command, warm daemon)"


def install_peers(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """name -> shell command, and name -> why it could not be installed."""
    commands: dict[str, str] = {}
    missing: dict[str, str] = {}
    for name, (kind, spec, args) in PEERS.items():
        package = spec.split("@")[0].split("==")[0]
        try:
            if kind == "npm":
                prefix = folder / "npm"
                binary = prefix / "node_modules" / ".bin" / package
                if not binary.exists():
                    subprocess.run(
                        ["npm", "install", "--prefix", str(prefix), spec], check=True, capture_output=True
                    )
            else:
                venv = folder / f"venv-{package}"
                binary = venv / "bin" / package
                if not binary.exists():
                    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
                    subprocess.run(
                        [venv / "bin" / "pip", "install", "-q", spec], check=True, capture_output=True
                    )
            commands[name] = shlex.join([str(binary), *args])
        except (OSError, subprocess.CalledProcessError) as err:
            missing[name] = f"{type(err).__name__}: {str(getattr(err, 'stderr', b'') or err)[-200:]}"
    return commands, missing


def hook_input(command: str) -> bytes:
    return json.dumps({
        "session_id": "bench", "cwd": "/tmp", "hook_event_name": "PreToolUse", "tool_name": "Bash",
        "tool_input": {"command": command}, "tool_use_id": "toolu_bench", "permission_mode": "default",
    }).encode()  # fmt: skip


def call(command: str, data: bytes, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", command], input=data, capture_output=True, env=env, check=False)
    return time.perf_counter() - start


def _spin() -> None:
    while True:
        pass


@contextmanager
def hogs(count: int) -> Iterator[None]:
    procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
            p.join()


def measure(hooks: dict[str, str], calls: int, env: dict[str, str]) -> tuple[dict[str, list[float]], float]:
    """Interleaved: each round runs every hook once on the same input, in a shuffled order."""
    times: dict[str, list[float]] = {name: [] for name in hooks}
    rng = random.Random(7)
    loads = []
    for i in range(calls):
        data = hook_input(COMMANDS[i % len(COMMANDS)])
        order = list(hooks)
        rng.shuffle(order)
        for name in order:
            times[name].append(call(hooks[name], data, env))
        loads.append(os.getloadavg()[0])
    return times, statistics.mean(loads)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def table(title: str, times: dict[str, list[float]], load: float) -> list[str]:
    peers = [n for n in times if n != RAILGUARD]
    best_med = min((statistics.median(times[n]) for n in peers), default=None)
    best_p95 = min((p95(times[n]) for n in peers), default=None)
    lines = [
        f"**{title}** (mean 1-min load average during the run: {load:.1f})",
        "",
        "| hook | calls | median ms | p95 ms | median vs fastest peer | p95 vs fastest peer |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in sorted(times.items(), key=lambda kv: statistics.median(kv[1])):
        med, tail = statistics.median(values), p95(values)
        ratio_med = f"{med / best_med:.2f}x" if best_med else "-"
        ratio_p95 = f"{tail / best_p95:.2f}x" if best_p95 else "-"
        lines.append(
            f"| {name} | {len(values)} | {med * 1e3:.1f} | {tail * 1e3:.1f} | {ratio_med} | {ratio_p95} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--peers-dir", default=os.path.join(tempfile.gettempdir(), "railguard-bench-peers"))
    opts = parser.parse_args()
    peers_dir = Path(opts.peers_dir)
    peers_dir.mkdir(parents=True, exist_ok=True)
    peer_commands, missing = install_peers(peers_dir)
    runtime = Path(tempfile.mkdtemp(prefix="railguard-bench-hook-"))
    env = {**os.environ, RUNTIME_DIR_ENV: str(runtime / "run")}
    hooks = {RAILGUARD: hook_commands()["PreToolUse"], **peer_commands}
    cold = call(hooks[RAILGUARD], hook_input("git status"), env)  # starts the daemon
    for name in hooks:  # warm every hook's files into the page cache
        call(hooks[name], hook_input("ls"), env)
    quiet, quiet_load = measure(hooks, opts.calls, env)
    with hogs(2):
        busy, busy_load = measure(hooks, opts.calls, env)
    for lock in (runtime / "run").glob("*.lock"):
        pid = lock.read_text().strip()
        if pid.isdigit():
            os.kill(int(pid), 15)
    lines = [
        "## Claude Code hook: wall time per call, process start included",
        "",
        "Each hook run the way Claude Code runs it (`/bin/sh -c COMMAND`, the PreToolUse JSON on stdin),",
        f"interleaved in one run, shuffled per round, over {len(COMMANDS)} everyday and destructive Bash",
        "commands. Railguard's hook is the command `railguard install claude-code` writes (default pack):",
        "a `python -S` thin client handing the call to its warm daemon. The daemon's first call, which",
        f"starts it, took {cold * 1e3:.0f} ms (not in the tables). The machine is shared: compare the",
        "ratios within a table, not the absolute numbers across runs.",
        "",
        *table("Quiet as possible", quiet, quiet_load),
        *table("Busy: two CPU-bound processes running", busy, busy_load),
    ]
    for name, why in missing.items():
        lines.append(f"- {name}: could not be installed here ({why})")
    lines += ["", "Reproduce: `.venv/bin/python -m benchmarks.bench_hook --calls 60`", ""]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
