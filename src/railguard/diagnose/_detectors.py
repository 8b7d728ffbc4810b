"""The detectors: each reads SQL aggregates for a window (see _data.py) and returns findings.

Every metric detector works the same way: per agent (and per tool or model where it applies) the
samples of the window are scanned for the day boundary where they moved most (Mann-Whitney U,
Bonferroni-corrected over the boundaries tried, a minimum number of samples on both sides), and a
change is reported only when it is also large in practice (a ratio and an absolute floor against the
baseline median). Rates use a two-proportion test; recurrences (loops, violation clusters) a rise of
their share of runs above the agent's own baseline (_recurrence). Where a baseline shows a weekly rhythm, weekdays are compared with weekdays and weekends
with weekends (see _stats); a nightly lull is not modelled.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from railguard.diagnose import _data
from railguard.diagnose._data import NS, Window
from railguard.diagnose._rates import scan_rate_rise
from railguard.diagnose._recurrence import Recurrence, bucket_of, judge_recurrence
from railguard.diagnose._stats import (
    MAD_SCALE,
    all_successes_lower_bound,
    binomial_upper_tail,
    scan_shift,
)
from railguard.diagnose.findings import Finding

DAY_S = 86_400
ALPHA = 1e-3
# Error-rate rises: the exact conditional test (_rates), Bonferroni over the boundaries, at the values'
# family-wise bar. A looser bar (1e-2) found moderate rises on quiet tools but also a clean history's
# week-long spell of transient errors (+5 points): within one window the two look alike.
ALPHA_RATE = 1e-3
ERROR_MIN_AFTER = 5
ERROR_MIN_RISE = 0.05
MIN_SAMPLES = 8

Sample = tuple[float, float, str, str | None]  # (time s, value, trace_id, span_id)
GroupKey = tuple[str, str, str]  # (tenant, agent, subject)


@dataclass(frozen=True, slots=True)
class Scan:
    conn: Connection
    window: Window
    boundaries: tuple[float, ...]


def boundaries_step(since: float, until: float) -> int:
    return DAY_S if until - since >= 3 * DAY_S else 6 * 3600


def boundaries_for(since: float, until: float) -> tuple[float, ...]:
    """Whole UTC days inside the window; six-hour steps for windows under three days."""
    step = boundaries_step(since, until)
    first = math.ceil(since / step) * step
    return tuple(float(b) for b in range(int(first), int(until), step) if b > since)


def _conf(p: float) -> float:
    return max(0.5, min(0.99, 1.0 - p))


def _day(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(ts))


# -- shifts of a per-sample metric -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShiftSpec:
    kind: str
    increase: bool
    min_ratio: float  # after/before (increase) or before/after (decrease)
    min_abs: float
    unit: Callable[[float], str]
    what: str  # "cost per run", ...
    suggestion: Callable[[GroupKey], str]
    # The change must also exceed this many robust sds of the baseline's samples. Where a sample is a
    # run's cost, one noisy run says little and the bar is high; a score whose samples scatter widely
    # around a steady median (confidence) can move meaningfully by less than its own sd.
    spread_multiple: float = 2.0


def _shift_findings(scan: Scan, groups: dict[GroupKey, list[Sample]], spec: ShiftSpec) -> list[Finding]:
    out: list[Finding] = []
    for key, samples in sorted(groups.items()):
        shift = scan_shift(
            [(t, v) for t, v, _, _ in samples],
            scan.boundaries,
            increase=spec.increase,
            min_samples=MIN_SAMPLES,
            alpha=ALPHA,
        )
        if shift is None:
            continue
        before, after = shift.before_median, shift.after_median
        spread = shift.spread
        delta = after - before if spec.increase else before - after
        ratio = (
            (after / before if before else math.inf)
            if spec.increase
            else (before / after if after else math.inf)
        )
        if delta < max(spec.min_abs, spec.spread_multiple * spread) or ratio < spec.min_ratio:
            continue
        onset = change_onset(samples, shift.boundary, scan, spec.increase, before, delta)
        later = sorted((s for s in samples if s[0] >= onset), key=lambda s: s[0])
        worst = sorted(later, key=lambda s: s[1], reverse=spec.increase)[:3]
        tenant, agent, subject = key
        severity = "high" if ratio >= 3 or (not spec.increase and delta >= 0.2) else "medium"
        caveat = ""
        if shift.unseasoned:
            # A first weekend may just be the week's rhythm: noted, not raised, until a later window
            # with an earlier weekend in its baseline confirms it (the finding's severity then rises).
            severity, caveat = "low", " (first weekend in view: may be the weekly rhythm)"
        change = f"{spec.unit(before)} -> {spec.unit(after)}"
        out.append(
            Finding(
                kind=spec.kind,
                severity=severity,
                tenant=tenant,
                agent=agent,
                subject=subject,
                summary=f"{agent}: {' '.join(filter(None, (spec.what, subject)))} {'rose' if spec.increase else 'fell'} {change} "
                f"(median) from {_day(onset)}{caveat}",
                evidence=[
                    {
                        "trace_id": t,
                        "span_id": s,
                        "why": f"{spec.unit(v)} vs baseline median {spec.unit(before)}",
                    }
                    for _, v, t, s in worst
                ],
                suggestion=spec.suggestion(key),
                confidence=_conf(shift.p),
                first_seen=later[0][0],
                last_seen=later[-1][0],
                detail={
                    "onset": onset,
                    "baseline_median": before,
                    "after_median": after,
                    "baseline_mad": spread / MAD_SCALE if spread else 0.0,
                    "ratio": ratio,
                    "z": shift.z,
                    "p": shift.p,
                    "n_before": shift.n_before,
                    "n_after": shift.n_after,
                },
            )
        )
    return out


def change_onset(
    samples: list[Sample], boundary: float, scan: Scan, increase: bool, before: float, delta: float
) -> float:
    """When a change began, to the sample. The scan dates it by the day boundary where it is most
    significant: for a step that is the next midnight, for a gradual change (a score sliding over two
    days) the day it completed. Near that boundary (two steps back, one forward) the onset is the
    sample from which the values beyond a quarter of the change outnumber the others most (a sign
    CUSUM: robust to the heavy tails of cost and latency, and it finds where a slide began)."""
    step = boundaries_step(scan.window.since, scan.window.until)
    sign = 1.0 if increase else -1.0
    threshold = before + sign * delta / 4
    region = sorted((t, v) for t, v, _, _ in samples if boundary - 2 * step <= t < boundary + step)
    best, best_at, suffix = 0, boundary, 0
    for t, v in reversed(region):
        suffix += 1 if sign * (v - threshold) > 0 else -1
        if suffix > best:
            best, best_at = suffix, t
    return best_at


def _usd(v: float) -> str:
    return f"${v:.4f}"


def _grouped(
    rows: Iterable[Any], sample_of: Callable[[Any], tuple[str, float, str | None] | None]
) -> dict[GroupKey, list[Sample]]:
    """Samples per (tenant, agent, subject); `sample_of(row)` gives (subject, value, span_id) or None."""
    groups: dict[GroupKey, list[Sample]] = defaultdict(list)
    for r in rows:
        sample = sample_of(r)
        if sample is not None:
            subject, value, span_id = sample
            groups[(r.tenant or "", r.agent, subject)].append((r.start_ns / NS, value, r.trace_id, span_id))
    return groups


COST_SPIKE = ShiftSpec(
    kind="cost_spike",
    increase=True,
    min_ratio=1.5,
    min_abs=1e-4,
    unit=_usd,
    what="",
    suggestion=lambda k: (
        f"set a cost budget for agent {k[1]} (budgets: per run and per day), and check what changed on the "
        "onset day: the served model, the prompt, the context size"
    ),
)
TOKEN_BLOAT = ShiftSpec(
    kind="token_bloat",
    increase=True,
    min_ratio=2.0,
    min_abs=200.0,
    unit=lambda v: f"+{v:.0f} tokens/turn",
    what="growth of",
    suggestion=lambda k: (
        f"agent {k[1]} re-sends more context every turn: trim or summarize tool outputs and history, and set "
        "a token budget per run"
    ),
)
LATENCY_REGRESSION = ShiftSpec(
    kind="latency_regression",
    increase=True,
    min_ratio=1.5,
    min_abs=50.0,
    unit=lambda v: f"{v:.0f} ms",
    what="latency of",
    suggestion=lambda k: (
        f"check the {k[2]} dependency of agent {k[1]} (its provider's status, a new region or rate limit); "
        "add a timeout and a retry budget for it"
    ),
)
CONFIDENCE_DROP = ShiftSpec(
    kind="confidence_drop",
    increase=False,
    min_ratio=1.05,
    min_abs=0.05,
    spread_multiple=1.0,
    unit=lambda v: f"{v:.2f}",
    what="confidence of",
    suggestion=lambda k: (
        f"review recent {k[2]} outputs of agent {k[1]}; route low-confidence results to a human (an ask rule "
        "on the confidence score) until the cause is fixed"
    ),
)


def cost_spike(scan: Scan, run_rows: list[Any]) -> list[Finding]:
    return _shift_findings(
        scan, _grouped(run_rows, lambda r: ("cost per run", float(r.cost_usd), None)), COST_SPIKE
    )


def token_bloat(scan: Scan, growth_rows: list[Any]) -> list[Finding]:
    def per_turn(r: Any) -> tuple[str, float, str | None] | None:
        if r.calls < 2 or r.high is None:
            return None
        return "input tokens per turn", (r.high - r.low) / (r.calls - 1), None

    return _shift_findings(scan, _grouped(growth_rows, per_turn), TOKEN_BLOAT)


def latency_regression(scan: Scan, latency_rows: list[Any]) -> list[Finding]:
    def step_ms(r: Any) -> tuple[str, float, str | None] | None:
        return None if r.step is None or r.ms is None else (f"{r.kind} {r.step}", float(r.ms), None)

    return _shift_findings(scan, _grouped(latency_rows, step_ms), LATENCY_REGRESSION)


def confidence_drop(scan: Scan, confidence_rows: list[Any]) -> list[Finding]:
    def score(r: Any) -> tuple[str, float, str | None] | None:
        if r.score is None or not math.isfinite(r.score):
            return None
        return str(r.step), float(r.score), r.span_id

    return _shift_findings(scan, _grouped(confidence_rows, score), CONFIDENCE_DROP)


# -- rates -------------------------------------------------------------------------------------------


def error_rate(
    scan: Scan, bucket_rows: list[Any], bucket_s: int, origin: float | None = None
) -> list[Finding]:
    """Failed calls per tool and agent: a rise at a boundary of the window (exact conditional test,
    see _rates) that is also large in practice. `bucket_rows` may start before the window (`origin`,
    the first bucket's start): a baseline that reaches back that far gives a change late in the window
    as many calls to be compared with as one early in it."""
    groups: dict[GroupKey, dict[int, tuple[int, int]]] = defaultdict(dict)
    for r in bucket_rows:
        groups[(r.tenant or "", r.agent, r.tool_name)][int(r.bucket)] = (int(r.calls), int(r.errors or 0))
    out: list[Finding] = []
    origin = _data.bucket_origin(scan.window.since, bucket_s) if origin is None else origin
    edges = [(b, int((b - origin) // bucket_s)) for b in scan.boundaries]
    for key, buckets in sorted(groups.items()):
        rise = scan_rate_rise(buckets, edges)
        if rise is None:
            continue
        p, boundary = rise.p, rise.boundary
        n0, e0, n1, e1 = rise.n_before, rise.events_before, rise.n_after, rise.events_after
        r0, r1 = rise.rate_before, rise.rate_after
        if p > ALPHA_RATE or e1 < ERROR_MIN_AFTER or r1 - r0 < ERROR_MIN_RISE or r1 < 2 * r0:
            continue
        tenant, agent, tool = key
        examples = _data.error_examples(scan.conn, scan.window, tenant, agent, tool)
        out.append(
            Finding(
                kind="error_rate",
                severity="high" if r1 >= 0.2 else "medium",
                tenant=tenant,
                agent=agent,
                subject=tool,
                summary=f"{agent}: tool {tool} fails {r1:.0%} of calls since {_day(boundary)} (was {r0:.0%})",
                evidence=[
                    {
                        "trace_id": e.trace_id,
                        "span_id": e.span_id,
                        "why": f"{e.error_type or 'error'}: {(e.status_message or '')[:120]}",
                    }
                    for e in examples
                ],
                suggestion=f"look at what changed for {agent} on {_day(boundary)} (agent version, the tool's "
                f"backend); cap retries of {tool} with a loop rule on repeated errors",
                confidence=_conf(p),
                first_seen=boundary,
                last_seen=scan.window.until,
                detail={
                    "onset": boundary,
                    "rate_before": r0,
                    "rate_after": r1,
                    "calls_before": n0,
                    "calls_after": n1,
                    "errors_before": e0,
                    "errors_after": e1,
                    "p": p,
                },
            )
        )
    return out


LOOP_REPEATS = 4
LOOP_BACKGROUND = 0.002  # tolerated share of runs with a repeated call


@dataclass(frozen=True, slots=True)
class Buckets:
    """The agent's runs per time bucket over the window and the baseline before it (see _recurrence)."""

    origin: float
    size_s: int
    runs: dict[tuple[str, str], dict[int, int]]
    edges: list[tuple[float, int]]

    def window_runs(self, agent: tuple[str, str], since: float) -> int:
        start = bucket_of(since, self.origin, self.size_s)
        return sum(n for b, n in self.runs.get(agent, {}).items() if b >= start)


def run_buckets(scan: Scan, run_rows: Iterable[Any], bucket_s: int, origin: float) -> Buckets:
    runs: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in run_rows:
        runs[(r.tenant or "", r.agent)][bucket_of(r.start_ns / NS, origin, bucket_s)] += 1
    edges = [(b, bucket_of(b, origin, bucket_s)) for b in scan.boundaries]
    return Buckets(origin, bucket_s, runs, edges)


def _judge(scan: Scan, buckets: Buckets, agent: tuple[str, str], showing: list[tuple[str, float]],
           background: float) -> Recurrence | None:  # fmt: skip
    return judge_recurrence(
        buckets.runs.get(agent, {}),
        showing,
        buckets.edges,
        origin=buckets.origin,
        bucket_s=buckets.size_s,
        window_since=scan.window.since,
        background=background,
        alpha=ALPHA,
    )


def _rose_with(
    tool: str | None, rows: list[Any], onset: float, buckets: Buckets, agent: tuple[str, str]
) -> bool:
    """Whether this tool's share of repeating runs at least doubled from `onset` (a pooled rise is not
    evidence against a tool the agent repeats as steadily as before)."""
    edge = bucket_of(onset, buckets.origin, buckets.size_s)
    runs = buckets.runs.get(agent, {})
    n0 = sum(n for b, n in runs.items() if b < edge)
    n1 = sum(n for b, n in runs.items() if b >= edge)
    mine = {r.trace_id: r.start_ns / NS for r in rows if r.tool_name == tool}
    e1 = sum(at >= onset for at in mine.values())
    return e1 * n0 >= 2 * (len(mine) - e1) * n1


AgentKey = tuple[str, str]  # (tenant, agent)
LoopRun = tuple[float, str | None, str, str]  # (start, span id, why, tool)


def _repeats_risen(
    scan: Scan,
    repeats: list[Any],
    buckets: Buckets,
    loops: dict[AgentKey, dict[str, LoopRun]],
    ps: dict[AgentKey, list[float]],
) -> None:
    """The runs of repeated calls whose share rose above the agent's baseline, into `loops`."""
    since = scan.window.since
    per_tool: dict[AgentKey, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for r in repeats:
        per_tool[(r.tenant or "", r.agent)][r.tool_name or "?"].append(r)
    for key, tools in per_tool.items():
        # Each tool on its own (a new loop beside steady polling), and all of them together (a new
        # loop spread over the agent's tools, each too rare alone).
        for tool, rows in [*tools.items(), ("", [r for of_tool in tools.values() for r in of_tool])]:
            verdict = _judge(
                scan, buckets, key, [(r.trace_id, r.start_ns / NS) for r in rows], LOOP_BACKGROUND
            )
            if verdict is None:
                continue
            ps[key].append(verdict.p)
            after = since if verdict.onset is None else max(since, verdict.onset - buckets.size_s)
            for r in rows:
                if r.start_ns / NS >= after and (tool or _rose_with(r.tool_name, rows, after, buckets, key)):
                    why = f"{r.tool_name} called {r.n} times with the same arguments"
                    loops[key][r.trace_id] = (r.start_ns / NS, r.span_id, why, r.tool_name or "?")


def _guard_stops(
    since: float,
    guard_hits: list[Any],
    buckets: Buckets,
    loops: dict[AgentKey, dict[str, LoopRun]],
    ps: dict[AgentKey, list[float]],
) -> None:
    """The runs the loop guard stopped, where more than chance, into `loops`."""
    hits: dict[AgentKey, list[Any]] = defaultdict(list)
    for h in guard_hits:
        hits[(h.tenant or "", h.agent)].append(h)
    for key, rows in hits.items():
        stopped = {h.trace_id for h in rows}
        n = max(buckets.window_runs(key, since), len(stopped))
        p = binomial_upper_tail(len(stopped), n, LOOP_BACKGROUND)
        if p > ALPHA:
            continue
        ps[key].append(p)
        for h in rows:
            loops[key].setdefault(
                h.trace_id,
                (h.start_ns / NS, h.span_id, "the loop guard stopped a repeated call", h.tool_name or "?"),
            )


def loop(scan: Scan, repeats: list[Any], guard_hits: list[Any], buckets: Buckets) -> list[Finding]:
    """Runs that repeat one call (same tool, same arguments) or that the loop guard stopped, per agent.
    Repeats of a tool are reported when their share of runs rose above the agent's own baseline (see
    _recurrence: the status polling an agent always does is no loop); the loop guard's stops, which
    end a repetition the policy calls abnormal, when their number is improbable under a small
    background rate. `repeats` reach back into the baseline; `guard_hits` are the window's."""
    since = scan.window.since
    loops: dict[AgentKey, dict[str, LoopRun]] = defaultdict(dict)
    ps: dict[AgentKey, list[float]] = defaultdict(list)
    _repeats_risen(scan, repeats, buckets, loops, ps)
    _guard_stops(since, guard_hits, buckets, loops, ps)
    out: list[Finding] = []
    for (tenant, agent), by_run in sorted(loops.items()):
        n = max(buckets.window_runs((tenant, agent), since), len(by_run))
        k = len(by_run)
        p = min(ps[(tenant, agent)])
        times = sorted(v[0] for v in by_run.values())
        examples = sorted(by_run.items(), key=lambda item: item[1][0])[:3]
        tools = Counter(v[3] for v in by_run.values())
        named = ", ".join(t for t, _ in tools.most_common(3))
        out.append(
            Finding(
                kind="loop",
                severity="high" if k >= 5 or k / n >= 0.05 else "medium",
                tenant=tenant,
                agent=agent,
                subject="repeated calls",
                summary=f"{agent}: {k} of {n} runs repeat the same call ({named}) from {_day(times[0])}",
                evidence=[{"trace_id": t, "span_id": s, "why": why} for t, (_, s, why, _tool) in examples],
                suggestion=f"add a loop cap for {named} (loops: max_repeats) and give the agent a way out "
                "(a wait with backoff, or stop and report) instead of calling again",
                confidence=_conf(p),
                first_seen=times[0],
                last_seen=times[-1],
                detail={
                    "runs_looping": k,
                    "runs": n,
                    "p": p,
                    "background_rate": LOOP_BACKGROUND,
                    "tools": dict(tools),
                },
            )
        )
    return out


# -- changes of model, version ---------------------------------------------------------------------


def model_drift(scan: Scan, usage_rows: list[Any]) -> list[Finding]:
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for r in usage_rows:
        groups[(r.tenant or "", r.agent, r.request_model)].append(r)
    out: list[Finding] = []
    for (tenant, agent, requested), rows in sorted(groups.items()):
        first_of: dict[str, float] = {}
        for r in rows:
            first_of[r.served] = min(first_of.get(r.served, math.inf), r.first_ns / NS)
        for served, onset in sorted(first_of.items(), key=lambda item: item[1]):
            before = [r for r in rows if r.last_ns / NS < onset and r.served != served]
            after = [r for r in rows if r.first_ns / NS >= onset or r.served == served]
            n_before = sum(r.calls for r in before)
            n_new = sum(r.calls for r in after if r.served == served)
            n_after = sum(r.calls for r in after)
            if n_before < 20 or n_new < 10 or n_new < 0.5 * n_after:
                continue
            moved = {}
            for metric in ("cost", "input_tokens", "ms"):
                b = _weighted(before, metric)
                a = _weighted([r for r in after if r.served == served], metric)
                if b > 0 and (a / b >= 1.5 or a / b <= 1 / 1.5):
                    moved[metric] = (b, a)
            old = sorted({r.served for r in before})
            sample = next(r for r in after if r.served == served)
            moved_text = (
                ", ".join(f"{m} {b:.4g} -> {a:.4g}" for m, (b, a) in moved.items()) or "no metric moved"
            )
            out.append(
                Finding(
                    kind="model_drift",
                    severity="medium" if moved else "low",
                    tenant=tenant,
                    agent=agent,
                    subject=f"{requested}: {served}",
                    summary=f"{agent}: requests for {requested} are served by {served} since {_day(onset)} "
                    f"(was {', '.join(old)}); {moved_text} per call",
                    evidence=[
                        {"trace_id": sample.trace_id, "span_id": sample.span_id, "why": f"served by {served}"}
                    ],
                    suggestion=f"pin the model version for {agent} (request {old[0] if old else served} by its "
                    "dated name) or accept the new one after checking its cost and quality",
                    confidence=0.95 if moved else 0.8,
                    first_seen=onset,
                    last_seen=max(r.last_ns / NS for r in after),
                    detail={
                        "onset": onset,
                        "requested": requested,
                        "served": served,
                        "previous": old,
                        "moved": {m: {"before": b, "after": a} for m, (b, a) in moved.items()},
                    },
                )
            )
    return out


def _weighted(rows: Iterable[Any], metric: str) -> float:
    rows = list(rows)
    calls = sum(r.calls for r in rows)
    return sum(float(getattr(r, metric) or 0.0) * r.calls for r in rows) / calls if calls else 0.0


# -- refusals and approvals -----------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_HEXISH = re.compile(r"\b[0-9a-f]{7,}\b")
_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+)$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://([^/?#]+)", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9]+")


def _id_like(m: re.Match[str]) -> str:
    """A word of letters and digits both (a short hash, a generated name) is an id, whatever its length."""
    w = m.group(0)
    return "H" if not w.isdigit() and not w.isalpha() else w


def argument_shape(tool: str, args_json: str | None) -> str:
    """The arguments with their variable parts (numbers, ids, quoted strings, message texts) replaced,
    so that the same kind of call groups together."""
    try:
        args = json.loads(args_json) if args_json else {}
    except ValueError:
        args = {"_": args_json}
    if not isinstance(args, dict):
        args = {"_": args}
    parts = []
    for key in sorted(args):
        parts.append(f"{key}={_value_shape(key, args[key])}")
    return f"{tool}({', '.join(parts)})"


def _value_shape(key: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | float):
        return "N"
    if isinstance(value, dict | list):
        return type(value).__name__
    text = str(value).strip()
    if key in ("command", "cmd", "script", "sql", "query"):
        text = _QUOTED.sub("S", text)
        text = _WORD.sub(_id_like, _HEXISH.sub("H", text[:400]))
        return " ".join(_NUMBER.sub("N", text).split())[:200]
    email = _EMAIL.match(text)
    if email:
        return f"*@{email.group(1).lower()}"
    url = _URL.match(text)
    if url:
        return f"url:{url.group(1).lower()}"
    return "text" if len(text) > 40 or " " in text else _NUMBER.sub("N", text)[:60]


# A refused call shape recurring in this share of an agent's runs is what an agent does by chance now and
# then (the same stray command twice or three times in a fortnight); a cluster is a recurrence that a
# binomial tail against it calls improbable (ALPHA), like loops.
CLUSTER_BACKGROUND = 0.002


def violation_cluster(scan: Scan, refused: list[Any], buckets: Buckets) -> list[Finding]:
    """Blocks and asks of one rule on one normalized call shape in 3+ runs of an agent, where the share
    of its runs meeting them rose above the agent's own baseline (see _recurrence: a rule that asks
    about every large refund, week after week, is the policy working). `refused` reaches back into the
    baseline."""
    clusters: dict[tuple[str, str, str, str, str], list[Any]] = defaultdict(list)
    for r in refused:
        rules = [x for x in (r.rules or "").split(",") if x]
        # Loops are the loop detector's; a human's answer to an ask is the approval detectors'.
        if not rules or any(x.startswith(("loop/", "approval/")) for x in rules):
            continue
        shape = argument_shape(r.tool_name or "?", r.args)
        clusters[(r.tenant or "", r.agent, rules[0], r.verdict, shape)].append(r)
    out: list[Finding] = []
    since = scan.window.since
    for (tenant, agent, rule, verdict, shape), every in sorted(clusters.items()):
        in_window = [r for r in every if r.start_ns / NS >= since]
        if len(in_window) < 3 or len({r.trace_id for r in in_window}) < 3:
            continue
        judged = _judge(
            scan, buckets, (tenant, agent), [(r.trace_id, r.start_ns / NS) for r in every], CLUSTER_BACKGROUND
        )
        if judged is None:
            continue
        after = since if judged.onset is None else max(since, judged.onset - buckets.size_s)
        rows = sorted((r for r in in_window if r.start_ns / NS >= after), key=lambda r: r.start_ns)
        runs = {r.trace_id for r in rows}
        if len(rows) < 3 or len(runs) < 3:
            continue
        n = max(buckets.window_runs((tenant, agent), since), len(runs))
        out.append(
            Finding(
                kind="violation_cluster",
                severity="high" if verdict == "block" and len(rows) >= 5 else "medium",
                tenant=tenant,
                agent=agent,
                subject=f"{rule} {shape}",
                summary=f"{agent}: rule {rule} {'blocked' if verdict == 'block' else 'asked about'} "
                f"{len(rows)} similar calls in {len(runs)} runs: {shape}",
                evidence=[
                    {
                        "trace_id": r.trace_id,
                        "span_id": r.span_id,
                        "decision_id": r.decision_id,
                        "why": f"{verdict} by {rule}",
                    }
                    for r in rows[:3]
                ],
                suggestion=f"the agent keeps trying calls that {rule} refuses: fix its instructions or tools "
                f"so it stops proposing them, or add a specific rule/exception for {shape}",
                confidence=min(0.99, 0.7 + 0.03 * len(rows)),
                first_seen=rows[0].start_ns / NS,
                last_seen=rows[-1].start_ns / NS,
                detail={
                    "rule": rule,
                    "verdict": verdict,
                    "shape": shape,
                    "calls": len(rows),
                    "runs": len(runs),
                    "agent_runs": n,
                    "p": judged.p,
                    "baseline_rate": judged.rate_before,
                    "tool": rows[0].tool_name,
                },
            )
        )
    return out


APPROVAL_MIN = 8
APPROVAL_NULL_RATE = 0.7  # an ask is worth a human when fewer than this share of answers go one way


def approvals(scan: Scan, decided: list[Any]) -> list[Finding]:
    groups: dict[tuple[str, str, str, str], list[Any]] = defaultdict(list)
    for r in decided:
        rules = r.rules if isinstance(r.rules, list) else json.loads(r.rules or "[]")
        groups[(r.tenant or "", r.agent, r.tool, str(rules[0]) if rules else r.tool)].append(r)
    out: list[Finding] = []
    for (tenant, agent, tool, rule), rows in sorted(groups.items()):
        n = len(rows)
        if n < APPROVAL_MIN:
            continue
        granted = sum(r.status == "approved" for r in rows)
        for kind, k, word in (
            ("approval_always_granted", granted, "approved"),
            ("approval_always_denied", n - granted, "denied"),
        ):
            p = binomial_upper_tail(k, n, APPROVAL_NULL_RATE)
            if k / n < 0.95 or p > 0.05:
                continue
            rows.sort(key=lambda r: r.decided_at)
            out.append(
                Finding(
                    kind=kind,
                    severity="medium",
                    tenant=tenant,
                    agent=agent,
                    subject=rule,
                    summary=f"{agent}: people {word} {k} of {n} asks of {rule} on {tool}",
                    evidence=[
                        {
                            "trace_id": None,
                            "decision_id": r.decision_id,
                            "why": f"{r.status} (approval {r.id})",
                        }
                        for r in rows[-3:]
                    ],
                    suggestion=(
                        f"add an exception to {rule} for the calls people always approve, so they stop being asked"
                        if kind == "approval_always_granted"
                        else f"turn {rule} into a block for these calls: people always deny them"
                    ),
                    confidence=_conf(p) if k < n else max(_conf(p), all_successes_lower_bound(n)),
                    first_seen=rows[0].decided_at,
                    last_seen=rows[-1].decided_at,
                    detail={"rule": rule, "tool": tool, "asks": n, word: k, "p": p},
                )
            )
    return out
