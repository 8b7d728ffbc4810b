"""What approvals, kill switches and entitlements add to `Engine.check` (median and p99, microseconds).

    .venv/bin/python -m benchmarks.bench_state_approvals            # SQLite file store
    .venv/bin/python -m benchmarks.bench_state_approvals --db postgresql://postgres@127.0.0.1:5432/test

The kill switch step reads an in-memory snapshot (no store access per check); the approval step reads
the store only when the verdict so far is `ask`. Writes benchmarks/results/state_approvals.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from railguard.engine import Engine
from railguard.model import Action, Context
from railguard.state import Approvals, KillSwitch, install_approvals, install_killswitch
from railguard.store import open_store

RESULTS = Path(__file__).parent / "results" / "state_approvals.md"
POLICY = """
name: bench
entitlements:
  roles:
    support: [crm_read, {tools: [refund], when: 'args.amount <= 100'}]
    admin: ['*']
rules:
  - rule: big-wire
    tools: [wire]
    when: args.amount > 100
    verdict: ask
"""
CTX = Context(tenant="acme", agent="bot", user="ana", roles=("admin",), session="s1")


def _timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(min(200, n)):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=None, help="store URL (default: a temporary SQLite file)")
    parser.add_argument("-n", type=int, default=5000)
    opts = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = opts.db or f"sqlite:///{tmp}/bench.db"
    store = open_store(url)
    n = opts.n
    read = Action("search", {"q": "x"}, context=CTX)
    crm = Action("crm_read", {"id": 1}, context=CTX.merged(roles=("support",)))
    wire = Action("wire", {"amount": 500, "to": "x"}, context=CTX)
    rows: list[tuple[str, tuple[float, float]]] = []

    plain = Engine(text=POLICY.split("entitlements:")[0] + "rules: []\n")
    rows.append(("engine, no rules for the tool (baseline)", _timed(lambda: plain.check(read), n)))
    engine = Engine(text=POLICY)
    rows.append(("+ entitlements rule (role grant matches)", _timed(lambda: engine.check(crm), n)))
    step = install_killswitch(engine, store, refresh_s=0.5)
    rows.append(("+ kill switch step, none engaged", _timed(lambda: engine.check(crm), n)))
    KillSwitch(store).engage(tenant="other", by="bench")
    step.refresh()
    rows.append(("+ kill switch step, 1 engaged elsewhere", _timed(lambda: engine.check(crm), n)))
    approvals = install_approvals(engine, store)
    rows.append(("+ approval step, verdict allow (no store read)", _timed(lambda: engine.check(crm), n)))
    rows.append(("ask, no approval yet (1 store read)", _timed(lambda: engine.check(wire), n // 5)))
    try:
        approvals.request(wire, engine.check(wire))
    except Exception:
        pass
    Approvals(store).approve(approvals.list_requests(status="pending")[0].id, by="bench")
    assert engine.check(wire).approval_id
    rows.append(("ask covered by an approval (1 store read)", _timed(lambda: engine.check(wire), n // 5)))
    step.close()

    command = "python -m benchmarks.bench_state_approvals" + (" --db <postgresql url>" if opts.db else "")
    lines = [
        "## State: approvals, kill switch, entitlements",
        "",
        f"Command: `.venv/bin/{command}` (store: {store.dialect}, n={n}; asks n={n // 5}; Python "
        f"{sys.version.split()[0]}). Per `Engine.check`, microseconds.",
        "",
        "| configuration | median µs | p99 µs |",
        "|---|---:|---:|",
        *[f"| {name} | {med:.1f} | {p99:.1f} |" for name, (med, p99) in rows],
        "",
    ]
    text = "\n".join(lines)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    store.close()


if __name__ == "__main__":
    main()
