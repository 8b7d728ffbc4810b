"""Release gate: is the candidate (an agent version, a model, a policy revision) worse than the
baseline on stored runs?

    result = gate(store, baseline="1.4.0", candidate="1.5.0", by="agent_version", since=t0, until=t1)
    sys.exit(result.exit_code)      # 0 pass, 1 significantly worse, 2 too little data

Runs come from the `runs` table (OTLP-ingested traces count). Each metric is compared with a one-sided
test that the candidate is worse — a two-proportion z test for rates, Mann-Whitney U for per-run and
per-step values — at `alpha` divided by the number of metrics (Bonferroni, so equal versions pass
`1 - alpha` of the time), and it fails only when the difference is also beyond the tolerance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select

from railguard.diagnose._stats import mann_whitney_greater, median, proportion_greater
from railguard.diagnose._tables import labels
from railguard.store import Store
from railguard.store._otel_map import MODEL_OPERATIONS, TOOL_OPERATION
from railguard.store._schema import decisions, runs, spans
from railguard.trace import _keys as k

__all__ = ["BY", "GateResult", "MetricResult", "gate", "gate_replay"]

BY = ("agent_version", "model", "policy_revision")
NS = 1_000_000_000
Kind = Literal["rate", "higher_worse", "lower_worse"]


@dataclass(frozen=True, slots=True)
class MetricResult:
    name: str
    kind: Kind
    baseline: float | None  # the rate, or the median
    candidate: float | None
    n_baseline: int
    n_candidate: int
    p: float | None
    worse: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.name, "baseline": self.baseline, "candidate": self.candidate,
            "n_baseline": self.n_baseline, "n_candidate": self.n_candidate, "p": self.p, "worse": self.worse,
        }  # fmt: skip


@dataclass(slots=True)
class GateResult:
    by: str
    baseline: str
    candidate: str
    runs_baseline: int
    runs_candidate: int
    min_runs: int
    metrics: list[MetricResult] = field(default_factory=list)

    @property
    def enough_data(self) -> bool:
        return min(self.runs_baseline, self.runs_candidate) >= self.min_runs

    @property
    def verdict(self) -> str:
        if not self.enough_data:
            return "insufficient_data"
        return "fail" if any(m.worse for m in self.metrics) else "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1}.get(self.verdict, 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "by": self.by, "baseline": self.baseline, "candidate": self.candidate,
            "runs_baseline": self.runs_baseline, "runs_candidate": self.runs_candidate,
            "metrics": [m.to_dict() for m in self.metrics],
        }  # fmt: skip


@dataclass(slots=True)
class _Side:
    runs: int = 0
    failed_runs: int = 0
    error_runs: int = 0
    tool_calls: int = 0
    blocks: int = 0
    asks: int = 0
    cost: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)


def gate(
    store: Store,
    *,
    baseline: str,
    candidate: str,
    by: str = "agent_version",
    since: float,
    until: float,
    agent: str | None = None,
    tenant: str | None = None,
    alpha: float = 0.05,
    rate_tolerance: float = 0.02,
    relative_tolerance: float = 0.10,
    min_runs: int = 20,
) -> GateResult:
    """Compare the runs of `candidate` with those of `baseline` (values of `by`) in [since, until).
    A rate is worse beyond `rate_tolerance` (absolute); a cost, latency or confidence beyond
    `relative_tolerance` of the baseline's median."""
    if by not in BY:
        raise ValueError(f"--by must be one of {', '.join(BY)}, not {by!r}")
    store.migrate()
    sides = {baseline: _Side(), candidate: _Side()}
    with store.read_connection() as conn:
        group_of = _groups(conn, by, (baseline, candidate), since, until, agent, tenant)
        failed = {
            row.trace_id for row in conn.execute(select(labels.c.trace_id).where(labels.c.label == "failure"))
        }
        rq = select(runs).where(runs.c.start_ns >= int(since * NS), runs.c.start_ns < int(until * NS))
        if agent is not None:
            rq = rq.where(runs.c.agent == agent)
        if tenant is not None:
            rq = rq.where(runs.c.tenant == tenant)
        for run in conn.execute(rq):
            side = sides.get(group_of.get(run.trace_id, ""))
            if side is None:
                continue
            side.runs += 1
            side.failed_runs += run.trace_id in failed
            side.error_runs += run.errors > 0
            side.tool_calls += run.tool_calls
            side.blocks += run.blocks
            side.asks += run.asks
            side.cost.append(float(run.cost_usd))
        sq = select(
            spans.c.trace_id, spans.c.operation, spans.c.start_ns, spans.c.end_ns, spans.c.attributes
        ).where(spans.c.start_ns >= int(since * NS), spans.c.start_ns < int(until * NS))
        for row in conn.execute(sq):
            side = sides.get(group_of.get(row.trace_id, ""))
            if side is None:
                continue
            if row.operation == TOOL_OPERATION or row.operation in MODEL_OPERATIONS:
                side.latency_ms.append((row.end_ns - row.start_ns) / 1e6)
            score = (row.attributes or {}).get(k.CONFIDENCE)
            if isinstance(score, int | float):
                side.confidence.append(float(score))
    b, c = sides[baseline], sides[candidate]
    result = GateResult(by, baseline, candidate, b.runs, c.runs, min_runs)
    level = alpha / 7
    rates = (
        ("labelled_failure_rate", b.failed_runs, b.runs, c.failed_runs, c.runs),
        ("block_rate", b.blocks, b.tool_calls, c.blocks, c.tool_calls),
        ("ask_rate", b.asks, b.tool_calls, c.asks, c.tool_calls),
        ("error_rate", b.error_runs, b.runs, c.error_runs, c.runs),
    )
    for name, kb, nb, kc, nc in rates:
        result.metrics.append(_rate(name, kb, nb, kc, nc, level, rate_tolerance))
    result.metrics.append(_values("cost_per_run", "higher_worse", b.cost, c.cost, level, relative_tolerance))
    result.metrics.append(
        _values("latency_per_step_ms", "higher_worse", b.latency_ms, c.latency_ms, level, relative_tolerance)
    )
    result.metrics.append(
        _values("confidence", "lower_worse", b.confidence, c.confidence, level, relative_tolerance)
    )
    return result


def _rate(name: str, kb: int, nb: int, kc: int, nc: int, level: float, tolerance: float) -> MetricResult:
    if nb == 0 or nc == 0:
        return MetricResult(name, "rate", None, None, nb, nc, None, False)
    _z, p = proportion_greater(kb, nb, kc, nc)
    rb, rc = kb / nb, kc / nc
    return MetricResult(name, "rate", rb, rc, nb, nc, p, p < level and rc - rb > tolerance)


def _values(
    name: str, kind: Kind, before: Sequence[float], after: Sequence[float], level: float, tolerance: float
) -> MetricResult:
    if not before or not after:
        return MetricResult(name, kind, None, None, len(before), len(after), None, False)
    mb, mc = median(before), median(after)
    if kind == "higher_worse":
        _z, p = mann_whitney_greater(before, after)
        beyond = mc > mb + abs(mb) * tolerance
    else:
        _z, p = mann_whitney_greater(after, before)
        beyond = mc < mb - abs(mb) * tolerance
    return MetricResult(name, kind, mb, mc, len(before), len(after), p, p < level and beyond)


def _groups(
    conn: Any,
    by: str,
    values: tuple[str, str],
    since: float,
    until: float,
    agent: str | None,
    tenant: str | None,
) -> dict[str, str]:
    """trace id -> the compared value it belongs to (runs that show both values are left out)."""
    window = [spans.c.start_ns >= int(since * NS), spans.c.start_ns < int(until * NS)]
    if agent is not None:
        window.append(spans.c.agent == agent)
    if tenant is not None:
        window.append(spans.c.tenant == tenant)
    seen: dict[str, set[str]] = defaultdict(set)
    if by == "agent_version":
        q = select(spans.c.trace_id, spans.c.agent_version).where(*window, spans.c.agent_version.in_(values))
    elif by == "model":
        served = func.coalesce(spans.c.response_model, spans.c.request_model)
        q = select(spans.c.trace_id, served).where(*window, served.in_(values))
    else:
        q = (
            select(spans.c.trace_id, decisions.c.policy_revision)
            .join(decisions, decisions.c.decision_id == spans.c.decision_id)
            .where(*window, decisions.c.policy_revision.in_(values))
        )
    for trace_id, value in conn.execute(q):
        seen[trace_id].add(value)
    return {trace: next(iter(found)) for trace, found in seen.items() if len(found) == 1}


def gate_replay(
    events: Sequence[Any],
    baseline: Any,
    candidate: Any,
    *,
    names: tuple[str, str] = ("baseline", "candidate"),
    alpha: float = 0.05,
    rate_tolerance: float = 0.02,
    min_runs: int = 20,
) -> tuple[GateResult, int]:
    """A transcript suite (replay-format events) through two engines (`replay_engine`s): block and ask
    rates compared as on stored runs; also returns how many actions changed verdict."""
    from railguard.diagnose.replay import Replayer

    counts = {side: {"actions": 0, "block": 0, "ask": 0} for side in names}
    changed = 0
    replayers = (Replayer(baseline), Replayer(candidate))
    runs_seen: set[str] = set()
    for line, event in enumerate(events, 1):
        results = [r.feed(line, event) for r in replayers]
        verdicts = [
            res.decision.verdict.value for res in results if res is not None and res.decision is not None
        ]
        if len(verdicts) != 2:
            continue
        runs_seen.add(str(event.get("run")))
        changed += verdicts[0] != verdicts[1]
        for side, verdict in zip(names, verdicts, strict=True):
            counts[side]["actions"] += 1
            if verdict in ("block", "ask"):
                counts[side][verdict] += 1
    b, c = counts[names[0]], counts[names[1]]
    result = GateResult("policy_revision", names[0], names[1], len(runs_seen), len(runs_seen), min_runs)
    level = alpha / 2
    result.metrics.append(
        _rate("block_rate", b["block"], b["actions"], c["block"], c["actions"], level, rate_tolerance)
    )
    result.metrics.append(
        _rate("ask_rate", b["ask"], b["actions"], c["ask"], c["actions"], level, rate_tolerance)
    )
    return result, changed
