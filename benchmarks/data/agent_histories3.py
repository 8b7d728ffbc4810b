"""A third, independent generator of agent history for the diagnosis benchmark (seeded, deterministic).

Written before reading the detectors, with other agents and other nuisance than the second history
(benchmarks/data/agent_histories2.py), to check how diagnosis generalizes:

- four kinds of agent with their own workloads: support bots (short runs in business hours, an intent
  classifier with a confidence score, refunds that always ask a human), coding agents (long sessions whose
  context grows quickly, test runs that fail often for ordinary reasons), data pipeline agents (cron
  schedules that ignore weekends and holidays, a nightly and a weekly heavy job, status polling with the
  same arguments, per-customer work whose mix shifts), research agents (long runs, heavy-tailed page
  sizes, a claim checker with a confidence score), and sparse agents (a few runs a week);
- tenants in UTC-8, UTC+0, UTC+1 and UTC+9 (whose working day straddles the UTC day boundary), each with
  its own holidays;
- legitimate changes on deploy days: agent versions that are faster, slower, costlier, fix a tool, add a
  turn, or introduce a new tool (with its own error rate from the start); request-model switches (the
  served model with them); prompt versions that move tokens by +-10%; tenant-wide policy revisions with a
  rule that rarely bites;
- traffic: growth trends, a step when a customer is onboarded, bursts, new agents ramping up;
- transient trouble that recovers: retry storms (an upstream tool failing half its calls for 1-3 hours,
  agents retrying with the same arguments), a model provider slow for two hours;
- planted failures of every kind diagnosis claims (loop, cost spike, token bloat, latency regression,
  error rate, model drift, regression after an agent version / prompt version / policy revision,
  confidence drop, violation cluster), each kind planted twice per seed, at a moderate and at a large
  magnitude, with the ground truth (kind, agent, onset, magnitude) recorded.

    from benchmarks.data.agent_histories3 import generate
    truth = generate(store, seed=1)            # truth.plants, truth.clean_agents(), truth.agent_weeks()

The interface (Plant, Truth, PLANT_KINDS, KIND_WORDS, generate) matches the second generator's.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, replace
from typing import Any

from railguard.store import SpanRow, Store

DAY_S = 86_400
HOUR_S = 3_600
NS = 1_000_000_000
START_TS = 1_759_708_800.0  # 2025-10-06 00:00 UTC, a Monday (a month end falls inside six weeks)
PLANT_KINDS = (
    "loop",
    "cost_spike",
    "token_bloat",
    "latency_regression",
    "error_rate",
    "model_drift",
    "regression",  # an agent version whose runs fail more often
    "prompt_regression",  # a prompt version whose runs fail more often
    "policy_regression",  # a tenant policy revision whose over-broad rule blocks one agent's ordinary calls
    "confidence_drop",
    "violation_cluster",
)
FINDING_KIND = {"prompt_regression": "regression", "policy_regression": "regression"}
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
# request model -> (served snapshot, $ per input token, $ per output token, median ms per call)
MODELS = {
    "swift-1": ("swift-1-0815", 0.15e-6, 0.6e-6, 500.0),
    "swift-2": ("swift-2-1102", 0.12e-6, 0.5e-6, 420.0),
    "sage-1": ("sage-1-0601", 3.0e-6, 15e-6, 1500.0),
    "sage-1.5": ("sage-1.5-0920", 3.0e-6, 12e-6, 1300.0),
    "coder-x": ("coder-x-0704", 1.0e-6, 4e-6, 1100.0),
    "coder-x2": ("coder-x2-1010", 1.1e-6, 4.4e-6, 1000.0),
}
# tenant -> (hours from UTC, holiday weekdays as day indexes counted from START_TS)
TENANTS = {
    "northwind": (-8, (24, 25)),  # a two-day holiday (Thursday, Friday)
    "kaiho": (9, (8, 28)),
    "lumen": (1, (22,)),
    "harbor": (0, (14, 35)),
}


@dataclass(frozen=True, slots=True)
class Plant:
    kind: str  # one of PLANT_KINDS
    agent: str
    tenant: str
    onset_ts: float
    magnitude: str  # "moderate: ..." or "large: ..."

    @property
    def finding_kind(self) -> str:
        return FINDING_KIND.get(self.kind, self.kind)

    @property
    def strength(self) -> str:
        return self.magnitude.split(":", 1)[0]


@dataclass
class Truth:
    start_ts: float
    days: int
    agents: dict[str, tuple[str, float]]  # agent -> (tenant, first day it ran, as a timestamp)
    plants: list[Plant] = field(default_factory=list)
    legit: list[str] = field(default_factory=list)  # the legitimate changes and transient trouble
    runs: int = 0
    spans: int = 0

    def clean_agents(self) -> list[str]:
        planted = {p.agent for p in self.plants}
        return sorted(a for a in self.agents if a not in planted)

    def agent_weeks(self, agents: list[str]) -> float:
        end = self.start_ts + self.days * DAY_S
        return sum((end - self.agents[a][1]) / (7 * DAY_S) for a in agents)


@dataclass(frozen=True, slots=True)
class Tool:
    weight: float
    latency_ms: float
    error_p: float


@dataclass(frozen=True, slots=True)
class Profile:
    """What an agent kind does: its tools, run length, context and output sizes, model, schedule."""

    tools: dict[str, Tool]
    turns: tuple[int, int]
    base_tokens: float  # input tokens of the first model call
    context_growth: float  # input tokens added per turn (tool results, history)
    output_tokens: float  # median output tokens per call
    model: str
    schedule: str  # "business", "sessions", "cron" or "anytime"
    rate: tuple[float, float]  # runs per weekday (cron: runs per hour)
    weekend: float
    fail_p: float  # runs that fail for reasons of their own
    confidence_tool: str | None = None
    confidence: tuple[float, float] = (0.0, 0.0)  # beta parameters of the score


PROFILES = {
    "support": Profile(
        tools={
            "classify_intent": Tool(3, 180, 0.002),
            "lookup_order": Tool(3, 260, 0.01),
            "search_kb": Tool(2, 420, 0.008),
            "issue_refund": Tool(0.6, 900, 0.015),
            "escalate_to_human": Tool(0.4, 150, 0.0),
        },
        turns=(3, 6),
        base_tokens=1800,
        context_growth=450,
        output_tokens=160,
        model="swift-1",
        schedule="business",
        rate=(12, 36),
        weekend=0.45,
        fail_p=0.02,
        confidence_tool="classify_intent",
        confidence=(28, 4.5),
    ),
    "coding": Profile(
        tools={
            "read_file": Tool(4, 40, 0.003),
            "search_code": Tool(2, 300, 0.004),
            "edit_file": Tool(3, 60, 0.01),
            "run_tests": Tool(2, 22_000, 0.0),  # failing tests are results, not tool errors
            "shell": Tool(1.5, 2_500, 0.03),
        },
        turns=(4, 10),
        base_tokens=5000,
        context_growth=1800,
        output_tokens=420,
        model="coder-x",
        schedule="sessions",
        rate=(8, 20),
        weekend=0.15,
        fail_p=0.07,
    ),
    "pipeline": Profile(
        tools={
            "sql_query": Tool(4, 3_500, 0.006),
            "load_table": Tool(2, 9_000, 0.01),
            "validate_schema": Tool(1.5, 400, 0.002),
            "call_api": Tool(2, 700, 0.012),
            "get_job_status": Tool(1, 120, 0.001),
        },
        turns=(4, 8),
        base_tokens=2500,
        context_growth=350,
        output_tokens=220,
        model="swift-2",
        schedule="cron",
        rate=(0.4, 1.0),
        weekend=1.0,
        fail_p=0.015,
    ),
    "research": Profile(
        tools={
            "web_search": Tool(3, 900, 0.01),
            "fetch_page": Tool(4, 1_600, 0.04),  # the web: dead links and paywalls
            "verify_claim": Tool(1.5, 1_200, 0.005),
            "write_notes": Tool(1, 80, 0.0),
        },
        turns=(5, 10),
        base_tokens=3000,
        context_growth=2600,
        output_tokens=650,
        model="sage-1",
        schedule="business",
        rate=(5, 12),
        weekend=0.3,
        fail_p=0.03,
        confidence_tool="verify_claim",
        confidence=(12, 4),
    ),
}
# kind -> (how many per fleet, of which sparse)
FLEET = {"support": (10, 1), "coding": (9, 2), "pipeline": (9, 1), "research": (7, 2)}
# plant kind -> {strength: (parameter, description)}
MAGNITUDE = {
    "loop": {"moderate": (0.1, "10% of runs repeat one call 5-7 times"),
             "large": (0.25, "25% of runs repeat one call 10-15 times")},
    "cost_spike": {"moderate": (1.8, "cost per call x1.8"), "large": (3.5, "cost per call x3.5")},
    "token_bloat": {"moderate": (2.5, "input-token growth per turn x2.5"),
                    "large": (5.0, "input-token growth per turn x5")},
    "latency_regression": {"moderate": (2.0, "one tool x2 slower"), "large": (5.0, "one tool x5 slower")},
    "error_rate": {"moderate": (0.08, "one tool's error rate +8 points"),
                   "large": (0.3, "one tool's error rate +30 points")},
    "model_drift": {"moderate": (1.2, "served snapshot changes, cost and latency x1.2"),
                    "large": (1.8, "served snapshot changes, cost and latency x1.8")},
    "regression": {"moderate": (0.07, "new agent version, runs fail +7 points"),
                   "large": (0.3, "new agent version, runs fail +30 points")},
    "prompt_regression": {"moderate": (0.08, "new prompt version, runs fail +8 points"),
                          "large": (0.35, "new prompt version, runs fail +35 points")},
    "policy_regression": {"moderate": (0.06, "new tenant policy revision blocks 6% of this agent's runs"),
                          "large": (0.3, "new tenant policy revision blocks 30% of this agent's runs")},
    "confidence_drop": {"moderate": (0.1, "confidence -0.10 over two days"),
                        "large": (0.25, "confidence -0.25 over two days")},
    "violation_cluster": {"moderate": (0.08, "8% of runs blocked by one rule on one call shape"),
                          "large": (0.25, "25% of runs blocked by one rule on one call shape")},
}  # fmt: skip
# the rule and call a violation cluster repeats, per agent kind: (rule, tool, argument template)
CLUSTER_CALL = {
    "support": ("pii/bulk-export", "lookup_order", '{{"export": "all", "email": "{w}@example.com"}}'),
    "coding": ("git/no-force-push", "shell", '{{"command": "git push --force origin feature/{w}-{n}"}}'),
    "pipeline": ("db/no-drop", "sql_query", '{{"sql": "DROP TABLE staging_{w}_{n}"}}'),
    "research": ("net/paywall", "fetch_page", '{{"url": "https://journal{n}.example/{w}/pdf"}}'),
}
# ordinary, varied blocks any guard makes now and then: (rule, tool, argument template)
STRAY_BLOCKS = (
    ("net/egress", "call_api", '{{"url": "http://{w}.invalid/{n}"}}'),
    ("fs/secrets", "shell", '{{"command": "cat ~/.aws/{w}"}}'),
    ("db/ddl", "sql_query", '{{"sql": "ALTER TABLE t{n} ADD {w} int"}}'),
    ("pii/email", "escalate_to_human", '{{"to": "{w}@partner{n}.example"}}'),
)


@dataclass
class _Agent:
    name: str
    kind: str
    tenant: str
    tz: int
    profile: Profile
    rate: float
    growth: float  # traffic multiplier reached at the end of the history
    step: tuple[int, float]  # (day, traffic multiplier from then on): an onboarded customer
    start_day: int
    sparse: bool
    tools: dict[str, Tool]
    changes: list[tuple[float, str, Any]] = field(default_factory=list)  # (day, what, value), sorted
    plant: Plant | None = None
    plant_param: float = 0.0
    plant_tool: str = ""
    polls: bool = False  # polls a job's status with the same arguments until it is done


@dataclass(frozen=True, slots=True)
class _State:
    version: str
    prompt: str
    request_model: str
    served_model: str
    tools: dict[str, Tool]
    cost_mult: float
    latency_mult: float
    tokens_mult: float
    extra_turns: int
    confidence_shift: float
    plant: str | None
    ramp: float  # gradual plants reach full strength after two days


def _weekday(day: int) -> bool:
    return day % 7 < 5


def _fleet(rng: random.Random, days: int) -> list[_Agent]:
    tenants = sorted(TENANTS)
    fleet: list[_Agent] = []
    for kind in sorted(FLEET):
        count, sparse_n = FLEET[kind]
        prof = PROFILES[kind]
        for i in range(count):
            tenant = tenants[(i + len(fleet)) % len(tenants)]
            sparse = i >= count - sparse_n
            rate = 0.15 * rng.uniform(1, 6) if sparse else rng.uniform(*prof.rate)
            late = rng.random() < 0.2 and not sparse
            tools = {
                t: replace(spec, latency_ms=spec.latency_ms * rng.uniform(0.6, 1.6),
                           error_p=spec.error_p * rng.uniform(0.5, 1.8))
                for t, spec in prof.tools.items()
            }  # fmt: skip
            fleet.append(
                _Agent(
                    name=f"{tenant}-{kind}-{i + 1}",
                    kind=kind,
                    tenant=tenant,
                    tz=TENANTS[tenant][0],
                    profile=prof,
                    rate=rate,
                    growth=rng.choice([0.8, 1.0, 1.3, 1.8, 2.5]),
                    step=(rng.randint(7, days - 7), rng.uniform(1.5, 2.2))
                    if rng.random() < 0.25
                    else (days, 1.0),
                    start_day=rng.randint(3, 12) if late else 0,
                    sparse=sparse,
                    tools=tools,
                    polls=kind == "pipeline" and rng.random() < 0.6,
                )
            )
    return fleet


def _deploy_day(rng: random.Random, a: _Agent, lo: float, hi: float) -> float:
    """A weekday, in the tenant's working hours (10:00-16:00 local), as a fractional day index."""
    while True:
        day = rng.randint(int(lo), int(hi))
        if _weekday(day):
            return day + ((rng.uniform(10, 16) - a.tz) / 24)


def _legit_changes(rng: random.Random, fleet: list[_Agent], days: int) -> list[str]:
    notes: list[str] = []
    for a in fleet:
        for _ in range(rng.randint(1, 3)):
            when = _deploy_day(rng, a, a.start_day + 5, days - 3)
            what = rng.choice(["none", "faster", "slower", "costlier", "fix", "turn", "new_tool", "none"])
            value: Any = None
            if what == "new_tool":
                value = (f"{a.kind}_helper_v{rng.randint(2, 9)}", Tool(rng.uniform(0.5, 1.5), rng.uniform(100, 900),
                                                                     rng.uniform(0.01, 0.05)))  # fmt: skip
            elif what == "fix":
                value = rng.choice(sorted(a.tools))
            a.changes.append((when, "version", (what, value)))
            notes.append(f"{a.name}: deploy on day {when:.1f} ({what})")
        if rng.random() < 0.3 and not a.sparse:
            when = _deploy_day(rng, a, a.start_day + 7, days - 4)
            choices = {
                "swift-1": "swift-2",
                "swift-2": "swift-1",
                "sage-1": "sage-1.5",
                "coder-x": "coder-x2",
            }
            model = choices[a.profile.model]
            a.changes.append((when, "model", model))
            notes.append(f"{a.name}: switched to {model} on day {when:.1f}")
        if rng.random() < 0.4:
            when = _deploy_day(rng, a, a.start_day + 4, days - 4)
            a.changes.append((when, "prompt", rng.uniform(0.9, 1.1)))
            notes.append(f"{a.name}: new prompt version on day {when:.1f} (tokens within 10%)")
    return notes


def _eligible(a: _Agent, kind: str) -> bool:
    if a.sparse or a.start_day > 7:
        return False
    if kind == "confidence_drop":
        return a.profile.confidence_tool is not None
    return True


def _assign_plants(rng: random.Random, fleet: list[_Agent], days: int, start_ts: float) -> list[Plant]:
    plants: list[Plant] = []
    taken: set[str] = set()
    policy_tenants: set[str] = set()
    # the kinds with the fewest eligible agents choose first
    for kind in sorted(PLANT_KINDS, key=lambda k: (k != "confidence_drop", k)):
        for strength in ("moderate", "large"):
            pool = [
                a for a in fleet
                if a.name not in taken and _eligible(a, kind)
                and not (kind == "policy_regression" and a.tenant in policy_tenants)
            ]  # fmt: skip
            a = rng.choice(pool)
            taken.add(a.name)
            # a planted agent gets 14+ runs on a weekday, so that a day shows a moderate plant
            a.rate = max(a.rate, 14 / 24 if a.profile.schedule == "cron" else 14)
            onset_day = _deploy_day(rng, a, 14, days - 7)
            param, text = MAGNITUDE[kind][strength]
            a.plant_param = param
            a.plant_tool = rng.choice(sorted(t for t in a.tools if a.tools[t].weight >= 1.5))
            if kind == "policy_regression":
                policy_tenants.add(a.tenant)
            if kind in ("regression", "prompt_regression"):
                a.changes = [c for c in a.changes if abs(c[0] - onset_day) > 1]
            a.plant = Plant(kind, a.name, a.tenant, start_ts + onset_day * DAY_S, f"{strength}: {text}")
            plants.append(a.plant)
    return plants


def _trouble(rng: random.Random, days: int) -> tuple[list[tuple[float, float, str]], tuple[float, str]]:
    """Retry storms (start day, hours, tool) on shared upstreams, and a two-hour slow model provider."""
    storms = []
    for tool in ("call_api", "fetch_page", "lookup_order", "sql_query", "web_search"):
        for _ in range(rng.randint(1, 2)):
            storms.append((rng.uniform(2, days - 1), rng.uniform(1, 3), tool))
    slow = (rng.uniform(5, days - 2), rng.choice(sorted(MODELS)))
    return sorted(storms), slow


@dataclass(frozen=True, slots=True)
class _Ctx:
    day: float  # fractional day index of the run's start
    weekend: bool
    storms: list[tuple[float, float, str]]
    slow_model: tuple[float, str]
    revision: str


def _revision(tenant_revs: list[tuple[float, str]], day: float) -> str:
    rev = "2025.09"
    for when, name in tenant_revs:
        if when <= day:
            rev = name
    return rev


def _state(a: _Agent, day: float) -> _State:
    tools = dict(a.tools)
    bumps, prompt, model = 0, 1, a.profile.model
    cost = latency = tokens = 1.0
    extra_turns, shift = 0, 0.0
    for when, what, value in a.changes:
        if when > day:
            break
        if what == "model":
            model = value
        elif what == "prompt":
            prompt, tokens = prompt + 1, tokens * value
        elif what == "version":
            bumps += 1
            effect, detail = value
            if effect == "faster":
                latency *= 0.7
            elif effect == "slower":
                latency *= 1.2
            elif effect == "costlier":
                cost *= 1.15
            elif effect == "turn":
                extra_turns += 1
            elif effect == "fix":
                tools[detail] = replace(tools[detail], error_p=tools[detail].error_p / 3)
            elif effect == "new_tool":
                tools[detail[0]] = detail[1]
                shift -= 0.015  # the new tool brings requests the classifier is less sure of
    served = MODELS[model][0]
    plant = a.plant.kind if a.plant is not None and day * DAY_S + START_TS >= a.plant.onset_ts else None
    ramp = min(1.0, (day * DAY_S + START_TS - a.plant.onset_ts) / (2 * DAY_S)) if plant and a.plant else 0.0
    version = f"{3 + bumps // 10}.{bumps % 10}.0"
    if plant == "regression":
        version = f"{4 + bumps}.0.0-rc"
    if plant == "model_drift":
        served += "-r2"
    return _State(
        version, f"v{prompt}" if plant != "prompt_regression" else f"v{prompt}-exp", model, served,
        tools, cost, latency, tokens, extra_turns, shift, plant, ramp,
    )  # fmt: skip


def _hour_weights(a: _Agent, weekend: bool) -> list[float]:
    """Runs per UTC hour, from the tenant's local working pattern."""
    weights = []
    for utc_hour in range(24):
        local = (utc_hour + a.tz) % 24
        if a.profile.schedule == "sessions":
            w = 1.0 if 9 <= local < 19 else (0.25 if 19 <= local < 23 else 0.03)
            w *= 0.6 if local == 12 else 1.0
        elif a.profile.schedule == "anytime":
            w = 1.0
        else:
            w = 1.0 if 8 <= local < 18 else (0.35 if 18 <= local < 22 else 0.06)
        weights.append(w * (0.8 if weekend else 1.0))
    return weights


def _stamps(
    rng: random.Random, a: _Agent, day: int, holiday: bool, start_ts: float, days: int
) -> list[float]:
    base = start_ts + day * DAY_S
    growth = 1 + (a.growth - 1) * day / days
    volume = a.rate * growth * (a.step[1] if day >= a.step[0] else 1.0)
    volume *= min(1.0, (day - a.start_day + 1) / 5)  # rolled out over a few days
    if a.profile.schedule == "cron" and not a.sparse:
        stamps = []
        for hour in range(24):
            if rng.random() < 0.02:
                continue  # a missed scheduler tick
            for i in range(max(1, round(volume * rng.uniform(0.8, 1.2)))):
                stamps.append(base + hour * HOUR_S + 300 + i * 20 + rng.uniform(0, 15))
        return stamps
    weekend = not _weekday(day)
    volume *= (
        (a.profile.weekend if weekend else 1.0) * (0.12 if holiday else 1.0) * rng.lognormvariate(0, 0.15)
    )
    n = _poisson(rng, volume)
    weights = _hour_weights(a, weekend)
    stamps = [base + (rng.choices(range(24), weights)[0] + rng.random()) * HOUR_S for _ in range(n)]
    if not weekend and not a.sparse and rng.random() < 0.06:  # a burst: a campaign, an incident, a sprint
        at = base + rng.uniform(0, 23) * HOUR_S
        stamps += [at + rng.expovariate(1 / 900) for _ in range(_poisson(rng, 0.5 * volume + 8))]
    return stamps


def generate(
    store: Store,
    *,
    seed: int = 1,
    days: int = 42,
    scale: float = 1.0,
    plants: bool = True,
    start_ts: float = START_TS,
    batch: int = 5000,
) -> Truth:
    """Write the history into `store` and return the ground truth. `scale` multiplies traffic."""
    if start_ts != START_TS:
        raise ValueError("the holiday calendar is tied to START_TS")
    rng = random.Random(seed * 104_729 + 3)
    fleet = _fleet(rng, days)
    truth = Truth(start_ts, days, {a.name: (a.tenant, start_ts + a.start_day * DAY_S) for a in fleet})
    truth.legit = _legit_changes(rng, fleet, days)
    for a in fleet:
        a.changes.sort(key=lambda c: c[0])
    if plants:
        truth.plants = _assign_plants(rng, fleet, days, start_ts)
    for a in fleet:
        a.rate *= scale
    revisions: dict[str, list[tuple[float, str]]] = {}
    for tenant in sorted(TENANTS):
        revisions[tenant] = [(rng.uniform(6, days - 6), "2025.10")]
        truth.legit.append(
            f"{tenant}: policy revision 2025.10 (a rule that rarely bites) on day {revisions[tenant][0][0]:.1f}"
        )
    for p in truth.plants:
        if p.kind == "policy_regression":
            revisions[p.tenant].append(((p.onset_ts - start_ts) / DAY_S, "2025.11-strict"))
            revisions[p.tenant].sort()
    storms, slow = _trouble(rng, days)
    truth.legit += [f"retry storm on {t}: day {d:.1f}, {h:.1f} h" for d, h, t in storms]
    truth.legit.append(f"{slow[1]} slow (x2.5) for two hours on day {slow[0]:.1f}")
    pending: list[SpanRow] = []
    for day in range(days):
        for a in fleet:
            if day < a.start_day:
                continue
            holiday = day in TENANTS[a.tenant][1]
            for at in sorted(_stamps(rng, a, day, holiday, start_ts, days)):
                d = (at - start_ts) / DAY_S
                ctx = _Ctx(d, not _weekday(int(d)), storms, slow, _revision(revisions[a.tenant], d))
                pending.extend(_run(rng, a, ctx, start_ts))
                truth.runs += 1
            if len(pending) >= batch:
                truth.spans += store.write_spans(pending)
                pending = []
    if pending:
        truth.spans += store.write_spans(pending)
    return truth


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson count: inversion of the cumulative distribution, a normal approximation when large."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(lam + math.sqrt(lam) * rng.gauss(0, 1)))
    u, k = rng.random(), 0
    p = cdf = math.exp(-lam)
    while u > cdf and k < 200:
        k += 1
        p *= lam / k
        cdf += p
    return k


def _hex(rng: random.Random, chars: int) -> str:
    return rng.randbytes(chars // 2).hex()


def _word(rng: random.Random) -> str:
    return rng.choice(
        ["alpha", "orders", "users", "events", "ledger", "tmp", "metrics", "acct", "q3", "draft"]
    )


class _RunBuilder:
    """Accumulates the spans of one run on its own clock."""

    def __init__(self, rng: random.Random, a: _Agent, st: _State, ctx: _Ctx, start_ts: float) -> None:
        self.rng, self.a, self.st, self.ctx = rng, a, st, ctx
        self.trace, self.root = _hex(rng, 32), _hex(rng, 16)
        self.t = start_ts + ctx.day * DAY_S
        self.rows: list[SpanRow] = []
        self.common: dict[str, Any] = {
            "tenant": a.tenant,
            "agent": a.name,
            "agent_version": st.version,
            "prompt_version": st.prompt,
            "session": f"{a.kind[:3]}-{_hex(rng, 10)}",
            "service": f"{a.kind}-svc",
        }

    def chat(self, in_tok: int, out_tok: int, start_ts: float) -> None:
        rng, st = self.rng, self.st
        _served, p_in, p_out, ms = MODELS[st.request_model]
        ms *= rng.lognormvariate(0, 0.4) * (1 + in_tok / 40_000)
        slow_day, slow_model = self.ctx.slow_model
        if slow_model == st.request_model and slow_day <= (self.t - start_ts) / DAY_S < slow_day + 2 / 24:
            ms *= 2.5
        cost = (in_tok * p_in + out_tok * p_out) * st.cost_mult
        if st.plant == "model_drift":
            ms, cost = ms * self.a.plant_param, cost * self.a.plant_param
        if st.plant == "cost_spike":
            cost *= self.a.plant_param
            out_tok = int(out_tok * self.a.plant_param)
        self.rows.append(
            SpanRow(
                self.trace, _hex(rng, 16), self.root, f"chat {st.request_model}", "client",
                int(self.t * NS), int((self.t + ms / 1000) * NS),
                operation="chat", provider="modelco", request_model=st.request_model,
                response_model=st.served_model, input_tokens=in_tok, output_tokens=out_tok,
                cost_usd=cost, **self.common,
            )
        )  # fmt: skip
        self.t += ms / 1000 + self.rng.uniform(0.01, 0.2)

    def tool(self, name: str, args: str, start_ts: float, force_ok: bool = False) -> bool:
        """One tool call; True when it failed."""
        rng, st, a = self.rng, self.st, self.a
        spec = st.tools[name]
        ms = spec.latency_ms * st.latency_mult * rng.lognormvariate(0, 0.55)
        if rng.random() < 0.015:
            ms *= rng.paretovariate(1.3)  # a stuck dependency now and then
        err = spec.error_p
        if st.plant == "latency_regression" and name == a.plant_tool:
            ms *= a.plant_param
        if st.plant == "error_rate" and name == a.plant_tool:
            err += a.plant_param
        day = (self.t - start_ts) / DAY_S
        for s_day, hours, tool in self.ctx.storms:
            if tool == name and s_day <= day < s_day + hours / 24:
                err = 0.5
        failed = not force_ok and rng.random() < err
        attributes: dict[str, Any] = {
            "gen_ai.tool.call.arguments": args,
            "railguard.policy.revision": self.ctx.revision,
        }
        if name == a.profile.confidence_tool:
            alpha, beta = a.profile.confidence
            score = rng.betavariate(alpha, beta) + st.confidence_shift - (0.02 if self.ctx.weekend else 0.0)
            if st.plant == "confidence_drop":
                score -= a.plant_param * st.ramp
            attributes["railguard.confidence"] = round(max(0.0, min(1.0, score)), 4)
        self.rows.append(
            SpanRow(
                self.trace, _hex(rng, 16), self.root, f"execute_tool {name}", "internal",
                int(self.t * NS), int((self.t + ms / 1000) * NS),
                status="error" if failed else "unset",
                status_message=rng.choice(["503 from upstream", "deadline exceeded", "429 slow down"]) if failed else None,
                error_type="ToolError" if failed else None,
                operation="execute_tool", tool_name=name, tool_call_id=f"call_{_hex(rng, 12)}",
                verdict="allow", decision_id=_hex(rng, 16), attributes=attributes, **self.common,
            )
        )  # fmt: skip
        self.t += ms / 1000
        return failed

    def decision(self, verdict: str, rule: str, tool: str, args: str) -> None:
        self.rows.append(
            SpanRow(
                self.trace, _hex(self.rng, 16), self.root, f"execute_tool {tool}", "internal",
                int(self.t * NS), int(self.t * NS) + 3000,
                operation="execute_tool", tool_name=tool, verdict=verdict, rules=rule,
                decision_id=_hex(self.rng, 16),
                attributes={"gen_ai.tool.call.arguments": args, "railguard.policy.revision": self.ctx.revision},
                **self.common,
            )
        )  # fmt: skip
        self.t += 0.003

    def finish(self, start: float, failed: bool, why: str) -> list[SpanRow]:
        self.rows.append(
            SpanRow(
                self.trace, self.root, None, f"invoke_agent {self.a.name}", "internal",
                int(start * NS), int(self.t * NS) + 1,
                status="error" if failed else "unset", status_message=why if failed else None,
                operation="invoke_agent", **self.common,
            )
        )  # fmt: skip
        return self.rows


def _args(rng: random.Random, a: _Agent, tool: str) -> str:
    return json.dumps({"tool": tool, "ref": f"{a.kind[:2]}-{_hex(rng, 8)}", "n": rng.randint(1, 50)})


def _run(rng: random.Random, a: _Agent, ctx: _Ctx, start_ts: float) -> list[SpanRow]:
    st = _state(a, ctx.day)
    prof, k = a.profile, a.plant_param
    b = _RunBuilder(rng, a, st, ctx, start_ts)
    start = b.t
    local_hour = int((ctx.day % 1) * 24 + a.tz) % 24
    heavy = 1.0
    if prof.schedule == "cron" and local_hour == 2:
        heavy = 3.0  # the nightly full job
        if int(ctx.day) % 7 == 6:
            heavy = 6.0  # the weekly refresh
    lo, hi = prof.turns
    turns = rng.randint(lo, hi) + st.extra_turns + (2 if heavy > 1 else 0)
    # multi-tenant work: the share of a heavy customer's jobs grows over the history
    if prof.schedule == "cron" and rng.random() < 0.1 + 0.25 * ctx.day / 42:
        heavy *= 1.6
    tokens = prof.base_tokens * heavy * st.tokens_mult * rng.lognormvariate(0, 0.3)
    growth = prof.context_growth * st.tokens_mult
    if st.plant == "token_bloat":
        growth *= 1 + (k - 1) * st.ramp
    names = sorted(st.tools)
    weights = [st.tools[t].weight for t in names]
    looped = st.plant == "loop" and rng.random() < k
    failed = rng.random() < prof.fail_p
    why = "gave up"
    for turn in range(turns):
        out_tok = int(rng.lognormvariate(math.log(prof.output_tokens), 0.5)) + 8
        b.chat(int(tokens), out_tok, start_ts)
        page = rng.paretovariate(1.8) if a.kind == "research" else 1.0  # some pages are huge
        tokens += growth * rng.uniform(0.6, 1.4) * page
        tool = rng.choices(names, weights)[0]
        args = _args(rng, a, tool)
        if looped and turn == 1:
            repeats = rng.randint(5, 7) if k < 0.2 else rng.randint(10, 15)
            for _ in range(repeats):
                b.tool(tool, args, start_ts, force_ok=True)
            continue
        attempts = 0
        while b.tool(tool, args, start_ts):  # retry a failed call with the same arguments
            attempts += 1
            if attempts > 3 or rng.random() < 0.25:
                failed, why = True, f"{tool} kept failing"
                break
        if a.polls and tool == "load_table":
            for _ in range(min(6, 1 + int(rng.expovariate(0.9)))):  # wait for the load job
                b.tool("get_job_status", json.dumps({"job": args[-12:]}), start_ts, force_ok=True)
    _violations(rng, a, st, ctx, b)
    if st.plant in ("regression", "prompt_regression") and rng.random() < k:
        failed, why = True, "answer rejected by validator"
    return b.finish(start, failed, why)


def _violations(rng: random.Random, a: _Agent, st: _State, ctx: _Ctx, b: _RunBuilder) -> None:
    """Blocks and asks: the plants, refunds that always ask, and stray blocks of varied shapes."""
    k = a.plant_param
    if st.plant == "violation_cluster" and rng.random() < k:
        rule, tool, template = CLUSTER_CALL[a.kind]
        b.decision(
            "block",
            rule,
            tool,
            template.format(w=_word(rng) + str(rng.randint(1, 99)), n=rng.randint(1, 9999)),
        )
    strict = ctx.revision == "2025.11-strict" and a.plant is not None and a.plant.kind == "policy_regression"
    if strict and rng.random() < k:
        b.decision("block", "egress/allowlist-v2", a.plant_tool, _args(rng, a, a.plant_tool))
    if a.kind == "support" and rng.random() < 0.05:  # refunds over the limit always ask a human
        b.decision("ask", "refunds/over-100", "issue_refund", json.dumps({"amount": rng.randint(101, 900)}))
    if ctx.revision >= "2025.10" and rng.random() < 0.002:  # the revision's new rule, rarely
        b.decision(
            "block", "net/new-domain", "call_api", json.dumps({"url": f"https://{_hex(rng, 6)}.example"})
        )
    if rng.random() < 0.004:
        rule, tool, template = rng.choice(STRAY_BLOCKS)
        b.decision("block", rule, tool, template.format(w=_word(rng), n=rng.randint(1, 99)))


__all__ = ["DAY_S", "KIND_WORDS", "PLANT_KINDS", "Plant", "Truth", "generate"]
