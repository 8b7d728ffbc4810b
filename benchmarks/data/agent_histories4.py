"""A fourth, independent generator of agent history for the diagnosis benchmark (seeded, deterministic).

Written before reading the detectors, with agents and nuisance the second and third histories lack:

- multi-agent orchestrations: planners that fan a task out to sub-agents (a searcher, a writer, a critic
  with a confidence score). One family nests the sub-agent's run inside the planner's trace, the other
  runs it in a trace of its own (a remote agent). A sub-agent's failure shows through its parent: the
  parent's `delegate` call fails, is retried once, and the parent's run may fail with it;
- voice agents: many short calls of many tiny turns to a realtime model, a speech recognizer scoring
  each turn's confidence;
- batch evaluation jobs: a nightly run that grades hundreds to thousands of cases, repeating the same
  grading call with the same arguments every time (a larger suite on Sundays, a crashed job re-run);
- dormant agents: near zero traffic for days, then a campaign burst of hundreds of runs in a few hours;
- ordinary assistants and ops agents, some of whose tool catalogues are renamed on a deploy day
  (`search` becomes `web.search`: the same tool under a new name);
- nuisance across the tenant or the whole fleet, which is nobody's failure: a model gateway outage hitting
  every agent at once (calls fail or time out, agents retry), a slow provider region, price changes (a
  tenant's negotiated discount, a list-price rise of one model), daylight-saving shifts of the tenants'
  working hours (one half-hour time zone without them), ingest outages that lose every span ending in a
  window of hours (leaving partial runs), spans stored twice by an exporter that retried, very
  long-tailed tool latency;
- legitimate changes: agent versions (slightly slower or costlier), prompt versions (+-10% tokens),
  request-model switches, tenant policy revisions, a new agent joining mid-history;
- planted failures of every kind diagnosis claims, twice per kind per seed, at a small, moderate or
  large magnitude (rotating over kinds and seeds), with step onsets and gradual ones (a ramp over one to
  two and a half days; a canary rollout for version, prompt and served-model changes), some starting on
  a weekend and some during a dormant agent's burst; sub-agents among the planted. Ground truth
  (kind, agent, onset, magnitude and how it starts) is recorded; a ramp's onset is where it starts.

    from benchmarks.data.agent_histories4 import generate
    truth = generate(store, seed=1)            # truth.plants, truth.clean_agents(), truth.agent_weeks()

The interface (Plant, Truth, PLANT_KINDS, KIND_WORDS, generate) matches the second and third generators'.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from railguard.store import SpanRow, Store

DAY_S = 86_400
HOUR_S = 3_600
NS = 1_000_000_000
START_TS = 1_740_960_000.0  # 2025-03-03 00:00 UTC, a Monday (both daylight-saving changes fall inside)
PLANT_KINDS = (
    "loop",
    "cost_spike",
    "token_bloat",
    "latency_regression",
    "error_rate",
    "model_drift",
    "regression",
    "prompt_regression",
    "policy_regression",
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
# request model -> (provider, served snapshot, $ per input token, $ per output token, median ms per call)
MODELS = {
    "aur-mini": ("aurora", "aur-mini-2501", 0.2e-6, 0.8e-6, 450.0),
    "aur-pro": ("aurora", "aur-pro-2412", 2.5e-6, 10e-6, 1400.0),
    "aur-rt": ("aurora", "aur-rt-2502", 0.6e-6, 2.4e-6, 180.0),
    "nw-fast": ("northwind", "nw-fast-7", 0.3e-6, 1.2e-6, 600.0),
    "nw-large": ("northwind", "nw-large-3", 4.0e-6, 16e-6, 2100.0),
}
# tenant -> (UTC offset in hours before its daylight-saving day, after it, that day or None)
TENANTS = {
    "harbor": (-5.0, -4.0, 6.3),  # US: clocks go forward on day 6 (Sunday 9 March)
    "meridian": (1.0, 2.0, 27.1),  # Europe: forward on day 27 (Sunday 30 March)
    "lotus": (5.5, 5.5, None),  # a half-hour zone without daylight saving
}
STRENGTHS = ("small", "moderate", "large")
# kind -> strength -> (parameter, description)
MAGNITUDE: dict[str, dict[str, tuple[float, str]]] = {
    "loop": {"small": (0.05, "5% of runs repeat one call 4-6 times"),
             "moderate": (0.12, "12% of runs repeat one call 6-9 times"),
             "large": (0.3, "30% of runs repeat one call 10-15 times")},
    "cost_spike": {"small": (1.4, "cost per call x1.4"), "moderate": (2.0, "cost per call x2"),
                   "large": (4.0, "cost per call x4")},
    "token_bloat": {"small": (1.8, "input tokens per call x1.8"), "moderate": (3.0, "input tokens per call x3"),
                    "large": (6.0, "input tokens per call x6")},
    "latency_regression": {"small": (1.6, "one tool x1.6 slower"), "moderate": (2.5, "one tool x2.5 slower"),
                           "large": (6.0, "one tool x6 slower")},
    "error_rate": {"small": (0.05, "one tool's error rate +5 points"),
                   "moderate": (0.12, "one tool's error rate +12 points"),
                   "large": (0.35, "one tool's error rate +35 points")},
    "model_drift": {"small": (1.15, "served snapshot changes, cost and latency x1.15"),
                    "moderate": (1.4, "served snapshot changes, cost and latency x1.4"),
                    "large": (2.0, "served snapshot changes, cost and latency x2")},
    "regression": {"small": (0.05, "new agent version, runs fail +5 points"),
                   "moderate": (0.12, "new agent version, runs fail +12 points"),
                   "large": (0.35, "new agent version, runs fail +35 points")},
    "prompt_regression": {"small": (0.05, "new prompt version, runs fail +5 points"),
                          "moderate": (0.12, "new prompt version, runs fail +12 points"),
                          "large": (0.35, "new prompt version, runs fail +35 points")},
    "policy_regression": {"small": (0.04, "new tenant policy revision blocks 4% of this agent's runs"),
                          "moderate": (0.1, "new tenant policy revision blocks 10% of this agent's runs"),
                          "large": (0.3, "new tenant policy revision blocks 30% of this agent's runs")},
    "confidence_drop": {"small": (0.06, "confidence -0.06"), "moderate": (0.12, "confidence -0.12"),
                        "large": (0.3, "confidence -0.30")},
    "violation_cluster": {"small": (0.03, "3% of runs blocked by one rule on one call shape"),
                          "moderate": (0.08, "8% of runs blocked by one rule on one call shape"),
                          "large": (0.25, "25% of runs blocked by one rule on one call shape")},
}  # fmt: skip
RENAMES = {"search": "web.search", "read_doc": "docs.read", "k8s_get": "kube.get", "k8s_logs": "kube.logs"}


@dataclass(frozen=True, slots=True)
class Plant:
    kind: str  # one of PLANT_KINDS
    agent: str
    tenant: str
    onset_ts: float
    magnitude: str  # "small: ...", "moderate: ..." or "large: ...", then how it starts

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
    legit: list[str] = field(default_factory=list)  # legitimate changes and fleet-wide trouble
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
    latency_ms: float
    error_p: float
    weight: float = 1.0


@dataclass
class _Agent:
    name: str
    tenant: str
    kind: str  # assistant, ops, voice, eval, dormant, planner, searcher, writer, critic
    model: str
    tools: dict[str, Tool]
    rate: float  # runs per weekday at the base level
    turns: tuple[int, int]
    in_tokens: float
    growth: float  # input tokens added per turn
    out_tokens: float
    fail_p: float
    confidence_tool: str | None = None
    confidence: tuple[float, float] = (12.0, 3.0)
    start_day: float = 0.0
    parent: str | None = None  # a sub-agent's planner
    nested: bool = True  # a sub-agent's run inside the planner's trace, else a trace of its own
    subs: list[_Agent] = field(default_factory=list)
    changes: list[tuple[float, str, Any]] = field(default_factory=list)  # (day, what, value)
    bursts: list[tuple[float, float, int]] = field(default_factory=list)  # (day, hours, runs)
    plant: Plant | None = None
    plant_day: float = 0.0
    plant_param: float = 0.0
    plant_tool: str = ""
    ramp_days: float = 0.0


def _tools(*specs: tuple[str, float, float, float]) -> dict[str, Tool]:
    return {name: Tool(ms, err, w) for name, ms, err, w in specs}


def _fleet(rng: random.Random, days: int) -> list[_Agent]:
    tenants = sorted(TENANTS)
    fleet: list[_Agent] = []
    n = 0

    def name(kind: str, tenant: str) -> str:
        nonlocal n
        n += 1
        return f"{tenant[:3]}-{kind}-{n:02d}"

    for i in range(12):
        t = tenants[i % 3]
        ops = i % 3 == 1
        tools = (
            _tools(("k8s_get", 300, 0.01, 3), ("k8s_logs", 900, 0.02, 2), ("pager_ack", 200, 0.005, 1))
            if ops
            else _tools(("search", 700, 0.02, 3), ("read_doc", 250, 0.01, 2), ("write_note", 150, 0.005, 1))
        )
        fleet.append(_Agent(
            name("ops" if ops else "assistant", t), t, "ops" if ops else "assistant",
            rng.choice(["aur-mini", "aur-pro", "nw-fast"]), tools, rng.uniform(8, 30), (2, 6),
            rng.uniform(1500, 4000), rng.uniform(300, 900), rng.uniform(150, 400), rng.uniform(0.02, 0.06),
            confidence_tool="read_doc" if i % 4 == 0 else None, confidence=(rng.uniform(8, 16), 3.0),
        ))  # fmt: skip
    for i in range(4):
        t = tenants[i % 3]
        fleet.append(_Agent(
            name("voice", t), t, "voice", "aur-rt",
            _tools(("asr", 120, 0.003, 0), ("lookup_account", 350, 0.01, 3), ("transfer_call", 500, 0.02, 1)),
            rng.uniform(20, 35), (8, 30), 300, 45, 25, 0.03, confidence_tool="asr",
            confidence=(rng.uniform(14, 24), 2.0),
        ))  # fmt: skip
    for i in range(2):
        t = tenants[i % 3]
        fleet.append(_Agent(
            name("eval", t), t, "eval", rng.choice(["aur-mini", "nw-fast"]),
            _tools(("load_case", 40, 0.001, 1), ("grade", 90, 0.002, 1)), 1.0,
            (rng.randint(200, 400), rng.randint(500, 700)), 900, 0, 60, 0.02,
        ))  # fmt: skip
    for i in range(6):
        t = tenants[(i + 1) % 3]
        fleet.append(_Agent(
            name("dormant", t), t, "dormant", rng.choice(["aur-mini", "nw-fast"]),
            _tools(("send_offer", 400, 0.02, 2), ("crm_lookup", 300, 0.01, 3)), rng.uniform(0.2, 1.5),
            (2, 5), rng.uniform(1000, 2500), 300, 200, 0.03,
        ))  # fmt: skip
    for i in range(4):
        t = tenants[i % 3]
        planner = _Agent(
            name("planner", t), t, "planner", "aur-pro", _tools(("delegate", 0, 0.0, 1)), rng.uniform(10, 22),
            (1, 2), 2500, 1200, 400, 0.02, nested=i % 2 == 0,
        )  # fmt: skip
        sub_specs = (
            ("searcher", "nw-fast", _tools(("web_fetch", 800, 0.03, 3), ("search", 600, 0.02, 2)), None),
            ("writer", "aur-mini", _tools(("outline", 200, 0.005, 1), ("cite_check", 400, 0.01, 1)), None),
            ("critic", "aur-mini", _tools(("score_draft", 250, 0.005, 1)), "score_draft"),
        )
        for kind, model, tools, conf in sub_specs:
            sub = _Agent(
                name(kind, t), t, kind, model, tools, 0.0, (1, 4), 1800, 500, 250, 0.02, conf,
                (rng.uniform(9, 14), 3.0), parent=planner.name, nested=planner.nested,
            )  # fmt: skip
            planner.subs.append(sub)
            fleet.append(sub)
        fleet.append(planner)
    late = rng.choice([a for a in fleet if a.kind in ("assistant", "ops")])
    late.start_day = rng.uniform(8, 14)
    return fleet


def _legit_changes(rng: random.Random, fleet: list[_Agent], days: int) -> list[str]:
    notes = []
    for a in fleet:
        if a.kind in ("voice", "eval") and rng.random() < 0.5:
            continue
        what = rng.choice(["version", "version", "prompt", "model", "rename", "none"])
        day = rng.uniform(5, days - 5)
        if what == "version":
            mult = rng.choice([0.85, 1.0, 1.15, 1.25])
            a.changes.append((day, "version", ("2.0", mult)))
            notes.append(f"{a.name}: version 2.0 on day {day:.1f} (latency and cost x{mult})")
        elif what == "prompt":
            mult = rng.choice([0.9, 1.1])
            a.changes.append((day, "prompt", ("p-b", mult)))
            notes.append(f"{a.name}: prompt p-b on day {day:.1f} (tokens x{mult})")
        elif what == "model" and a.model != "aur-rt":
            new = {"aur-mini": "nw-fast", "nw-fast": "aur-mini", "aur-pro": "nw-large", "nw-large": "aur-pro"}
            a.changes.append((day, "model", new[a.model]))
            notes.append(f"{a.name}: request model {a.model} -> {new[a.model]} on day {day:.1f}")
        elif what == "rename" and set(a.tools) & set(RENAMES):
            a.changes.append((day, "rename", None))
            notes.append(f"{a.name}: tools renamed on day {day:.1f}")
    for a in fleet:
        if a.kind == "dormant":
            for _ in range(rng.randint(2, 4)):
                a.bursts.append((float(rng.randint(3, days - 2)), rng.uniform(2, 6), rng.randint(120, 400)))
            a.bursts.sort()
            notes.append(f"{a.name}: bursts on days {[round(b[0]) for b in a.bursts]}")
    return notes


def _eligible(a: _Agent, kind: str) -> bool:
    if a.plant is not None or a.kind == "eval" or a.start_day > 0:
        return False
    if kind == "confidence_drop":
        return a.confidence_tool is not None
    if kind in ("loop", "latency_regression", "error_rate", "violation_cluster", "policy_regression"):
        return a.kind != "planner"
    return True


def _assign_plants(rng: random.Random, fleet: list[_Agent], days: int, seed: int) -> list[Plant]:
    plants = []
    for slot in range(2):
        for i, kind in enumerate(PLANT_KINDS):
            strength = STRENGTHS[(i + slot + seed) % 3]
            param, text = MAGNITUDE[kind][strength]
            pool = [a for a in fleet if _eligible(a, kind)]
            subs = [a for a in pool if a.parent]
            dormant = [a for a in pool if a.kind == "dormant" and a.bursts and a.bursts[-1][0] >= 12]
            style = rng.choice(["step", "step", "weekend", "ramp"])
            if kind == "policy_regression" and style == "ramp":
                style = "step"  # a policy revision takes effect at once
            if (i + slot) % 5 == 0 and subs:
                a = rng.choice(subs)
            elif (i + slot) % 7 == 3 and dormant:
                a = rng.choice(dormant)
            else:
                a = rng.choice([a for a in pool if not a.parent and a.kind != "dormant"] or pool)
            if a.kind == "dormant" and a.bursts and a.bursts[-1][0] >= 12:
                day, _hours, _runs = a.bursts[-1]
                day += rng.uniform(0.05, 0.1)
                style = "burst"
                a.rate = max(a.rate, 1.0)
            elif style == "weekend":
                day = 7 * rng.randint(2, days // 7 - 2) + 5 + rng.uniform(0, 1.5)
            else:
                day = rng.uniform(12, days - 8)
            if style == "ramp":
                a.ramp_days = rng.uniform(1.0, 2.5)
                how = (
                    "canary rollout" if kind in ("regression", "prompt_regression", "model_drift") else "ramp"
                ) + f" over {a.ramp_days:.1f} days"
            else:
                how = {"burst": "during a burst", "weekend": "step on a weekend"}.get(style, "step")
            a.plant_day, a.plant_param = day, param
            tools = sorted(t for t in a.tools if a.tools[t].weight > 0) or sorted(a.tools)
            a.plant_tool = rng.choice(tools)
            a.plant = Plant(kind, a.name, a.tenant, START_TS + day * DAY_S, f"{strength}: {text}, {how}")
            plants.append(a.plant)
    return plants


def _utc_offset(tenant: str, day: float) -> float:
    before, after, change = TENANTS[tenant]
    return after if change is not None and day >= change else before


def _hour_weight(a: _Agent, local_hour: float, weekend: bool) -> float:
    if a.kind == "voice":
        base = 1.0 if 8 <= local_hour < 20 else 0.05
        return base * (0.5 if weekend else 1.0)
    if a.kind in ("ops",):
        return (1.0 if 7 <= local_hour < 22 else 0.35) * (0.7 if weekend else 1.0)
    base = 1.0 if 9 <= local_hour < 18 else 0.12
    return base * (0.3 if weekend else 1.0)


def _stamps(rng: random.Random, a: _Agent, day: int, days: int) -> list[float]:
    """Start times (in days from START_TS) of the agent's top-level runs on a UTC day."""
    if day < a.start_day or a.parent:
        return []
    if a.kind == "eval":
        local_one_am = (1.0 - _utc_offset(a.tenant, day)) / 24 % 1.0
        runs = [day + local_one_am + rng.uniform(0, 0.01)]
        if rng.random() < 0.05:  # the job crashed and was re-run
            runs.append(runs[0] + rng.uniform(0.1, 0.2))
        return runs
    offset = _utc_offset(a.tenant, day)
    growth = 1 + 0.3 * day / days
    out = []
    for h in range(24):
        local = (h + offset) % 24
        local_day = day + (h + offset) / 24
        weekend = int(local_day) % 7 >= 5
        lam = a.rate * growth * _hour_weight(a, local, weekend) / 10
        out += [day + (h + rng.random()) / 24 for _ in range(_poisson(rng, lam))]
    for b_day, hours, runs in a.bursts:
        if int(b_day) == day:
            out += [b_day + rng.uniform(0, hours / 24) for _ in range(runs)]
    return [d for d in out if d >= a.start_day]


def _poisson(rng: random.Random, lam: float) -> int:
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


@dataclass
class _World:
    """Fleet-wide conditions: provider trouble, prices, policy revisions."""

    outage: tuple[float, float]  # (day, hours): the model gateway fails most calls of every provider
    slow_region: tuple[float, float]  # (day, hours): northwind calls x2.5 slower
    discount: tuple[str, float]  # (tenant, day): a negotiated price x0.7 from then on
    list_rise: float  # day aur-pro output tokens cost x1.25
    revisions: dict[str, list[tuple[float, str]]]  # tenant -> [(day, revision)]

    def revision(self, tenant: str, day: float) -> str:
        current = "r1"
        for d, rev in self.revisions[tenant]:
            if day >= d:
                current = rev
        return current


@dataclass
class _RunState:
    """What an agent runs with at one moment, after legitimate changes and its plant."""

    version: str = "1.0"
    prompt: str = "p-a"
    model: str = ""
    served: str = ""
    renamed: bool = False
    mult: float = 1.0  # latency and cost of the version
    tokens: float = 1.0
    level: float = 0.0  # the plant's strength now: 0 before onset, ramping to 1
    canary: bool = False  # this run is on the plant's new version, prompt or served snapshot


def _state(rng: random.Random, a: _Agent, day: float) -> _RunState:
    st = _RunState(model=a.model)
    for d, what, value in a.changes:
        if day < d:
            break
        if what == "version":
            st.version, st.mult = value[0], value[1]
        elif what == "prompt":
            st.prompt, st.tokens = value[0], value[1]
        elif what == "model":
            st.model = value
        elif what == "rename":
            st.renamed = True
    st.served = MODELS[st.model][1]
    if a.plant is not None and day >= a.plant_day:
        ramp = 1.0 if a.ramp_days <= 0 else min(1.0, (day - a.plant_day) / a.ramp_days)
        kind = a.plant.kind
        if kind in ("regression", "prompt_regression", "model_drift"):
            st.canary = rng.random() < max(ramp, 0.1)
            st.level = 1.0 if st.canary else 0.0
            if st.canary and kind == "regression":
                st.version = "3.0-rc"
            elif st.canary and kind == "prompt_regression":
                st.prompt = "p-new"
            elif st.canary:
                st.served = st.served + "-next"
        else:
            st.level = ramp
    return st


class _Run:
    """Builds one run's spans on its own clock; a sub-agent's run may nest under a parent span."""

    def __init__(
        self, rng: random.Random, w: _World, a: _Agent, t: float, trace: str | None = None,
        parent_span: str | None = None, session: str | None = None,
    ) -> None:  # fmt: skip
        self.rng, self.w, self.a = rng, w, a
        self.day = (t - START_TS) / DAY_S
        self.st = _state(rng, a, self.day)
        self.trace = trace or _hex(rng, 32)
        self.root, self.parent_span = _hex(rng, 16), parent_span
        self.start = self.t = t
        self.rows: list[SpanRow] = []
        self.common: dict[str, Any] = {
            "tenant": a.tenant,
            "agent": a.name,
            "agent_version": self.st.version,
            "prompt_version": self.st.prompt,
            "session": session or f"s-{_hex(rng, 12)}",
            "service": f"{a.kind}-svc",
        }

    def _plant(self, kind: str) -> float:
        p = self.a.plant
        return self.st.level if p is not None and p.kind == kind else 0.0

    def price(self, in_tok: int, out_tok: int) -> tuple[float, str]:
        _prov, _served, p_in, p_out, _ms = MODELS[self.st.model]
        version = "list-1"
        if self.st.model == "aur-pro" and self.day >= self.w.list_rise:
            p_out, version = p_out * 1.25, "list-2"
        tenant, day = self.w.discount
        if self.a.tenant == tenant and self.day >= day:
            p_in, p_out, version = p_in * 0.7, p_out * 0.7, version + "-neg"
        return in_tok * p_in + out_tok * p_out, version

    def chat(self, in_tok: int, out_tok: int) -> bool:
        """One model call, retried twice through a provider outage; True when it finally failed."""
        rng, st = self.rng, self.st
        provider, _served, _pi, _po, ms = MODELS[st.model]
        in_tok = int(in_tok * st.tokens)
        if self._plant("token_bloat"):
            in_tok = int(in_tok * (1 + (self.a.plant_param - 1) * self._plant("token_bloat")))
        for _attempt in range(3):
            d = (self.t - START_TS) / DAY_S
            lat = ms * st.mult * rng.lognormvariate(0, 0.35) * (1 + in_tok / 60_000)
            o_day, o_hours = self.w.outage
            down = o_day <= d < o_day + o_hours / 24 and rng.random() < 0.7  # the shared gateway
            s_day, s_hours = self.w.slow_region
            if provider == "northwind" and s_day <= d < s_day + s_hours / 24:
                lat *= 2.5
            cost, version = self.price(in_tok, out_tok)
            cost *= st.mult
            if st.canary and self.a.plant is not None and self.a.plant.kind == "model_drift":
                lat, cost = lat * self.a.plant_param, cost * self.a.plant_param
            if self._plant("cost_spike"):
                cost *= 1 + (self.a.plant_param - 1) * self._plant("cost_spike")
            if down:
                lat = rng.choice([300.0, 30_000.0])  # refused at once, or timed out
            self.rows.append(
                SpanRow(
                    self.trace, _hex(rng, 16), self.root, f"chat {st.model}", "client",
                    int(self.t * NS), int((self.t + lat / 1000) * NS),
                    status="error" if down else "unset",
                    status_message="503 upstream unavailable" if down else None,
                    error_type="ProviderError" if down else None,
                    operation="chat", provider=provider, request_model=st.model, response_model=st.served,
                    input_tokens=in_tok, output_tokens=0 if down else out_tok,
                    cost_usd=0.0 if down else cost, price_version=version, **self.common,
                )
            )  # fmt: skip
            self.t += lat / 1000 + rng.uniform(0.01, 0.1)
            if not down:
                return False
            self.t += rng.uniform(0.5, 3.0)  # back off before retrying
        return True

    def tool_name(self, name: str) -> str:
        return RENAMES.get(name, name) if self.st.renamed else name

    def tool(self, name: str, args: str, force_ok: bool = False) -> bool:
        rng, a = self.rng, self.a
        spec = a.tools[name]
        ms = spec.latency_ms * self.st.mult * rng.lognormvariate(0, 0.8)
        if rng.random() < 0.03:
            ms *= rng.paretovariate(1.1)  # a very long tail: a stuck dependency
        err = spec.error_p
        if name == a.plant_tool:
            ms *= 1 + (a.plant_param - 1) * self._plant("latency_regression")
            err += a.plant_param * self._plant("error_rate")
        failed = not force_ok and rng.random() < err
        attributes: dict[str, Any] = {
            "gen_ai.tool.call.arguments": args,
            "railguard.policy.revision": self.w.revision(a.tenant, self.day),
        }
        if name == a.confidence_tool:
            alpha, beta = a.confidence
            score = rng.betavariate(alpha, beta) - a.plant_param * self._plant("confidence_drop")
            attributes["railguard.confidence"] = round(max(0.0, min(1.0, score)), 4)
        self.span(name, ms, failed, attributes)
        return failed

    def span(self, name: str, ms: float, failed: bool, attributes: dict[str, Any], why: str = "") -> str:
        sid = _hex(self.rng, 16)
        shown = self.tool_name(name)
        self.rows.append(
            SpanRow(
                self.trace, sid, self.root, f"execute_tool {shown}", "internal",
                int(self.t * NS), int((self.t + ms / 1000) * NS),
                status="error" if failed else "unset",
                status_message=(why or self.rng.choice(["502 bad gateway", "timeout", "429 rate limited"]))
                if failed else None,
                error_type="ToolError" if failed else None,
                operation="execute_tool", tool_name=shown, tool_call_id=f"call_{_hex(self.rng, 12)}",
                verdict="allow", decision_id=_hex(self.rng, 16), attributes=attributes, **self.common,
            )
        )  # fmt: skip
        self.t += ms / 1000
        return sid

    def decision(self, verdict: str, rule: str, tool: str, args: str) -> None:
        self.rows.append(
            SpanRow(
                self.trace, _hex(self.rng, 16), self.root, f"execute_tool {tool}", "internal",
                int(self.t * NS), int(self.t * NS) + 2000,
                operation="execute_tool", tool_name=tool, verdict=verdict, rules=rule,
                decision_id=_hex(self.rng, 16),
                attributes={"gen_ai.tool.call.arguments": args,
                            "railguard.policy.revision": self.w.revision(self.a.tenant, self.day)},
                **self.common,
            )
        )  # fmt: skip
        self.t += 0.002

    def finish(self, failed: bool, why: str) -> list[SpanRow]:
        self.rows.append(
            SpanRow(
                self.trace, self.root, self.parent_span, f"invoke_agent {self.a.name}", "internal",
                int(self.start * NS), int(self.t * NS) + 1,
                status="error" if failed else "unset", status_message=why if failed else None,
                operation="invoke_agent", **self.common,
            )
        )  # fmt: skip
        return self.rows


def _args(rng: random.Random, tool: str) -> str:
    return json.dumps({"q": f"{tool}-{_hex(rng, 8)}", "n": rng.randint(1, 40)})


def _agent_run(
    rng: random.Random, w: _World, a: _Agent, t: float, out: list[SpanRow],
    trace: str | None = None, parent_span: str | None = None, session: str | None = None,
) -> tuple[bool, float]:  # fmt: skip
    """Write one run (and its sub-agents' runs) to `out`; returns (failed, end time)."""
    if a.kind == "eval":
        return _eval_run(rng, w, a, t, out)
    r = _Run(rng, w, a, t, trace, parent_span, session)
    lo, hi = a.turns
    turns = rng.randint(lo, hi)
    tokens = a.in_tokens * rng.lognormvariate(0, 0.3)
    looped = rng.random() < a.plant_param * r._plant("loop")
    failed, why = rng.random() < a.fail_p, "gave up"
    names = sorted(t for t in a.tools if a.tools[t].weight > 0)
    weights = [a.tools[t].weight for t in names]
    for turn in range(turns):
        if a.kind == "voice":
            r.tool("asr", json.dumps({"turn": turn}), force_ok=True)
        out_tok = int(rng.lognormvariate(math.log(a.out_tokens), 0.5)) + 4
        if r.chat(int(tokens), out_tok):
            failed, why = True, "model provider unavailable"
            break
        tokens += a.growth * rng.uniform(0.5, 1.5)
        if a.kind == "voice" and rng.random() > 0.15:
            continue  # most voice turns only talk
        if a.kind == "planner":
            failed_sub, why_sub = _delegate(rng, w, a, r, out)
            if failed_sub:
                failed, why = True, why_sub
            continue
        tool = rng.choices(names, weights)[0]
        args = _args(rng, tool)
        if looped and turn == 0:
            p = a.plant_param
            for _ in range(
                rng.randint(4, 6) if p < 0.1 else rng.randint(6, 9) if p < 0.2 else rng.randint(10, 15)
            ):
                r.tool(tool, args, force_ok=True)
            continue
        attempts = 0
        while r.tool(tool, args):
            attempts += 1
            if attempts > 2 or rng.random() < 0.3:
                failed, why = True, f"{r.tool_name(tool)} kept failing"
                break
    _violations(rng, a, r)
    regressed = r.st.canary and a.plant is not None and a.plant.kind in ("regression", "prompt_regression")
    if regressed and rng.random() < a.plant_param:
        failed, why = True, "output failed schema validation"
    out.extend(r.finish(failed, why))
    return failed, r.t


def _delegate(rng: random.Random, w: _World, a: _Agent, r: _Run, out: list[SpanRow]) -> tuple[bool, str]:
    """Fan out to one or two sub-agents; a failed sub-agent's call is retried once."""
    for sub in rng.sample(a.subs, rng.randint(1, 2)):
        for attempt in range(2):
            sid = _hex(rng, 16)
            t0 = r.t
            if sub.nested:
                failed, end = _agent_run(rng, w, sub, t0 + 0.005, out, r.trace, sid, r.common["session"])
            else:
                failed, end = _agent_run(rng, w, sub, t0 + 0.05, out, None, None, r.common["session"])
            why = f"sub-agent {sub.name} failed" if failed else ""
            r.rows.append(
                SpanRow(
                    r.trace, sid, r.root, "execute_tool delegate", "internal",
                    int(t0 * NS), int((end + 0.01) * NS),
                    status="error" if failed else "unset", status_message=why or None,
                    error_type="DelegateError" if failed else None,
                    operation="execute_tool", tool_name="delegate", tool_call_id=f"call_{_hex(rng, 12)}",
                    verdict="allow", decision_id=_hex(rng, 16),
                    attributes={"gen_ai.tool.call.arguments": json.dumps({"to": sub.name, "attempt": attempt}),
                                "railguard.policy.revision": w.revision(a.tenant, r.day)},
                    **r.common,
                )
            )  # fmt: skip
            r.t = end + 0.02
            if not failed:
                break
        else:
            if rng.random() < 0.6:
                return True, f"sub-agent {sub.name} kept failing"
    return False, ""


def _eval_run(rng: random.Random, w: _World, a: _Agent, t: float, out: list[SpanRow]) -> tuple[bool, float]:
    """A batch evaluation: every case loads and is graded with the same call."""
    r = _Run(rng, w, a, t)
    lo, hi = a.turns
    day = int((t - START_TS) / DAY_S)
    cases = rng.randint(lo, hi) * (3 if day % 7 == 6 else 1)
    suite = "core-v4" if day % 7 != 6 else "full-v4"
    grade_args = json.dumps({"suite": suite, "rubric": "exact-match"})
    failed = False
    for case in range(cases):
        r.tool("load_case", json.dumps({"suite": suite, "case": case}), force_ok=True)
        if r.chat(int(a.in_tokens * rng.lognormvariate(0, 0.2)), int(rng.lognormvariate(math.log(60), 0.4))):
            failed = True
            break
        r.tool("grade", grade_args, force_ok=True)
    why = "model provider unavailable" if failed else ""
    out.extend(r.finish(failed, why))
    return failed, r.t


# the rule and call a violation cluster repeats, per kind of agent: (rule, tool, argument template)
CLUSTER = {
    "assistant": ("pii/bulk-export", "write_note", '{{"export": "all-contacts", "to": "{w}@mail.example"}}'),
    "ops": ("k8s/no-delete-ns", "k8s_get", '{{"cmd": "kubectl delete ns {w}-{n}"}}'),
    "voice": ("voice/no-card-readback", "lookup_account", '{{"read_back": "card", "acct": "{n}"}}'),
    "dormant": ("mail/no-bulk-send", "send_offer", '{{"recipients": {n}, "list": "{w}"}}'),
    "searcher": ("net/paywall", "web_fetch", '{{"url": "https://paper{n}.example/{w}.pdf"}}'),
    "writer": ("content/no-medical-claims", "outline", '{{"claim": "cures {w}", "n": {n}}}'),
    "critic": ("eval/no-self-grade", "score_draft", '{{"grader": "self", "draft": "{w}{n}"}}'),
}
STRAY = (
    ("net/egress", "http_get", '{{"url": "http://{w}.invalid/{n}"}}'),
    ("fs/secrets", "shell", '{{"command": "cat ~/.ssh/{w}"}}'),
    ("pii/phone", "send_sms", '{{"to": "+1555{n:04d}"}}'),
)
WORDS = ("north", "orders", "beta", "ledger", "tmp", "ops", "q2", "draft", "lab", "zeta")


def _violations(rng: random.Random, a: _Agent, r: _Run) -> None:
    k = a.plant_param
    if r._plant("violation_cluster") and rng.random() < k * r._plant("violation_cluster"):
        rule, tool, template = CLUSTER.get(a.kind, CLUSTER["assistant"])
        args = template.format(w=rng.choice(WORDS), n=rng.randint(1, 999))
        r.decision("block", rule, r.tool_name(tool) if tool in a.tools else tool, args)
    policy = a.plant is not None and a.plant.kind == "policy_regression"
    if policy and r.day >= a.plant_day and rng.random() < k:
        r.decision("block", "egress/strict-allowlist", r.tool_name(a.plant_tool), _args(rng, a.plant_tool))
    if a.kind == "voice" and rng.random() < 0.04:  # a caller asks to change the payout account
        r.decision(
            "ask", "payments/change-payout", "update_account", json.dumps({"acct": rng.randint(1, 9999)})
        )
    if rng.random() < 0.005:
        rule, tool, template = rng.choice(STRAY)
        r.decision("block", rule, tool, template.format(w=rng.choice(WORDS), n=rng.randint(1, 999)))


def _world(rng: random.Random, days: int, fleet: list[_Agent]) -> _World:
    revisions = {t: [(rng.uniform(5, days - 5), "r2")] for t in sorted(TENANTS)}
    for a in fleet:
        if a.plant is not None and a.plant.kind == "policy_regression":
            revisions[a.tenant].append((a.plant_day, f"r3-strict-{a.name}"))
            revisions[a.tenant].sort()
    weekday = 7 * rng.randint(1, days // 7 - 2) + rng.randint(0, 4)
    return _World(
        outage=(weekday + rng.uniform(0.35, 0.6), rng.uniform(1.0, 2.5)),
        slow_region=(rng.uniform(3, days - 3), rng.uniform(2, 5)),
        discount=(rng.choice(sorted(TENANTS)), rng.uniform(8, days - 8)),
        list_rise=rng.uniform(8, days - 8),
        revisions=revisions,
    )


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
        raise ValueError("the daylight-saving days are tied to START_TS")
    rng = random.Random(seed * 7_919 + 11)
    fleet = _fleet(rng, days)
    truth = Truth(start_ts, days, {a.name: (a.tenant, start_ts + a.start_day * DAY_S) for a in fleet})
    truth.legit = _legit_changes(rng, fleet, days)
    for a in fleet:
        a.changes.sort(key=lambda c: c[0])
    if plants:
        truth.plants = _assign_plants(rng, fleet, days, seed)
    for a in fleet:
        a.rate *= scale
    w = _world(rng, days, fleet)
    gaps = [(7 * rng.randint(1, days // 7 - 1) + rng.uniform(0, 5), rng.uniform(4, 10)) for _ in range(2)]
    truth.legit += [
        f"model gateway outage day {w.outage[0]:.2f} for {w.outage[1]:.1f} h (every agent)",
        f"northwind slow x2.5 day {w.slow_region[0]:.2f} for {w.slow_region[1]:.1f} h",
        f"{w.discount[0]}: negotiated prices x0.7 from day {w.discount[1]:.1f}",
        f"aur-pro output list price x1.25 from day {w.list_rise:.1f}",
        *[f"{t}: policy revisions {revs}" for t, revs in w.revisions.items()],
        *[f"ingest outage day {d:.2f} for {h:.1f} h (spans lost)" for d, h in gaps],
    ]
    lost = [(start_ts + d * DAY_S, start_ts + d * DAY_S + h * HOUR_S) for d, h in gaps]
    pending: list[SpanRow] = []
    resend: list[SpanRow] = []
    for day in range(days):
        for a in fleet:
            for at in sorted(_stamps(rng, a, day, days)):
                rows: list[SpanRow] = []
                _agent_run(rng, w, a, start_ts + at * DAY_S, rows)
                truth.runs += 1
                kept = [s for s in rows if not any(lo * NS <= s.end_ns < hi * NS for lo, hi in lost)]
                pending.extend(kept)
                if rng.random() < 0.03:  # the exporter retried a batch the store had already taken
                    resend.extend(kept if rng.random() < 0.7 else kept[: len(kept) // 2])
            if len(pending) >= batch:
                truth.spans += store.write_spans(pending)
                pending = []
                if len(resend) >= batch // 5:
                    store.write_spans(resend)
                    resend = []
    truth.spans += store.write_spans(pending + resend) if pending or resend else 0
    return truth


__all__ = ["DAY_S", "KIND_WORDS", "PLANT_KINDS", "Plant", "Truth", "generate"]
