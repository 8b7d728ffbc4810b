"""A second, independent generator of agent history for the diagnosis benchmark (seeded, deterministic).

Written without reading the detectors, from the public description of what diagnosis finds, to see
how they generalize. Unlike the first synthetic history it has:

- seasonality: tenants in different time zones, business-hours peaks, a nightly lull, quiet weekends
  whose runs are different work (scheduled batch jobs with longer contexts), busy hours that are slower;
- bursty traffic (an hour-long batch of many runs on random days), gradual traffic growth, holidays;
- heavy tails: log-normal latency and cost with a Pareto tail (a few runs cost 10x the median);
- fleet churn: agents appearing mid-history, agents with a handful of runs a week, multiple tenants;
- legitimate changes that diagnosis should stay quiet about: a request-model upgrade (a new served model
  with it, cost +10-20%), a prompt version (cost +5-15%), agent versions that change nothing, a
  tenant-wide policy revision, a short upstream outage on one tool;
- planted failures of every kind the README lists (approvals excepted), of varied and sometimes subtle
  magnitude, with the ground truth (kind, agent, onset) recorded.

    from benchmarks.data.agent_histories2 import generate
    truth = generate(store, seed=1)            # truth.plants, truth.clean_agent_weeks()
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from railguard.store import SpanRow, Store

DAY_S = 86_400
HOUR_S = 3_600
NS = 1_000_000_000
START_TS = 1_709_510_400.0  # 2024-03-04 00:00 UTC, a Monday
TOOLS = (
    "search_docs",
    "fetch_url",
    "sql_query",
    "create_ticket",
    "send_message",
    "run_script",
    "lookup_customer",
    "classify_intent",
)
# (request model, served snapshot, $ per input token, $ per output token)
MODELS = {
    "small-a": ("small-a-2024-05", 0.2e-6, 0.8e-6),
    "small-b": ("small-b-2024-09", 0.25e-6, 0.9e-6),
    "large-a": ("large-a-2024-06", 2.5e-6, 10e-6),
}
PLANT_KINDS = (
    "loop",
    "cost_spike",
    "token_bloat",
    "latency_regression",
    "error_rate",
    "model_drift",
    "regression",  # a new agent version that fails more often
    "prompt_regression",  # a new prompt version that fails more often
    "policy_regression",  # a new policy revision whose over-broad rule blocks ordinary runs
    "confidence_drop",
    "violation_cluster",
)
FINDING_KIND = {"prompt_regression": "regression", "policy_regression": "regression"}
# Vocabulary a finding's text should use for its kind (the text-quality check).
KIND_WORDS = {
    "loop": ("loop", "repeat"),
    "cost_spike": ("cost",),
    "token_bloat": ("token",),
    "latency_regression": ("latency", "slow"),
    "error_rate": ("error", "fail"),
    "model_drift": ("model",),
    "regression": ("version", "revision", "regress"),
    "confidence_drop": ("confidence",),
    "violation_cluster": ("block", "rule", "violation", "ask"),
}


@dataclass(frozen=True, slots=True)
class Plant:
    kind: str  # one of PLANT_KINDS
    agent: str
    tenant: str
    onset_ts: float
    magnitude: str  # what was changed, e.g. "cost x2.5"

    @property
    def finding_kind(self) -> str:
        return FINDING_KIND.get(self.kind, self.kind)


@dataclass
class Truth:
    start_ts: float
    days: int
    agents: dict[str, tuple[str, float]]  # agent -> (tenant, first day it ran, as a timestamp)
    plants: list[Plant] = field(default_factory=list)
    legit: list[str] = field(default_factory=list)  # the legitimate changes, for the report
    runs: int = 0
    spans: int = 0

    def clean_agents(self) -> list[str]:
        planted = {p.agent for p in self.plants}
        return sorted(a for a in self.agents if a not in planted)

    def agent_weeks(self, agents: list[str]) -> float:
        end = self.start_ts + self.days * DAY_S
        return sum((end - self.agents[a][1]) / (7 * DAY_S) for a in agents)


@dataclass
class _Agent:
    name: str
    tenant: str
    tz: int  # hours from UTC of the tenant
    rate: float  # runs per weekday at the start
    growth: float  # traffic multiplier reached at the end of the history
    weekend: float  # weekend traffic relative to a weekday
    start_day: int
    tools: list[str]
    tool_weights: list[float]
    latency_ms: dict[str, float]
    error_p: dict[str, float]
    model: str
    base_tokens: float
    turn_growth: float
    turns: tuple[int, int]
    confidence_tool: str | None
    prompt: str = "p1"
    version: str = "1.0.0"
    # legitimate changes: (day, what) applied from that day on
    changes: list[tuple[float, str]] = field(default_factory=list)
    plant: Plant | None = None
    plant_param: float = 1.0
    plant_tool: str = ""


def _holidays(rng: random.Random, days: int) -> set[int]:
    """Two weekday holidays per history (plus a bridge day after one of them)."""
    picks = [d for d in range(3, days - 3) if d % 7 < 5]
    out = set(rng.sample(picks, 2))
    first = min(out)
    if first % 7 < 4:
        out.add(first + 1)
    return out


def _fleet(rng: random.Random, days: int, agents: int) -> list[_Agent]:
    tenants = [("acme", -5), ("globex", 1), ("initech", 8)]
    fleet: list[_Agent] = []
    for i in range(agents):
        tenant, tz = tenants[i % len(tenants)]
        # heavy-tailed volume: most agents are moderate, a few are busy, a few barely run
        roll = rng.random()
        if roll < 0.15:
            rate = rng.uniform(0.3, 2.5)
        elif roll < 0.85:
            rate = math.exp(rng.uniform(math.log(5), math.log(20)))
        else:
            rate = rng.uniform(30, 60)
        tools = rng.sample(TOOLS, rng.randint(2, 5))
        start_day = 0 if rng.random() < 0.75 else rng.randint(7, days - 12)
        fleet.append(
            _Agent(
                name=f"{tenant}-{rng.choice(['support', 'ops', 'research', 'billing', 'triage', 'sales'])}-{i:02d}",
                tenant=tenant,
                tz=tz,
                rate=rate,
                growth=rng.uniform(1.0, 2.2),
                weekend=rng.uniform(0.1, 0.6),
                start_day=start_day,
                tools=tools,
                tool_weights=[rng.paretovariate(1.5) for _ in tools],
                latency_ms={t: math.exp(rng.uniform(math.log(30), math.log(3000))) for t in tools},
                error_p={t: rng.uniform(0.002, 0.04) for t in tools},
                model=rng.choice(["small-a", "small-a", "small-b", "large-a"]),
                base_tokens=rng.uniform(600, 5000),
                turn_growth=rng.uniform(100, 900),
                turns=rng.choice([(1, 3), (2, 5), (3, 8)]),
                confidence_tool="classify_intent" if "classify_intent" in tools else None,
            )
        )
    return fleet


def _legit_changes(rng: random.Random, fleet: list[_Agent], days: int) -> list[str]:
    notes: list[str] = []
    for a in fleet:
        lo = a.start_day + 3
        if lo >= days - 3:
            continue
        if rng.random() < 0.35:  # version bumps that change nothing
            for _ in range(rng.randint(1, 3)):
                a.changes.append((rng.uniform(lo, days - 1), "version"))
        if rng.random() < 0.25 and a.model == "small-a":  # a deliberate model upgrade
            a.changes.append((rng.uniform(lo, days - 3), "model:small-b"))
            notes.append(f"{a.name}: request model small-a -> small-b")
        if rng.random() < 0.3:  # a prompt rewrite, a little more expensive
            a.changes.append((rng.uniform(lo, days - 3), f"prompt:{rng.uniform(1.05, 1.15):.3f}"))
            notes.append(f"{a.name}: new prompt version")
        a.changes.sort()
    return notes


def _assign_plants(rng: random.Random, fleet: list[_Agent], days: int, start_ts: float) -> list[Plant]:
    # plants go on agents with enough traffic to tell, with room on both sides of the onset
    able = [a for a in fleet if a.rate >= 5 and a.start_day <= days - 24]
    rng.shuffle(able)
    plants: list[Plant] = []
    for kind, a in zip(PLANT_KINDS, able, strict=False):
        if kind == "confidence_drop" and a.confidence_tool is None:
            a.confidence_tool = a.tools[0]
        # onset at any hour, not on a day boundary
        day = rng.randint(max(a.start_day + 10, 9), days - 10)
        onset = start_ts + day * DAY_S + rng.uniform(0, DAY_S)
        a.plant_tool = max(a.tools, key=lambda t: a.tool_weights[a.tools.index(t)])
        param, what = {
            "loop": lambda: (rng.choice([5, 6, 8]), "runs repeat one identical tool call {:.0f} times"),
            "cost_spike": lambda: (rng.choice([2.5, 3.0, 5.0]), "cost per run x{:.1f}"),
            "token_bloat": lambda: (
                rng.choice([3.0, 4.0]),
                "context growth per turn ramps to x{:.0f} over 2 days",
            ),
            "latency_regression": lambda: (rng.choice([2.0, 3.0]), "busiest tool latency x{:.0f}"),
            "error_rate": lambda: (rng.choice([0.10, 0.2]), "busiest tool fails {:.0%} of calls"),
            "model_drift": lambda: (rng.choice([2.0, 4.0]), "served model changes, cost per call x{:.0f}"),
            "regression": lambda: (rng.choice([0.1, 0.2]), "new agent version, {:.0%} of runs fail"),
            "prompt_regression": lambda: (rng.choice([0.1, 0.2]), "new prompt version, {:.0%} of runs fail"),
            "policy_regression": lambda: (
                rng.choice([0.1, 0.2]),
                "new policy revision blocks {:.0%} of runs",
            ),
            "confidence_drop": lambda: (rng.choice([0.1, 0.2]), "confidence falls by {:.2f} over 2 days"),
            "violation_cluster": lambda: (
                rng.choice([0.03, 0.08]),
                "one rule blocks one call shape in {:.0%} of runs",
            ),
        }[kind]()
        a.plant_param = param
        a.plant = Plant(kind, a.name, a.tenant, onset, what.format(param))
        plants.append(a.plant)
    return plants


def _hourly(a: _Agent, weekend: bool) -> list[float]:
    """Relative traffic per UTC hour: business hours in the tenant's zone, a nightly lull."""
    out = []
    for h in range(24):
        local = (h + a.tz) % 24
        if weekend:
            w = 1.0 if local in (2, 3) else 0.3  # the weekend's scheduled batch jobs run at night
        else:
            w = 1.0 if 9 <= local < 18 else (0.35 if 7 <= local < 21 else 0.06)
        out.append(w)
    total = sum(out)
    return [w / total for w in out]


def generate(
    store: Store,
    *,
    seed: int = 1,
    days: int = 42,
    agents: int = 24,
    scale: float = 1.0,
    plants: bool = True,
    start_ts: float = START_TS,
    batch: int = 5000,
) -> Truth:
    """Write the history into `store` and return the ground truth. `scale` multiplies traffic."""
    rng = random.Random(seed * 7919 + 17)
    fleet = _fleet(rng, days, agents)
    truth = Truth(start_ts, days, {a.name: (a.tenant, start_ts + a.start_day * DAY_S) for a in fleet})
    truth.legit = _legit_changes(rng, fleet, days)
    if plants:
        truth.plants = _assign_plants(rng, fleet, days, start_ts)
    holidays = {t: _holidays(rng, days) for t in sorted({a.tenant for a in fleet})}
    policy_rev_day = {t: rng.uniform(5, days - 5) for t in holidays}  # a harmless tenant-wide revision
    outage = (start_ts + rng.uniform(3, days - 3) * DAY_S, rng.choice(TOOLS))  # one hour, one tool
    truth.legit.append(
        f"{outage[1]}: an hour-long upstream outage (30% errors) on day {(outage[0] - start_ts) / DAY_S:.1f}"
    )
    pending: list[SpanRow] = []
    for day in range(days):
        weekend = day % 7 >= 5
        for a in fleet:
            if day < a.start_day:
                continue
            ramp = min(1.0, (day - a.start_day + 1) / 4)  # a new agent is rolled out over a few days
            growth = 1 + (a.growth - 1) * day / days
            volume = a.rate * scale * ramp * growth * (a.weekend if weekend else 1.0)
            if day in holidays[a.tenant]:
                volume *= 0.1
            volume *= rng.lognormvariate(0, 0.2)
            n = _poisson(rng, volume)
            hours = _hourly(a, weekend)
            stamps = [
                start_ts + day * DAY_S + (rng.choices(range(24), hours)[0] + rng.random()) * HOUR_S
                for _ in range(n)
            ]
            if rng.random() < 0.08 and not weekend:  # a bursty batch: many runs inside one hour
                at = start_ts + day * DAY_S + rng.uniform(0, 23) * HOUR_S
                stamps += [at + rng.uniform(0, HOUR_S) for _ in range(_poisson(rng, 1.5 * volume + 5))]
            for at in sorted(stamps):
                ctx = _Ctx(at, weekend, (int(at // HOUR_S) + a.tz) % 24, policy_rev_day[a.tenant], outage)
                pending.extend(_run(rng, a, ctx, truth))
                truth.runs += 1
            if len(pending) >= batch:
                truth.spans += store.write_spans(pending)
                pending = []
    if pending:
        truth.spans += store.write_spans(pending)
    return truth


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass(frozen=True, slots=True)
class _Ctx:
    at: float
    weekend: bool
    local_hour: int
    policy_rev_day: float
    outage: tuple[float, str]


def _hex(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def _state(a: _Agent, ctx: _Ctx, start_ts: float) -> dict[str, Any]:
    """The agent's configuration at this moment: legitimate changes so far, and its plant if active."""
    day = (ctx.at - start_ts) / DAY_S
    model, prompt, prompt_cost, bumps = a.model, a.prompt, 1.0, 0
    for when, what in a.changes:
        if when > day:
            break
        if what == "version":
            bumps += 1
        elif what.startswith("model:"):
            model = what.split(":", 1)[1]
        elif what.startswith("prompt:"):
            prompt, prompt_cost = f"p{int(prompt[1:]) + 1}", float(what.split(":", 1)[1])
    version = f"1.{bumps}.0"
    plant = a.plant.kind if a.plant is not None and ctx.at >= a.plant.onset_ts else None
    since = (ctx.at - a.plant.onset_ts) / DAY_S if a.plant is not None and plant else 0.0
    if plant == "regression":
        version = f"2.{bumps}.0"
    if plant == "prompt_regression":
        prompt = "p-new"
    revision = "r2" if day >= ctx.policy_rev_day else "r1"
    if plant == "policy_regression":
        revision = "r3-strict"
    return {
        "model": model,
        "prompt": prompt,
        "prompt_cost": prompt_cost,
        "version": version,
        "revision": revision,
        "plant": plant,
        "ramp": min(1.0, since / 2),  # gradual plants reach full strength after two days
    }


def _run(rng: random.Random, a: _Agent, ctx: _Ctx, truth: Truth) -> list[SpanRow]:
    st = _state(a, ctx, truth.start_ts)
    plant, k = st["plant"], a.plant_param
    trace, root = _hex(rng, 32), _hex(rng, 16)
    common: dict[str, Any] = {
        "tenant": a.tenant,
        "agent": a.name,
        "agent_version": st["version"],
        "prompt_version": st["prompt"],
        "session": f"s-{_hex(rng, 8)}",
    }
    req = st["model"]
    served, p_in, p_out = MODELS[req]
    call_cost = st["prompt_cost"]
    model_ms = {"small-a": 600.0, "small-b": 700.0, "large-a": 1800.0}[req]
    if plant == "model_drift":
        served, call_cost, model_ms = served + "-preview", call_cost * k, model_ms * 1.3
    if plant == "cost_spike":
        call_cost *= k
    busy = 1.25 if 10 <= ctx.local_hour < 16 and not ctx.weekend else 1.0  # busy hours are slower
    lo, hi = a.turns
    turns = rng.randint(lo, hi) + (rng.randint(1, 4) if ctx.weekend else 0)  # weekend batch jobs run longer
    tokens = a.base_tokens * rng.lognormvariate(0, 0.35) * (1.3 if ctx.weekend else 1.0)
    growth = a.turn_growth * (1 + (k - 1) * st["ramp"] if plant == "token_bloat" else 1)
    tail = rng.paretovariate(2.5) if rng.random() < 0.05 else 1.0  # a few runs are far longer/costlier
    failed_run = rng.random() < (k if plant in ("regression", "prompt_regression") else 0.015)
    blocked_run = plant == "policy_regression" and rng.random() < k
    t = ctx.at
    rows: list[SpanRow] = []
    looped = plant == "loop" and rng.random() < 0.12
    for turn in range(turns):
        ms = model_ms * busy * rng.lognormvariate(0, 0.5) * tail
        in_tok = int(tokens)
        out_tok = int(rng.lognormvariate(math.log(180), 0.6) * tail * (k if plant == "cost_spike" else 1)) + 5
        cost = (in_tok * p_in + out_tok * p_out) * call_cost
        rows.append(
            SpanRow(
                trace, _hex(rng, 16), root, f"chat {req}", "client",
                int(t * NS), int((t + ms / 1000) * NS),
                operation="chat", provider="openai", request_model=req, response_model=served,
                input_tokens=in_tok, output_tokens=out_tok, cost_usd=cost, **common,
            )
        )  # fmt: skip
        t += ms / 1000
        tokens += growth * rng.uniform(0.5, 1.5)
        tool = rng.choices(a.tools, a.tool_weights)[0]
        repeats = int(k) if looped and turn == 0 else 1
        args = json.dumps({"q": f"{tool} {_hex(rng, 6)}", "page": rng.randint(1, 5)})
        for _ in range(repeats):
            rows.append(_tool_span(rng, a, st, ctx, trace, root, tool, args, t, common))
            t = rows[-1].end_ns / NS
        if blocked_run and turn == turns - 1:
            rows.append(_block(rng, trace, root, t, "tenant/strict-external", "send_message",
                               {"to": f"user{rng.randint(1, 999)}@example.com", "body": "status update"},
                               st, common))  # fmt: skip
    if plant == "violation_cluster" and rng.random() < k:
        path = f"/srv/data/{_hex(rng, 6)}/{rng.randint(1, 9999)}"
        rows.append(_block(rng, trace, root, t, "ops/no-recursive-delete", "run_script",
                           {"command": f"rm -rf {path}"}, st, common))  # fmt: skip
    elif rng.random() < 0.004:  # ordinary, varied blocks a guard makes now and then
        what = rng.choice(["curl http://", "cat ~/.ssh/", "chmod 777 ", "scp out@", "drop table "])
        rows.append(_block(rng, trace, root, t, rng.choice(["net/egress", "fs/secrets", "db/ddl"]),
                           "run_script", {"command": what + _hex(rng, 12)}, st, common))  # fmt: skip
    failed = failed_run or any(r.status == "error" for r in rows[-2:])
    if failed_run and rows:
        rows[-1] = dataclasses.replace(
            rows[-1], status="error", status_message="agent gave up", error_type="AgentError"
        )
    rows.append(
        SpanRow(
            trace, root, None, f"invoke_agent {a.name}", "internal",
            int(ctx.at * NS), int(t * NS) + 1,
            status="error" if failed else "unset",
            status_message="run failed" if failed else None,
            operation="invoke_agent", **common,
        )
    )  # fmt: skip
    return rows


def _tool_span(
    rng: random.Random,
    a: _Agent,
    st: dict[str, Any],
    ctx: _Ctx,
    trace: str,
    root: str,
    tool: str,
    args: str,
    t: float,
    common: dict[str, Any],
) -> SpanRow:
    plant, k = st["plant"], a.plant_param
    ms = a.latency_ms[tool] * rng.lognormvariate(0, 0.6)
    if rng.random() < 0.02:
        ms *= rng.paretovariate(1.2)  # heavy tail: a stuck dependency
    if plant == "latency_regression" and tool == a.plant_tool:
        ms *= k
    err_p = a.error_p[tool]
    if plant == "error_rate" and tool == a.plant_tool:
        err_p = k
    out_at, out_tool = ctx.outage
    if tool == out_tool and out_at <= t < out_at + HOUR_S:
        err_p = 0.3
    failed = rng.random() < err_p
    attributes: dict[str, Any] = {
        "gen_ai.tool.call.arguments": args,
        "railguard.policy.revision": st["revision"],
    }
    if tool == a.confidence_tool:
        drop = a.plant_param * st["ramp"] if plant == "confidence_drop" else 0.0
        attributes["railguard.confidence"] = max(0.0, min(1.0, rng.betavariate(30, 5) - drop))
    return SpanRow(
        trace, _hex(rng, 16), root, f"execute_tool {tool}", "internal",
        int(t * NS), int((t + ms / 1000) * NS),
        status="error" if failed else "unset",
        status_message=rng.choice(["upstream 502", "timeout", "rate limited"]) if failed else None,
        error_type="ToolError" if failed else None,
        operation="execute_tool", tool_name=tool, verdict="allow", decision_id=_hex(rng, 16),
        attributes=attributes, **common,
    )  # fmt: skip


def _block(
    rng: random.Random,
    trace: str,
    root: str,
    t: float,
    rule: str,
    tool: str,
    args: dict[str, Any],
    st: dict[str, Any],
    common: dict[str, Any],
) -> SpanRow:
    return SpanRow(
        trace, _hex(rng, 16), root, f"execute_tool {tool}", "internal",
        int(t * NS), int(t * NS) + 2000,
        operation="execute_tool", tool_name=tool, verdict="block", rules=rule, decision_id=_hex(rng, 16),
        attributes={"gen_ai.tool.call.arguments": json.dumps(args), "railguard.policy.revision": st["revision"]},
        **common,
    )  # fmt: skip


__all__ = ["DAY_S", "KIND_WORDS", "PLANT_KINDS", "Plant", "Truth", "generate"]
