"""Where the guard API's latency tail comes from: bench_server's evaluate load (concurrency 32,
`serve --workers 2`, SQLite) with a tracer inside each worker (_tail_tracer.py), then per worker:
time from a request's bytes reaching the protocol to its answer leaving (in-worker queueing and
work), garbage collections in the window and their pauses, store-writer batches (wall vs CPU: a
batch waiting on the GIL or the SQLite lock), the event loop's GIL waits and the main thread's
run-queue wait (descheduled: other work on the machine).

    PYTHONPATH=$PWD/src:. .venv/bin/python -m benchmarks.bench_server_tail --seconds 3 --runs 2
    PYTHONPATH=/tmp/base/src:. .venv/bin/python -m benchmarks.bench_server_tail   # a base tree's server
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._procs import children_cpu_s
from benchmarks.bench_server import _load, running_server

_SITECUSTOMIZE = """
import os
if "railguard.server._worker" in open("/proc/self/cmdline", "rb").read().decode(errors="replace"):
    import benchmarks._tail_tracer
    benchmarks._tail_tracer.install(os.environ["RAILGUARD_TAIL_TRACE_DIR"])
"""
_WARM_UP_REQUESTS = 300  # per worker: the first ones include building the engine


def _quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    at = [ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in (0.5, 0.9, 0.99)]
    return f"p50 {at[0]:.2f} p90 {at[1]:.2f} p99 {at[2]:.2f} max {ordered[-1]:.2f}"


def summarize(trace: dict[str, Any]) -> list[str]:
    requests = trace["requests"][_WARM_UP_REQUESTS:]
    if not requests:
        return ["no requests traced"]
    start, end = requests[0][0], requests[-1][2]
    collections = [c for c in trace["collections"] if start <= c[0] <= end]
    writes = [w for w in trace["writes"] if start <= w[0] <= end]
    probes = [p for p in trace["probes"] if start <= p[0] <= end]
    gil_waits = [1e3 * max(0.0, wall - cpu - queued) for _, wall, cpu, queued in probes]
    written = sum(w[3] for w in writes)
    return [
        f"requests {len(requests)}; in-worker ms {_quantiles([1e3 * (r[2] - r[0]) for r in requests])}",
        f"collections {len(collections)}: (generation, pause ms) "
        + str([(c[2], round(1e3 * (c[1] - c[0]), 1)) for c in collections]),
        f"writer batches {len(writes)}, {written} decisions, CPU µs/decision "
        f"{1e6 * sum(w[2] for w in writes) / max(1, written):.1f}, wall ms per batch "
        f"{_quantiles([1e3 * (w[1] - w[0]) for w in writes])}",
        f"GIL waits of the event loop ({len(probes)} probes) ms {_quantiles(gil_waits)}, "
        f"sum {sum(gil_waits):.0f}",
        f"main thread since start: ran {trace['main_run_s']:.2f} s, waited for a CPU "
        f"{trace['main_run_queue_s']:.2f} s",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rg-bench-tail-"))
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    os.environ["RAILGUARD_TAIL_TRACE_DIR"] = str(folder)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", ""), os.getcwd()])
    with running_server(f"sqlite:///{folder}/bench.db", 2) as server:
        for _ in range(args.runs):
            result = _load(server, concurrency=args.concurrency, seconds=args.seconds, batch=False, ids=False)
            print({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}, flush=True)
        for pid in children_cpu_s(server.process.pid):
            os.kill(pid, signal.SIGUSR1)
        time.sleep(2)
    for path in sorted(folder.glob("worker-*.json")):
        print(path.stem)
        for line in summarize(json.loads(path.read_text())):
            print("  " + line)
    print(f"load average {os.getloadavg()[0]:.1f} (other work on the machine: the run-queue waits)")


if __name__ == "__main__":
    main()
