"""`why(store, trace_id)`: the root cause of one run.

A deterministic pass looks, in the run's own order, for the step where it went wrong: the start of a
loop, the first block or ask, the first error, a step whose latency or a run whose cost is far off
the agent's baseline (robust z score on the median and MAD of the previous 7 days), a model or policy
revision other than the agent's usual. The earliest strong cause wins. When its confidence is below
0.85 and an LLM is configured (RAILGUARD_LLM), the redacted run is summarized for the model and its
structured answer is validated before it replaces the deterministic one (see _llm.py).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from railguard.diagnose import _data
from railguard.diagnose._data import NS, Window
from railguard.diagnose._stats import MAD_SCALE, mad, median
from railguard.diagnose._tables import why_answers
from railguard.store import SpanRow, Store
from railguard.store._otel_map import MODEL_OPERATIONS, TOOL_OPERATION

ESCALATE_BELOW = 0.85
BASELINE_S = 7 * 86_400
LOOP_MIN = 3  # identical calls in a row that make a loop
OFF_BASELINE_Z = 5.0
# A confidence score this many robust sds under the step's usual one (and at least LOW_CONFIDENCE_DROP
# under it) is a cause. The usual score and its spread come from the agent's older days only (the
# last RECENT_S before the run are left out), and the spread is the within-day noise (the median of
# each day's robust sd), so a score that has been falling for days neither drags the center down nor
# widens the spread. Under that noise P(z >= 4) is about 3e-5 per scored step.
LOW_CONFIDENCE_Z = 4.0
RECENT_S = 86_400
DAY_S = 86_400
MIN_DAY_SAMPLES = 5
LOW_CONFIDENCE_DROP = 0.1


@dataclass
class Why:
    """The answer. `source` is "deterministic" or "llm:<provider>:<model>"; `llm` says what the LLM
    escalation did (not configured, answered, rejected, failed)."""

    trace_id: str
    cause: str  # loop | blocked | asked | error | slow_step | cost | low_confidence | model_change | policy_change | none
    step: dict[str, Any] | None  # {"span_id", "name", "tool"}
    explanation: str
    evidence: list[dict[str, Any]]
    suggestion: str
    tags: list[str]
    confidence: float
    source: str = "deterministic"
    llm: str = ""
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Cause:
    order: int  # position of the step in the run
    cause: str
    span: SpanRow | None
    explanation: str
    suggestion: str
    tags: tuple[str, ...]
    confidence: float
    evidence: tuple[tuple[SpanRow, str], ...] = ()


def why(
    store: Store,
    trace_id: str,
    *,
    tenant: str | None = None,
    llm: str | None = None,
    escalate: bool = True,
    save: bool = True,
) -> Why:
    """Root cause of run `trace_id`. `tenant` scopes the lookup (None: admin). `llm`: "anthropic:MODEL"
    or "openai:MODEL" (default: $RAILGUARD_LLM). Raises ValueError when the run does not exist."""
    from railguard.diagnose import _llm

    spans = store.get_trace(trace_id, tenant=tenant)
    if not spans:
        raise ValueError(
            f"no run {trace_id!r}"
            + (f" in tenant {tenant!r}" if tenant else "")
            + "; see `railguard traces list`"
        )
    baseline = _baseline(store, spans)
    causes = _causes(spans, baseline)
    answer = _answer(trace_id, causes)
    if escalate and answer.confidence < ESCALATE_BELOW:
        answer = _llm.escalate(answer, spans, baseline, setting=llm)
    elif escalate:
        answer.llm = f"not needed (confidence {answer.confidence:.2f} >= {ESCALATE_BELOW})"
    if save:
        _save(store, answer, spans)
    return answer


# -- the agent's baseline ---------------------------------------------------------------------------


@dataclass
class Baseline:
    runs: int = 0
    cost: tuple[float, float] | None = None  # median, robust sd
    step_ms: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # step -> median, robust sd, n
    usual_models: dict[str, str] = field(default_factory=dict)  # requested -> usual served
    usual_revision: str | None = None
    confidence: dict[str, tuple[float, float]] = field(default_factory=dict)  # step -> median, robust sd


def _baseline(store: Store, spans: list[SpanRow]) -> Baseline:
    agent = next((s.agent for s in spans if s.agent), None)
    tenant = next((s.tenant for s in spans if s.tenant), None)
    out = Baseline()
    if agent is None:
        return out
    start = min(s.start_ns for s in spans) / NS
    w = Window(start - BASELINE_S, start, agent=agent, agents=((tenant or "", agent),))
    with store.read_connection() as conn:
        runs = [r for r in _data.run_rows(conn, w) if r.trace_id != spans[0].trace_id]
        latency = _data.step_latency(conn, w)
        usage = _data.model_usage(conn, w, 86_400)
        scores = _data.confidence_samples(conn, w)
        revisions = conn.execute(
            select(_data.spans_revision())
            .where(*w.span_filter(), _data.spans_revision().is_not(None))
            .limit(5000)
        ).all()
    out.runs = len(runs)
    if len(runs) >= 10:
        costs = [float(r.cost_usd) for r in runs]
        out.cost = (median(costs), MAD_SCALE * mad(costs))
    per_step: dict[str, list[float]] = {}
    for r in latency:
        if r.ms is not None and r.step is not None:
            per_step.setdefault(f"{r.kind} {r.step}", []).append(float(r.ms))
    for step, values in per_step.items():
        if len(values) >= 10:
            out.step_ms[step] = (median(values), MAD_SCALE * mad(values), len(values))
    out.confidence = _confidence_baseline(scores, start - RECENT_S)
    served: dict[str, Counter[str]] = {}
    for r in usage:
        served.setdefault(r.request_model, Counter())[r.served] += r.calls
    for requested, counts in served.items():
        model, n = counts.most_common(1)[0]
        if n >= 10 and n >= 0.8 * sum(counts.values()):
            out.usual_models[requested] = model
    revision_counts = Counter(r[0] for r in revisions)
    if revision_counts:
        revision, n = revision_counts.most_common(1)[0]
        if n >= 10 and n >= 0.8 * sum(revision_counts.values()):
            out.usual_revision = revision
    return out


def _confidence_baseline(scores: list[Any], before: float) -> dict[str, tuple[float, float]]:
    """step -> (usual score, within-day robust sd), from the scores recorded before `before`."""
    per_step: dict[str, dict[int, list[float]]] = {}
    for r in scores:
        at = r.start_ns / NS
        if r.score is not None and at < before:
            per_step.setdefault(str(r.step), {}).setdefault(int(at // DAY_S), []).append(float(r.score))
    out: dict[str, tuple[float, float]] = {}
    for step, days in per_step.items():
        values = [v for day in days.values() for v in day]
        if len(values) < 10:
            continue
        within = [MAD_SCALE * mad(day) for day in days.values() if len(day) >= MIN_DAY_SAMPLES]
        out[step] = (median(values), median(within) if within else MAD_SCALE * mad(values))
    return out


# -- the causes -------------------------------------------------------------------------------------


def _label(span: SpanRow) -> str:
    return span.tool_name or span.request_model or span.name


def _args(span: SpanRow) -> str:
    text = span.attributes.get("gen_ai.tool.call.arguments")
    return "" if not text else str(text)[:200]


def _causes(spans: list[SpanRow], base: Baseline) -> list[_Cause]:
    causes: list[_Cause] = []
    steps = [s for s in spans if s.parent_span_id is not None] or spans
    causes += _loop_cause(steps)
    for i, s in enumerate(steps):
        rules = [r for r in (s.rules or "").split(",") if r]
        reason = str(s.attributes.get("railguard.reason") or "")
        if s.verdict == "block" and not any(r.startswith("loop/") for r in rules):
            human = any(r.startswith("approval/") for r in rules)
            causes.append(
                _Cause(
                    i,
                    "blocked",
                    s,
                    f"{_label(s)} was blocked by {', '.join(rules) or 'the guard'}: {reason or 'no reason recorded'}",
                    _block_fix(rules, s),
                    ("guard", "block", *rules[:2], *(["human"] if human else [])),
                    0.92,
                    ((s, f"block by {', '.join(rules)}"),),
                )
            )
        elif s.verdict == "ask":
            causes.append(
                _Cause(
                    i,
                    "asked",
                    s,
                    f"{_label(s)} waited for a human: {reason or ', '.join(rules)}",
                    "if people always approve this, add an exception to the rule; if they always deny it, make it a block",
                    ("guard", "ask", *rules[:2]),
                    0.75,
                    ((s, f"ask by {', '.join(rules)}"),),
                )
            )
        if s.status == "error":
            message = (s.status_message or "") or str(s.error_type or "")
            causes.append(
                _Cause(
                    i,
                    "error",
                    s,
                    f"{_label(s)} failed ({s.error_type or 'error'}): {message[:200]}",
                    f"check {_label(s)}'s backend and its inputs in this step; retry transient failures with a cap",
                    ("error", s.error_type or "error", _label(s)),
                    0.88,
                    ((s, f"error {s.error_type or ''}".strip()),),
                )
            )
        causes += _off_baseline_step(i, s, base)
        causes += _low_confidence(i, s, base)
        causes += _unusual_model_or_revision(i, s, base)
    causes += _cost_cause(spans, base)
    return causes


def _block_fix(rules: list[str], span: SpanRow) -> str:
    if any(r.startswith("provenance/") for r in rules):
        return (
            f"a value from an untrusted tool output drove {span.tool_name}: keep the block, declare the source "
            "tool's output untrusted everywhere, and strip instructions from fetched content"
        )
    if any(r.startswith("approval/") for r in rules):
        return "a human denied this call: if such calls are always denied, turn the ask into a block"
    rule = rules[0] if rules else "the rule"
    return (
        f"the agent proposed a call that {rule} refuses: fix its instructions or tools so it stops, "
        f"or, if the call was legitimate, add a narrow exception to {rule}"
    )


def _loop_cause(steps: list[SpanRow]) -> list[_Cause]:
    run: list[int] = []
    for i, s in enumerate(steps):
        if s.operation != TOOL_OPERATION:
            continue
        if run and (steps[run[-1]].tool_name, _args(steps[run[-1]])) == (s.tool_name, _args(s)):
            run.append(i)
        else:
            if len(run) >= LOOP_MIN:
                break
            run = [i]
    guard = [i for i, s in enumerate(steps) if "loop/" in (s.rules or "")]
    if len(run) < LOOP_MIN and not guard:
        return []
    first = run[0] if len(run) >= LOOP_MIN else guard[0]
    s = steps[first]
    repeats = [steps[i] for i in run] if len(run) >= LOOP_MIN else [steps[i] for i in guard]
    return [
        _Cause(
            first,
            "loop",
            s,
            f"the agent started calling {s.tool_name} with the same arguments again and again here "
            f"({len(repeats)} identical calls{', stopped by the loop guard' if guard else ''})",
            f"cap repeats of {s.tool_name} (loops: max_repeats) and give the agent a way out: wait with backoff, or stop and report",
            ("loop", s.tool_name or "tool"),
            0.93,
            tuple((r, "same call again") for r in repeats[:3]),
        )
    ]


def _off_baseline_step(i: int, s: SpanRow, base: Baseline) -> list[_Cause]:
    kind = "tool" if s.operation == TOOL_OPERATION else "model" if s.operation in MODEL_OPERATIONS else None
    step = f"{kind} {s.tool_name if kind == 'tool' else s.request_model}"
    if kind is None or step not in base.step_ms or s.verdict in ("block", "ask"):
        return []
    center, spread, n = base.step_ms[step]
    ms = (s.end_ns - s.start_ns) / 1e6
    z = (ms - center) / max(spread, 0.05 * center, 1.0)
    if z < OFF_BASELINE_Z or ms < 2 * center:
        return []
    return [
        _Cause(
            i,
            "slow_step",
            s,
            f"{_label(s)} took {ms:.0f} ms, {ms / center:.1f}x the agent's median of {center:.0f} ms "
            f"(robust z {z:.1f} over {n} runs)",
            f"check {_label(s)}'s dependency (status, region, rate limits); add a timeout for it",
            ("latency", _label(s)),
            min(0.8, 0.55 + 0.03 * z),
            ((s, f"{ms:.0f} ms vs median {center:.0f} ms"),),
        )
    ]


def _low_confidence(i: int, s: SpanRow, base: Baseline) -> list[_Cause]:
    score = s.attributes.get("railguard.confidence")
    step = s.tool_name or s.name
    if not isinstance(score, int | float) or step not in base.confidence:
        return []
    center, spread = base.confidence[step]
    z = (center - float(score)) / max(spread, 0.02)
    if z < LOW_CONFIDENCE_Z or center - float(score) < LOW_CONFIDENCE_DROP:
        return []
    return [
        _Cause(
            i,
            "low_confidence",
            s,
            f"{step} reported confidence {float(score):.2f}, well under its usual {center:.2f}",
            f"route low-confidence {step} results to a human (an ask rule on the score) and review recent inputs",
            ("confidence", step),
            min(0.8, 0.5 + 0.03 * z),
            ((s, f"confidence {float(score):.2f} vs {center:.2f}"),),
        )
    ]


def _unusual_model_or_revision(i: int, s: SpanRow, base: Baseline) -> list[_Cause]:
    out = []
    served = s.response_model or s.request_model
    usual = base.usual_models.get(s.request_model or "")
    if s.operation in MODEL_OPERATIONS and usual and served and served != usual:
        out.append(
            _Cause(
                i,
                "model_change",
                s,
                f"this run was served by {served}, not the agent's usual {usual}",
                f"pin the model version ({usual}) or re-validate the agent on {served}",
                ("model", served),
                0.6,
                ((s, f"served by {served}"),),
            )
        )
    revision = s.attributes.get("railguard.policy.revision")
    if revision and base.usual_revision and revision != base.usual_revision:
        out.append(
            _Cause(
                i,
                "policy_change",
                s,
                f"a policy revision ({revision}) other than the usual ({base.usual_revision}) decided this step",
                "compare the two revisions (railguard backtest) and roll back if the new one is wrong",
                ("policy", str(revision)),
                0.6,
                ((s, f"policy revision {revision}"),),
            )
        )
    return out


def _cost_cause(spans: list[SpanRow], base: Baseline) -> list[_Cause]:
    if base.cost is None:
        return []
    center, spread = base.cost
    cost = sum(s.cost_usd or 0.0 for s in spans if s.operation != "invoke_agent")
    z = (cost - center) / max(spread, 0.05 * center, 1e-6)
    if z < OFF_BASELINE_Z or cost < 2 * center:
        return []
    priced = sorted((s for s in spans if s.cost_usd), key=lambda s: s.cost_usd or 0.0, reverse=True)
    top = priced[0] if priced else None
    order = next((i for i, s in enumerate(spans) if top is not None and s.span_id == top.span_id), 0)
    return [
        _Cause(
            order,
            "cost",
            top,
            f"the run cost ${cost:.4f}, {cost / center:.1f}x the agent's median of ${center:.4f}"
            + (f"; the most expensive step is {_label(top)} (${top.cost_usd:.4f})" if top else ""),
            "set a per-run cost budget for this agent and look at what grew: the model, the context, the number of turns",
            ("cost",),
            min(0.8, 0.55 + 0.02 * z),
            tuple((s, f"${s.cost_usd:.4f}") for s in priced[:3]),
        )
    ]


def _answer(trace_id: str, causes: list[_Cause]) -> Why:
    if not causes:
        return Why(
            trace_id,
            "none",
            None,
            "no step stands out: no error, no refusal, no loop, nothing off the agent's baseline",
            [],
            "label the run if it went wrong in a way the trace does not show",
            ["unknown"],
            0.3,
        )
    strong = [c for c in causes if c.confidence >= ESCALATE_BELOW]
    # The earliest strong cause is where the run went wrong; otherwise the most confident weak one.
    best = (
        min(strong, key=lambda c: (c.order, -c.confidence))
        if strong
        else max(causes, key=lambda c: (c.confidence, -c.order))
    )
    related = [
        c
        for c in causes
        if c is not best
        and c.cause in ("model_change", "policy_change", "cost", "slow_step", "low_confidence")
    ]
    confidence = best.confidence
    explanation = best.explanation
    if not strong and len(related) >= 1:  # several weak signals that agree make a stronger one
        confidence = min(0.84, best.confidence + 0.1 * len(related))
        explanation += "; also: " + "; ".join(c.explanation for c in related[:2])
    evidence = [
        {"trace_id": trace_id, "span_id": s.span_id, "why": why_text} for s, why_text in best.evidence
    ]
    step = (
        None
        if best.span is None
        else {"span_id": best.span.span_id, "name": best.span.name, "tool": best.span.tool_name}
    )
    return Why(
        trace_id,
        best.cause,
        step,
        explanation,
        evidence,
        best.suggestion,
        [t for t in best.tags if t],
        round(confidence, 3),
        candidates=[
            {
                "cause": c.cause,
                "span_id": c.span.span_id if c.span else None,
                "confidence": c.confidence,
                "explanation": c.explanation,
            }
            for c in sorted(causes, key=lambda c: c.order)[:10]
        ],
    )


def _save(store: Store, answer: Why, spans: list[SpanRow]) -> None:
    tenant = next((s.tenant for s in spans if s.tenant), "") or ""
    store.migrate()
    with store.write_transaction() as conn:
        conn.execute(why_answers.delete().where(why_answers.c.trace_id == answer.trace_id))
        conn.execute(
            why_answers.insert().values(
                trace_id=answer.trace_id, tenant=tenant, answer=answer.to_json(), created_at=time.time()
            )
        )


def stored_why(store: Store, trace_id: str, *, tenant: str | None = None) -> dict[str, Any] | None:
    """The last answer stored for a run (what `why` showed), or None."""
    store.migrate()
    query = select(why_answers.c.answer).where(why_answers.c.trace_id == trace_id)
    if tenant is not None:
        query = query.where(why_answers.c.tenant == tenant)
    with store.read_connection() as conn:
        row = conn.execute(query).first()
    return None if row is None else dict(row[0])
