"""How long an MCP client waits for `initialize` through `railguard mcp-proxy` against the same MCP
server started directly: the real SDK client (`stdio_client` + `ClientSession`) spawns each, and the
time from spawning to the answer of `initialize` is measured (wall clock, process start included),
alternating direct and proxied runs so both see the same machine load. The server is the test
fixture (`tests/integrations/fixtures/mcp_server.py`, an MCPServer over stdio), and a standard-library
server that answers at once (`mcp_line_server.py`: what is left is the proxy's own start-up). Target:
the proxy answers within 300 ms of the server's own answer. With `--baseline REF` the proxy of the tree at git
REF runs the same cases in the same rotation.

Wall time on a shared machine is mostly the other processes' time, so each run also reads the CPU
time (user + system, all live threads, from /proc/PID/task/*/schedstat) that the spawned process
itself (the proxy, or the server run directly; never the proxy's own upstream child) had used when
the answer arrived: the proxy's own start-up cost, whatever the load.

    .venv/bin/python -m benchmarks.bench_mcp_startup --baseline main   # writes benchmarks/results/mcp_startup.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from benchmarks.bench_startup import tree_at

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "integrations" / "fixtures"
RESULTS = ROOT / "benchmarks" / "results" / "mcp_startup.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_mcp_startup --baseline {ref}"
TARGET_MS = 300


# The test fixture (an MCPServer: the SDK's own start-up) and a standard-library server that answers
# as soon as it starts, which leaves the proxy's own start-up path in view.
SERVERS = {"SDK server": "mcp_server.py", "instant server": "mcp_line_server.py"}


def server_args(server: str = "SDK server") -> list[str]:
    return [str(FIXTURES / SERVERS[server])]


def proxy_args(pack: str | None, server: str = "SDK server") -> list[str]:
    policy = ["--pack", pack] if pack else ["--policy", str(FIXTURES / "mcp_policy.yaml")]
    return ["-m", "railguard.cli", "mcp-proxy", *policy, "--", sys.executable, *server_args(server)]


def children_cpu_ms() -> float:
    """CPU time used so far by this process's live child processes (not their children)."""
    total_ns = 0
    me = str(os.getpid())
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            if ppid != me:
                continue
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    total_ns += int(f.read().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total_ns / 1e6


async def time_initialize(args: list[str], src: Path) -> tuple[float, float]:
    """Wall ms from spawning to the answer of `initialize`, and the spawned process's CPU ms by then."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    started = time.perf_counter()
    with anyio.fail_after(120):
        async with stdio_client(params) as streams, ClientSession(*streams) as session:
            await session.initialize()
            answered = time.perf_counter()
            cpu = children_cpu_ms()
            await session.list_tools()  # the proxy is usable, not only answering
    return (answered - started) * 1000, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="git ref whose proxy runs the same cases, for before/after")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"": ROOT / "src"}
        if opts.baseline:
            trees = {f" before ({opts.baseline})": tree_at(opts.baseline, Path(tmp)), "": ROOT / "src"}
        cases: dict[str, tuple[list[str], Path]] = {}
        direct_of: dict[str, str] = {}  # proxied case -> the case of its server run directly
        for server in SERVERS:
            direct = f"{server} directly"
            cases[direct] = (server_args(server), ROOT / "src")
            for label, src in trees.items():
                for policy, pack in (("fixture policy", None), ("--pack default", "default")):
                    case = f"{server} through mcp-proxy{label} ({policy})"
                    cases[case] = (proxy_args(pack, server), src)
                    direct_of[case] = direct
        samples: dict[str, list[float]] = {case: [] for case in cases}
        cpu: dict[str, list[float]] = {case: [] for case in cases}
        load_before = os.getloadavg()[0]
        for args, src in cases.values():  # warm-up: bytecode caches, page cache, parsed-data cache
            anyio.run(time_initialize, args, src)
        for _ in range(opts.runs):
            for case, (args, src) in cases.items():
                wall, used = anyio.run(time_initialize, args, src)
                samples[case].append(wall)
                cpu[case].append(used)
    load = (load_before + os.getloadavg()[0]) / 2
    lines = [
        "## MCP proxy: time to `initialize`",
        "",
        "Wall time from spawning to the answer of `initialize`, the real MCP SDK client over stdio, median of "
        f"{opts.runs} runs, cases alternated; 1-minute load average {load:.1f} (shared 2-core machine). "
        f"Target: the proxy within {TARGET_MS} ms of the server's own answer. CPU: what the spawned "
        "process (the proxy, or the server run directly) had used when the answer arrived, median.",
        "",
        "| case | median ms | max ms | minus the server's own | CPU ms by the answer |",
        "|---|---:|---:|---:|---:|",
    ]
    for case in cases:
        med = statistics.median(samples[case])
        extra = f"{med - statistics.median(samples[direct_of[case]]):+.0f} ms" if case in direct_of else ""
        used = statistics.median(cpu[case])
        lines.append(f"| {case} | {med:.0f} | {max(samples[case]):.0f} | {extra} | {used:.0f} |")
    lines += [
        "",
        "How: the command line's entry starts the upstream server (`mcp-proxy ... -- COMMAND`) before it "
        "imports Typer, the engine or the MCP SDK, and a thread relays the first exchange (the client's "
        "`initialize`, the server's answer) while the proxy imports (`railguard.integrations._mcp_early`); "
        "the proxy then adopts the running server and goes on from what the relay did. The answer waits "
        "for the server, not for the proxy's start-up; the detectors load only after it. With the SDK "
        "server, what remains over its own time is the proxy's start-up competing with the server for "
        "the same two cores (its CPU column counts the imports that ran meanwhile); the instant server "
        "shows the proxy's own path to the answer.",
        "",
        f"Reproduce: `{COMMAND.format(ref=opts.baseline or 'REF')}`",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
