"""Synthetic agent history written straight into a store (`Store.write_spans` in batches): many agents
over many days with realistic noise, and optional planted failures. For the false-alarm measurement,
the benchmarks and focused detector tests; the week demo (`railguard demo --week`) is the end-to-end
version that goes through the engine.

Noise: per-agent tool mixes and latencies (log-normal), run lengths, context growth, a few percent of
transient tool errors, 1% slow outliers, day-to-day volume swings and quieter weekends.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from railguard.store import SpanRow, Store

DAY_S = 86_400
NS = 1_000_000_000
TOOLS = ("search", "read_file", "write_file", "http_get", "send_email", "query_db", "run_tests", "classify")
PLANT_KINDS = (
    "cost_spike",
    "token_bloat",
    "latency_regression",
    "error_rate",
    "confidence_drop",
    "loop",
    "model_drift",
    "regression",
    "violation_cluster",
    "policy_regression",
)
BASE_MODEL, DRIFT_MODEL = "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"


@dataclass(frozen=True, slots=True)
class Plant:
    kind: str
    agent: str
    day: int


@dataclass
class History:
    start_ts: float
    days: int
    agents: list[str]
    spans: int = 0
    runs: int = 0
    plants: list[Plant] = field(default_factory=list)


@dataclass
class _Profile:
    name: str
    tenant: str
    tools: list[str]
    latency_ms: dict[str, float]
    error_p: float
    base_tokens: int
    growth: float
    confidence_tool: str | None


def _profiles(rng: random.Random, agents: int) -> list[_Profile]:
    out = []
    for i in range(agents):
        tools = rng.sample(TOOLS, rng.randint(3, 5))
        out.append(
            _Profile(
                name=f"agent-{i:02d}",
                tenant=f"tenant-{i % 4}",
                tools=tools,
                latency_ms={t: rng.uniform(40, 1500) for t in tools},
                error_p=rng.uniform(0.005, 0.03),
                base_tokens=rng.randint(800, 3000),
                growth=rng.uniform(150, 600),
                confidence_tool=rng.choice(tools) if rng.random() < 0.5 else None,
            )
        )
    return out


def write_history(
    store: Store,
    *,
    agents: int = 20,
    days: int = 60,
    runs_per_day: int = 20,
    seed: int = 0,
    start_ts: float = 1_700_000_000.0 // DAY_S * DAY_S,
    plants: Iterable[Plant] = (),
    batch: int = 4000,
) -> History:
    rng = random.Random(seed)
    profiles = _profiles(rng, agents)
    planted: dict[tuple[str, str], int] = {(p.agent, p.kind): p.day for p in plants}
    for prof in profiles:  # a planted confidence drop needs a step that reports confidence
        if (prof.name, "confidence_drop") in planted and prof.confidence_tool is None:
            prof.confidence_tool = prof.tools[0]
    history = History(start_ts, days, [p.name for p in profiles], plants=list(plants))
    pending: list[SpanRow] = []
    for day in range(days):
        weekend = (day % 7) in (5, 6)
        for prof in profiles:
            volume = runs_per_day * rng.uniform(0.6, 1.4) * (0.5 if weekend else 1.0)
            for _ in range(max(1, round(volume))):
                at = start_ts + day * DAY_S + rng.uniform(0, DAY_S)
                active = {kind for (agent, kind), d in planted.items() if agent == prof.name and day >= d}
                pending.extend(_run(rng, prof, at, active))
                history.runs += 1
            if len(pending) >= batch:
                history.spans += store.write_spans(pending)
                pending = []
    if pending:
        history.spans += store.write_spans(pending)
    return history


def _hex(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def _run(rng: random.Random, prof: _Profile, at: float, active: set[str]) -> list[SpanRow]:
    trace = _hex(rng, 32)
    root = _hex(rng, 16)
    version = "1.1" if "regression" in active else "1.0"
    served = DRIFT_MODEL if "model_drift" in active else BASE_MODEL
    growth = prof.growth * (5 if "token_bloat" in active else 1)
    out_scale = 10 if "cost_spike" in active else 1
    error_p = prof.error_p * (8 if "regression" in active else 1)
    t = at
    rows: list[SpanRow] = []
    tokens = prof.base_tokens * rng.uniform(0.8, 1.2)
    turns = rng.randint(2, 6)
    common: dict[str, Any] = {"tenant": prof.tenant, "agent": prof.name, "agent_version": version}
    for turn in range(turns):
        ms = 700 * rng.lognormvariate(0, 0.3)
        input_tokens = int(tokens)
        output_tokens = int(rng.gauss(150, 30) * out_scale) + 10
        price = 2.5e-6 if served == DRIFT_MODEL else 0.15e-6
        cost = input_tokens * price + output_tokens * price * 4
        rows.append(
            SpanRow(
                trace,
                _hex(rng, 16),
                root,
                f"chat {BASE_MODEL[:11]}",
                "client",
                int(t * NS),
                int((t + ms / 1000) * NS),
                operation="chat",
                provider="openai",
                request_model="gpt-4o-mini",
                response_model=served,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=cost,
                **common,
            )
        )
        t += ms / 1000
        tokens += growth * rng.uniform(0.7, 1.3)
        tool = rng.choice(prof.tools)
        rows.extend(_tool_calls(rng, prof, trace, root, tool, t, turn, active, error_p, common))
        t = rows[-1].end_ns / NS
    if "violation_cluster" in active and rng.random() < 0.3:
        rows.append(
            SpanRow(
                trace,
                _hex(rng, 16),
                root,
                "execute_tool shell",
                "internal",
                int(t * NS),
                int(t * NS) + 1000,
                operation="execute_tool",
                tool_name="shell",
                verdict="block",
                rules="ops/prod-delete",
                attributes={
                    "gen_ai.tool.call.arguments": json.dumps(
                        {"command": f"kubectl delete ns prod-{rng.randint(1, 9)}"}
                    )
                },
                **common,
            )
        )
    rows.append(
        SpanRow(
            trace,
            root,
            None,
            f"invoke_agent {prof.name}",
            "internal",
            int(at * NS),
            int(t * NS) + 1,
            operation="invoke_agent",
            **common,
        )
    )
    return rows


def _tool_calls(
    rng: random.Random,
    prof: _Profile,
    trace: str,
    root: str,
    tool: str,
    t: float,
    turn: int,
    active: set[str],
    error_p: float,
    common: dict[str, Any],
) -> list[SpanRow]:
    repeats = 6 if "loop" in active and turn == 0 and rng.random() < 0.2 else 1
    args = json.dumps({"q": f"{tool}-{rng.randint(1, 10_000)}"})
    rows = []
    for _ in range(repeats):
        ms = prof.latency_ms[tool] * rng.lognormvariate(0, 0.35)
        if "latency_regression" in active and tool == prof.tools[0]:
            ms *= 4
        if rng.random() < 0.01:
            ms *= 5  # an outlier: a slow dependency for one call
        tool_error_p = 0.3 if "error_rate" in active and tool == prof.tools[0] else error_p
        failed = rng.random() < tool_error_p
        revision = "rev-2" if "policy_regression" in active else "rev-1"
        attributes: dict[str, object] = {
            "gen_ai.tool.call.arguments": args,
            "railguard.policy.revision": revision,
        }
        # The new revision has an over-broad rule: it refuses a share of ordinary calls.
        refused = revision == "rev-2" and rng.random() < 0.25
        if tool == prof.confidence_tool:
            score = rng.gauss(0.86, 0.04) - (0.15 if "confidence_drop" in active else 0.0)
            attributes["railguard.confidence"] = max(0.0, min(1.0, score))
        rows.append(
            SpanRow(
                trace,
                _hex(rng, 16),
                root,
                f"execute_tool {tool}",
                "internal",
                int(t * NS),
                int((t + ms / 1000) * NS),
                status="error" if failed else "unset",
                status_message="upstream 503" if failed else None,
                error_type="ToolError" if failed else None,
                operation="execute_tool",
                tool_name=tool,
                verdict="block" if refused else "allow",
                rules="new/over-broad" if refused else None,
                decision_id=_hex(rng, 16),
                attributes=attributes,
                **common,
            )
        )
        t += ms / 1000
    return rows


def primary_kind(plant: Plant) -> str:
    """The finding kind a plant must produce."""
    return "regression" if plant.kind == "policy_regression" else plant.kind


def expected_kind(plant: Plant) -> set[str]:
    """The finding kinds a plant should produce (a model change also moves cost)."""
    return {
        "model_drift": {"model_drift", "cost_spike"},
        "regression": {"regression", "error_rate"},
        "policy_regression": {"regression", "violation_cluster"},
    }.get(plant.kind, {plant.kind})


def agent_weeks(history: History) -> float:
    return len(history.agents) * history.days / 7


__all__ = ["PLANT_KINDS", "History", "Plant", "agent_weeks", "expected_kind", "primary_kind", "write_history"]
