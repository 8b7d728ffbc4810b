"""CPU time per decision of the guard API's work, in process: what `POST /v1/guard/evaluate` does
for the server benchmark's actions (benchmarks/bench_server.py) without HTTP — parse the body, check
it with the tenant's engine (default pack, kill switch and approvals installed on a SQLite store),
answer its JSON line and build the redacted decision-log record. Prints; writes nothing.

    .venv/bin/python -m benchmarks.bench_guard_cpu             # best of 5 rounds of 4000 decisions
    .venv/bin/python -m benchmarks.bench_guard_cpu --profile   # and a cProfile of one round
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

from benchmarks.bench_server import ACTIONS
from railguard import Action, Engine
from railguard.policy import load_policy
from railguard.state.cushions import install_cushions
from railguard.store import open_store
from railguard.trace._decision_log import DecisionLog


def _stages(engine: Engine) -> dict[str, Callable[[int], None]]:
    bodies = [{**a, "context": {**a["context"], "tenant": "bench"}} for a in ACTIONS]
    actions = [Action.from_dict(b) for b in bodies]
    log = DecisionLog(lambda records: None)

    def check(n: int) -> None:
        for i in range(n):
            engine.check(actions[i & 1])

    def guard(n: int) -> None:  # the evaluate route's work after the JSON body is parsed
        for i in range(n):
            decision = engine.check(Action.from_dict(bodies[i & 1]))
            decision.to_json_line()
            log.record(decision)

    return {"Engine.check": check, "parse+check+answer+record": guard}


def cpu_us(fn: Callable[[int], None], n: int, rounds: int) -> float:
    """Best of `rounds` of the process's CPU time per call, in microseconds."""
    fn(200)
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time_ns()
        fn(n)
        best = min(best, (time.process_time_ns() - start) / n / 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=4000, help="decisions per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    opts = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="rg-guard-cpu-") as folder,
        open_store(f"sqlite:///{folder}/bench.db") as store,
    ):
        engine = Engine(load_policy(None, packs=["default"]))
        install_cushions(engine, store)
        for name, fn in _stages(engine).items():
            print(
                f"{name}: {cpu_us(fn, opts.n, opts.rounds):.1f} µs CPU per decision (best of {opts.rounds})"
            )
            if opts.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.runcall(fn, opts.n)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        engine.close()


if __name__ == "__main__":
    main()
