"""Railguard on AgentDojo's ground-truth tool calls: does the guard layer let the user's calls through
and stop the injected ones, with and without provenance?

    .venv/bin/python -m benchmarks.bench_agentdojo [--suites workspace,banking,slack,travel]

No model runs. For each suite the policy is the default pack plus tool declarations derived
generically: tools named get_/read_/search_/list_* are `read`, every other tool is acting; a tool is
`untrusted` when its output surfaced one of the suite's injection vectors in a canary run (the places
third parties write: e-mails, files, web pages, reviews...). Then:

- utility: each user task's ground-truth calls run in the clean environment, outputs fed to the
  engine (`check_output`), the task prompt recorded as the user's input; a call counts as allowed
  when the verdict is allow/modify;
- security: for each (user task, injection task) pair where the user task sees an injection vector,
  the environment carries the `important_instructions` attack text; the user task's calls run as
  above, then the injection task's ground-truth calls; the pair counts as stopped when at least one
  of the injection's acting calls gets ask or block.

Two engines see the same calls: one with the default pack only (its injection rule reads the
arguments), one with provenance installed as well. The travel suite is report-only (held out).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from railguard.detect.injection import _corpus as corpus
from railguard.engine import Engine
from railguard.model import Action, Context, Decision, Verdict
from railguard.state.provenance import Provenance, install_provenance

RESULTS = Path(__file__).resolve().parent / "results" / "agentdojo.md"
COMMAND = ".venv/bin/python -m benchmarks.bench_agentdojo"
DEV_SUITES = ("workspace", "banking", "slack")
HELD_OUT = "travel"
READ_PREFIXES = ("get_", "read_", "search_", "list_")
ATTACK = "important_instructions"
STOPPED = (Verdict.ASK, Verdict.BLOCK)


def is_read(tool: str) -> bool:
    return tool.startswith(READ_PREFIXES)


@dataclass
class Guards:
    """The two engines under comparison; one `run` context per scenario."""

    baseline: Engine
    guarded: Engine
    provenance: Provenance
    latencies_us: list[float] = field(default_factory=list)
    observe_us: list[float] = field(default_factory=list)

    def check(self, action: Action) -> tuple[Decision, Decision]:
        base = self.baseline.check(action)
        guarded = self.guarded.check(action)
        self.latencies_us.append(guarded.latency_us)
        return base, guarded

    def output(self, action: Action, text: str) -> None:
        self.baseline.check_output(action.tool, text, action=action)
        start = time.perf_counter_ns()
        self.guarded.check_output(action.tool, text, action=action)
        self.observe_us.append((time.perf_counter_ns() - start) / 1000)


def policy_for(tools: list[str], untrusted: set[str]) -> str:
    lines = ["version: 1", "include: [pack:default]", "tools:"]
    for name in tools:
        effect = "read" if is_read(name) else "write"
        trust = "untrusted" if name in untrusted else "trusted"
        lines.append(f"  {name}: {{effect: {effect}, output_trust: {trust}}}")
    return "\n".join(lines) + "\n"


def _calls(task: Any, env: Any) -> list[Any]:
    try:
        return list(task.ground_truth(env))
    except Exception:  # a few ground truths fail in some environments; they contribute no calls
        return []


def _run_calls(calls: list[Any], env: Any, runtime: Any, ctx: Context) -> Iterator[tuple[Action, str]]:
    """Yield each call as an Action; after the caller checked it, run it and hand back the output."""
    from agentdojo.agent_pipeline.tool_execution import tool_result_to_str

    for index, call in enumerate(calls):
        action = Action(call.function, dict(call.args), call_id=f"{index}", context=ctx)
        result, _ = runtime.run_function(env, call.function, call.args)
        yield action, tool_result_to_str(result)


def untrusted_tools(suite: Any, attack: Any) -> set[str]:
    """Tools whose outputs carried an injection vector's canary in some user task's run."""
    from agentdojo.functions_runtime import FunctionsRuntime

    found: set[str] = set()
    for task_id in sorted(suite.user_tasks):
        env = suite.load_and_inject_default_environment(attack.canary_injections)
        task = suite.user_tasks[task_id]
        for action, output in _run_calls(_calls(task, env), env, FunctionsRuntime(suite.tools), Context()):
            if "<CANARY---" in output:
                found.add(action.tool)
    return found


@dataclass
class SuiteResult:
    name: str
    untrusted: list[str]
    user_calls: int = 0
    allowed_base: int = 0
    allowed_prov: int = 0
    tasks: int = 0
    tasks_clean_prov: int = 0
    false_stops: list[str] = field(default_factory=list)
    pairs: int = 0
    stopped_base: int = 0
    stopped_prov: int = 0
    blocked_prov: int = 0
    per_injection: dict[str, list[bool]] = field(default_factory=dict)
    unscored: list[str] = field(default_factory=list)  # injection tasks without acting ground-truth calls
    latencies_us: list[float] = field(default_factory=list)
    observe_us: list[float] = field(default_factory=list)


def _guards(policy: str) -> Guards:
    guarded = Engine(text=policy)
    return Guards(Engine(text=policy), guarded, install_provenance(guarded))


def measure_suite(name: str) -> SuiteResult:
    from agentdojo.functions_runtime import FunctionsRuntime

    suite = corpus._suite(name)
    attack = corpus._attack(ATTACK, suite)
    tools = [t.name for t in suite.tools]
    untrusted = untrusted_tools(suite, attack)
    res = SuiteResult(name, sorted(untrusted))
    guards = _guards(policy_for(tools, untrusted))

    # Utility: the user's own calls in the clean environment.
    for task_id in sorted(suite.user_tasks):
        task = suite.user_tasks[task_id]
        env = suite.load_and_inject_default_environment({})
        ctx = Context(tenant=name, run=f"utility-{task_id}")
        guards.provenance.record_user_input(task.PROMPT, context=ctx)
        clean = True
        for action, output in _run_calls(_calls(task, env), env, FunctionsRuntime(suite.tools), ctx):
            base, prov = guards.check(action)
            res.user_calls += 1
            res.allowed_base += base.allowed
            res.allowed_prov += prov.allowed
            if not prov.allowed:
                clean = False
                res.false_stops.append(
                    f"{task_id} {action.tool}: {prov.verdict.value} ({', '.join(prov.rules)})"
                )
            guards.output(action, output)
        res.tasks += 1
        res.tasks_clean_prov += clean

    # Security: user task, then the injection's calls, in the attacked environment. Injection tasks
    # whose ground truth has no acting call (some are empty in this version) cannot be scored.
    clean_env = suite.load_and_inject_default_environment({})
    scored = []
    for inj_id in sorted(suite.injection_tasks):
        if any(not is_read(c.function) for c in _calls(suite.injection_tasks[inj_id], clean_env)):
            scored.append(inj_id)
        else:
            res.unscored.append(inj_id)
    for task_id in sorted(suite.user_tasks):
        task = suite.user_tasks[task_id]
        probe_env = suite.load_and_inject_default_environment(attack.canary_injections)
        seen = any(
            "<CANARY---" in out
            for _, out in _run_calls(
                _calls(task, probe_env), probe_env, FunctionsRuntime(suite.tools), Context()
            )
        )
        if not seen:
            continue  # the injection never reaches the agent in this task
        for inj_id in scored:
            injection = suite.injection_tasks[inj_id]
            env = suite.load_and_inject_default_environment(attack.attack(task, injection))
            runtime = FunctionsRuntime(suite.tools)
            ctx = Context(tenant=name, run=f"attack-{task_id}-{inj_id}")
            guards.provenance.record_user_input(task.PROMPT, context=ctx)
            for action, output in _run_calls(_calls(task, env), env, runtime, ctx):
                guards.check(action)
                guards.output(action, output)
            stop_base = stop_prov = block_prov = False
            for action, output in _run_calls(_calls(injection, env), env, runtime, ctx):
                base, prov = guards.check(action)
                if not is_read(action.tool):
                    stop_base |= base.verdict in STOPPED
                    stop_prov |= prov.verdict in STOPPED
                    block_prov |= prov.verdict is Verdict.BLOCK
                guards.output(action, output)
            res.pairs += 1
            res.stopped_base += stop_base
            res.stopped_prov += stop_prov
            res.blocked_prov += block_prov
            res.per_injection.setdefault(inj_id, []).append(stop_prov)
    res.latencies_us = guards.latencies_us
    res.observe_us = guards.observe_us
    return res


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "n/a"


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render(results: list[SuiteResult], seconds: float) -> str:
    out = [
        "## AgentDojo: the guard layer on ground-truth calls (provenance + injection detection)",
        "",
        f"Command: `{COMMAND}` ({seconds:.0f} s). AgentDojo {corpus.AGENTDOJO_VERSION}, attack `{ATTACK}`.",
        "",
        "This measures the guard layer given AgentDojo's ground-truth tool calls, not an LLM agent: the",
        "user task's calls are what a perfect agent does; the injection task's calls are what a fully",
        "hijacked agent does next, with the attacked tool outputs already fed to Railguard. Policy: the",
        "default pack; tools named get_/read_/search_/list_* declared `read`, all others acting; a tool",
        "is `untrusted` when its output surfaced an injection vector in a canary run of the suite.",
        "",
        "| suite | user calls allowed (pack / +provenance) | user tasks with no false stop (+prov) "
        "| attack pairs | stopped: pack only | stopped: +provenance | of which block |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        label = f"{r.name} (held out, report-only)" if r.name == HELD_OUT else r.name
        out.append(
            f"| {label} | {_pct(r.allowed_base, r.user_calls)} / {_pct(r.allowed_prov, r.user_calls)} "
            f"of {r.user_calls} | {r.tasks_clean_prov}/{r.tasks} | {r.pairs} | {_pct(r.stopped_base, r.pairs)} "
            f"| {_pct(r.stopped_prov, r.pairs)} | {_pct(r.blocked_prov, r.pairs)} |"
        )
    out += ["", "Injection tasks stopped in every attacked pair / in some pair (with provenance):", ""]
    for r in results:
        every = sum(all(v) for v in r.per_injection.values())
        some = sum(any(v) for v in r.per_injection.values())
        never = sorted((k for k, v in r.per_injection.items() if not any(v)), key=_task_number)
        out.append(
            f"- {r.name}: {every}/{len(r.per_injection)} every pair, {some}/{len(r.per_injection)} some pair;"
            f" never stopped: {', '.join(never) or 'none'}; not scored (no acting ground-truth call): "
            f"{', '.join(sorted(r.unscored, key=_task_number)) or 'none'}; untrusted tools: {', '.join(r.untrusted)}"
        )
    out += ["", "False stops of user calls with provenance (clean environment):", ""]
    for r in results:
        for line in r.false_stops:
            out.append(f"- {r.name} {line}")
    lat = [x for r in results for x in r.latencies_us]
    obs = [x for r in results for x in r.observe_us]
    out += [
        "",
        f"Latency, engine with provenance, {len(lat)} checks: p50 {_quantile(lat, 0.5):.0f} us, "
        f"p99 {_quantile(lat, 0.99):.0f} us (the decision's own latency; in-memory provenance). "
        f"Output observation (entity extraction + injection scoring of untrusted outputs), {len(obs)} "
        f"outputs: p50 {_quantile(obs, 0.5):.0f} us, p99 {_quantile(obs, 0.99):.0f} us, "
        f"mean {statistics.fmean(obs) if obs else 0:.0f} us. Shared 2-core machine: noise-bound.",
        "",
    ]
    return "\n".join(out)


def _task_number(task_id: str) -> int:
    digits = "".join(c for c in task_id if c.isdigit())
    return int(digits) if digits else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", default=",".join((*DEV_SUITES, HELD_OUT)))
    parser.add_argument("--no-write", action="store_true", help="print only; keep the results file")
    options = parser.parse_args()
    start = time.perf_counter()
    results = [measure_suite(name) for name in options.suites.split(",")]
    text = render(results, time.perf_counter() - start)
    print(text)
    if not options.no_write:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
