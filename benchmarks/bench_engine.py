"""Decision latency of `Engine.check` against policies of 10..1000 rules, side by side in one run with
a bare OpenTelemetry span start/end and with the same rules in Rego evaluated by regopy (OPA's Rego
in C++, from PyPI).

    .venv/bin/python -m benchmarks.bench_engine            # full run, writes benchmarks/results/engine.md
    .venv/bin/python -m benchmarks.bench_engine --quick    # fewer iterations
    .venv/bin/python -m benchmarks.bench_engine --save-baseline before.json   # keep this run's numbers
    .venv/bin/python -m benchmarks.bench_engine --baseline before.json        # compare with them
    .venv/bin/python -m benchmarks.bench_engine --quick --no-write            # print, write nothing
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import railguard as rg
from railguard.engine import Engine

RESULTS = Path(__file__).parent / "results" / "engine.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_engine"
RULES_PER_TOOL = 5

# Each template: (CEL condition, equivalent Rego body lines). `{k}` varies per rule.
TEMPLATES: list[tuple[str, list[str]]] = [
    ("args.amount > {k}", ["input.args.amount > {k}"]),
    ('args.to.startsWith("acct-{k}")', ['startswith(input.args.to, "acct-{k}")']),
    ("args.country in blocked_countries && args.amount > {k}",
     ["blocked_countries[input.args.country]", "input.args.amount > {k}"]),
    ('!("admin" in ctx.roles) && ctx.env == "prod" && args.amount > {k}',
     ["not is_admin", 'input.context.env == "prod"', "input.args.amount > {k}"]),
    ('args.path.matches("^/etc/{k}")', ['regex.match("^/etc/{k}", input.args.path)']),
]  # fmt: skip
VERDICTS = ["block", "ask", "allow", "block", "ask"]


def make_policy(n_rules: int) -> tuple[str, str, int]:
    """The same rule set as Railguard YAML and as Rego. Returns (yaml, rego, number of tools)."""
    n_tools = max(2, n_rules // RULES_PER_TOOL)
    yaml_lines = [
        f"name: bench-{n_rules}",
        "rules:",
        "  - {list: blocked_countries, items: [KP, IR, SY]}",
    ]
    rego_lines = [
        "package rg",
        'blocked_countries := {"KP", "IR", "SY"}',
        'is_admin if { "admin" in input.context.roles }',
    ]
    for i in range(n_rules):
        tool = f"tool_{i % n_tools}"
        cel, rego = TEMPLATES[i % len(TEMPLATES)]
        k = 100 + (i * 37) % 900
        verdict = VERDICTS[i % len(VERDICTS)]
        yaml_lines += [
            f"  - rule: r{i}",
            f"    tools: [{tool}]",
            f"    when: {json.dumps(cel.format(k=k))}",
            f"    verdict: {verdict}",
            f'    message: "rule {i} matched"',
        ]
        body = "\n  ".join([f'input.tool == "{tool}"', *(line.format(k=k) for line in rego)])
        rego_lines.append(f'{verdict}_rules contains "r{i}" if {{\n  {body}\n}}')
    return "\n".join(yaml_lines) + "\n", "\n".join(rego_lines) + "\n", n_tools


def make_actions(n_tools: int, count: int = 40, seed: int = 7) -> list[rg.Action]:
    rnd = random.Random(seed)
    actions = []
    for i in range(count):
        ctx = rg.Context(
            tenant="acme",
            user=f"user{i % 5}",
            roles=("admin",) if i % 4 == 0 else ("support", "billing"),
            env="prod" if i % 3 else "staging",
            run=f"run-{i % 7}",
        )
        args = {
            "amount": rnd.choice([5, 150, 480, 999, 2500]),
            "to": rnd.choice(["acct-100", "acct-555", "iban-DE89"]),
            "country": rnd.choice(["FR", "KP", "US"]),
            "path": rnd.choice(["/etc/100/passwd", "/srv/app/main.py", "/etc/hosts"]),
        }
        actions.append(rg.Action(f"tool_{i % min(n_tools, 10)}", args, call_id=f"c{i}", context=ctx))
    return actions


def measure(fn: Callable[[], Any], iterations: int, cpu: list[float] | None = None) -> list[float]:
    """Per-call wall-clock latency in microseconds; with `cpu`, also the thread's CPU time per call
    ("Python time": what the call itself costs, without the waits of a machine shared with others)."""
    for _ in range(min(200, iterations)):
        fn()
    out = []
    clock, thread = time.perf_counter_ns, time.thread_time_ns
    for _ in range(iterations):
        c0, t0 = thread(), clock()
        fn()
        t1, c1 = clock(), thread()
        out.append((t1 - t0) / 1000)
        if cpu is not None:
            cpu.append((c1 - c0) / 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_engine(n_rules: int, rounds: int) -> dict[str, float]:
    yaml_text, _, n_tools = make_policy(n_rules)
    engine = Engine.from_yaml(yaml_text)
    actions = make_actions(n_tools)
    samples: list[float] = []
    cpu: list[float] = []
    for action in actions:
        samples.extend(measure(lambda a=action: engine.check(a), rounds, cpu))  # type: ignore[misc]
    verdicts = {engine.check(a).verdict.value for a in actions}
    return {
        "rules": n_rules,
        "tools": n_tools,
        "candidates": statistics.mean(len(engine.policy.plan(a.tool).rules) for a in actions),
        "p50": pct(samples, 0.5),
        "p99": pct(samples, 0.99),
        "mean": statistics.mean(samples),
        "cpu_p50": pct(cpu, 0.5),
        "cpu_p99": pct(cpu, 0.99),
        "verdicts": len(verdicts),
    }


def bench_rego(n_rules: int, rounds: int) -> dict[str, float] | None:
    try:
        from regopy import Input, Interpreter
    except ImportError:
        return None
    _, rego_text, n_tools = make_policy(n_rules)
    interp = Interpreter()
    interp.add_module("rg", rego_text)
    bundle = interp.build("[data.rg.block_rules, data.rg.ask_rules, data.rg.allow_rules]")
    actions = make_actions(n_tools)
    inputs = [{"tool": a.tool, "args": dict(a.args), "context": a.context.to_dict()} for a in actions]

    def query(doc: dict[str, Any]) -> Any:
        interp.set_input(Input(doc))
        return interp.query_bundle(bundle)

    samples: list[float] = []
    cpu: list[float] = []
    for doc in inputs:
        samples.extend(measure(lambda d=doc: query(d), rounds, cpu))  # type: ignore[misc]
    return {"rules": n_rules, "p50": pct(samples, 0.5), "p99": pct(samples, 0.99), "cpu_p50": pct(cpu, 0.5),
            "cpu_p99": pct(cpu, 0.99)}  # fmt: skip


def check_equivalence(n_rules: int) -> tuple[int, int]:
    """The Rego translation fires the same rules as the YAML policy (so the comparison is fair)."""
    from regopy import Input, Interpreter

    yaml_text, rego_text, n_tools = make_policy(n_rules)
    engine = Engine.from_yaml(yaml_text)
    interp = Interpreter()
    interp.add_module("rg", rego_text)
    bundle = interp.build("[data.rg.block_rules, data.rg.ask_rules, data.rg.allow_rules]")
    same = 0
    actions = make_actions(n_tools)
    for a in actions:
        interp.set_input(Input({"tool": a.tool, "args": dict(a.args), "context": a.context.to_dict()}))
        result = json.loads(str(interp.query_bundle(bundle)))["expressions"][0]
        rego_fired = sorted(r for group in result for r in group)
        if rego_fired == sorted(engine.check(a).rules):
            same += 1
    return same, len(actions)


def bench_otel_span(iterations: int) -> dict[str, float]:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("bench")

    def span() -> None:
        tracer.start_span("execute_tool send_money").end()

    cpu: list[float] = []
    samples = measure(span, iterations, cpu)
    return {
        "p50": pct(samples, 0.5),
        "p99": pct(samples, 0.99),
        "cpu_p50": pct(cpu, 0.5),
        "cpu_p99": pct(cpu, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--save-baseline", type=Path, help="write this run's engine numbers as JSON")
    parser.add_argument("--baseline", type=Path, help="a saved run to compare with (before/after table)")
    parser.add_argument(
        "--no-write", action="store_true", help=f"print the table instead of writing {RESULTS.name}"
    )
    opts = parser.parse_args()
    rounds = 50 if opts.quick else 500
    sizes = [10, 50, 200, 1000]
    span = bench_otel_span(rounds * 40)
    engine_rows = [bench_engine(n, rounds) for n in sizes]
    rego_rows = [bench_rego(n, max(5, rounds // 20)) for n in (10, 50, 200)]
    same, total = check_equivalence(50)

    lines = [
        "## Engine decision latency",
        "",
        f"`{COMMAND}` — Python {platform.python_version()}, {platform.machine()}, "
        f"{rounds} rounds over 40 realistic actions per size (2-core machine shared with other work: "
        "read the ratios, not the absolute numbers).",
        "",
        "Policies of N rules spread over N/5 tools (numeric thresholds, string prefixes, list membership, "
        "role checks, regexes), the same rules as Rego for regopy "
        f"(equivalence check: {same}/{total} actions fire exactly the same rules in both).",
        "",
        "Wall = elapsed time per check; CPU = the checking thread's CPU time per check (Python time, without "
        "waits for other processes on this shared machine).",
        "",
        "| rules | candidate rules per check | wall p50 µs | wall p99 µs | CPU p50 µs | CPU p99 µs | "
        "CPU p50 / bare OTel span |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in engine_rows:
        lines.append(
            f"| {row['rules']} | {row['candidates']:.1f} | {row['p50']:.1f} | {row['p99']:.1f} | "
            f"{row['cpu_p50']:.1f} | {row['cpu_p99']:.1f} | {row['cpu_p50'] / span['cpu_p50']:.1f}x |"
        )
    lines += [
        "",
        f"Bare OpenTelemetry SDK span start+end in the same run: wall p50 {span['p50']:.1f} µs / p99 "
        f"{span['p99']:.1f} µs; CPU p50 {span['cpu_p50']:.1f} µs / p99 {span['cpu_p99']:.1f} µs.",
        "",
        "| rules | regopy CPU p50 µs | regopy CPU p99 µs | Railguard speed-up at CPU p50 | at CPU p99 |",
        "|---:|---:|---:|---:|---:|",
    ]
    for rego, eng in zip(rego_rows, engine_rows, strict=False):
        if rego is None:
            lines.append("| - | regopy not installed | | | |")
            continue
        lines.append(
            f"| {rego['rules']} | {rego['cpu_p50']:.1f} | {rego['cpu_p99']:.1f} | "
            f"{rego['cpu_p50'] / eng['cpu_p50']:.1f}x | {rego['cpu_p99'] / eng['cpu_p99']:.1f}x |"
        )
    p99_50 = engine_rows[1]["cpu_p99"]
    flat = engine_rows[-1]["cpu_p50"] / engine_rows[0]["cpu_p50"]
    lines += [
        "",
        f"Target: p99 of Python time < 100 µs at 50 rules: **{'met' if p99_50 < 100 else 'missed'}** "
        f"({p99_50:.1f} µs CPU). Scaling 10 -> 1000 rules changes CPU p50 by {flat:.2f}x (rules are indexed "
        "by tool, so a check evaluates only the ~5 that can apply). One rule in five uses `matches()`, which "
        "costs ~9 µs per evaluation in the CEL runtime (it compiles the regex each time): prefer `startsWith`, "
        "`contains`, `glob()` or lists where they do.",
        "",
    ]
    if opts.save_baseline is not None:
        opts.save_baseline.write_text(json.dumps(engine_rows, indent=1))
    if opts.baseline is not None:
        lines += before_after(json.loads(opts.baseline.read_text()), engine_rows, opts.baseline.name)
    if opts.no_write:
        print("\n".join(lines))
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))


def before_after(before: list[dict[str, float]], after: list[dict[str, float]], label: str) -> list[str]:
    """A table comparing this run with a saved one (e.g. before and after a change to the engine)."""
    lines = [
        f"Before/after: the run saved as `{label}` (before: `{COMMAND} --save-baseline {label}` on the "
        "code before the change) against this run (after), CPU time per check, one after the other on "
        "the same machine.",
        "",
        "| rules | before CPU p50 µs | after CPU p50 µs | before CPU p99 µs | after CPU p99 µs | "
        "after/before p50 | after/before p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    old = {int(row["rules"]): row for row in before}
    for row in after:
        was = old.get(int(row["rules"]))
        if was is None:
            continue
        lines.append(
            f"| {row['rules']} | {was['cpu_p50']:.1f} | {row['cpu_p50']:.1f} | {was['cpu_p99']:.1f} | "
            f"{row['cpu_p99']:.1f} | {row['cpu_p50'] / was['cpu_p50']:.2f}x | "
            f"{row['cpu_p99'] / was['cpu_p99']:.2f}x |"
        )
    return [*lines, ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
