"""`regression`: a recorded change (agent version, prompt version, policy revision) whose runs do worse
than the runs before it.

Each change is judged on its own regime: the runs of the new value until the agent's next recorded
change (of any kind), so a later change is not blamed on this one. They must be significantly worse
than every run before the change (the most baseline there is), and also worse, by the same margins, than
the regime just before it (the runs since the previous change), so a harmless change that follows a
harmful one is not blamed for it. A regime too short to judge (REGIME_MIN_RUNS) falls back to every run
of the value, or is not compared. The rates compared are the run's own outcome (its root span failed), runs with any failed
call (tool errors that retries often absorb), blocked runs and, without labels, cost per run; labelled
failures replace the rates when runs on both sides are labelled. Baselines reach back before the window
(_data.with_lookback); only changes first seen inside the window are reported.
A change is not blamed for a metric whose worse period began later (_later_onset): blame needs the
change's own first runs to be worse.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from railguard.diagnose._data import NS
from railguard.diagnose._detectors import _conf, _day
from railguard.diagnose._stats import seasonal_mann_whitney_greater, seasonal_proportion_greater
from railguard.diagnose.findings import Finding

ALPHA = 1e-3
DAY_S = 86_400
REGIME_MIN_RUNS = 30  # runs a regime needs on each side before it replaces the whole history
MIN_RUNS = 10

ValueOf = Callable[[Any], str | None]


def regression(
    scan: Any,
    run_rows: list[Any],
    labels: dict[str, int],
    revisions: dict[str, str] | None = None,
    failed: set[str] | None = None,
) -> list[Finding]:
    """Findings for the changes first seen inside `scan.window`; `run_rows` may reach back further
    (the baseline). `failed`: trace ids of runs whose root span failed."""
    by_agent: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in run_rows:
        by_agent[(r.tenant or "", r.agent)].append(r)
    dimensions: list[tuple[str, ValueOf]] = [
        ("version", lambda r: r.agent_version),
        ("prompt version", lambda r: r.prompt_version),
    ]
    if revisions:
        dimensions.append(("policy revision", lambda r: revisions.get(r.trace_id)))
    outcome = _Outcome(labels, failed)
    out: list[Finding] = []
    for (tenant, agent), rows in sorted(by_agent.items()):
        rows.sort(key=lambda r: r.start_ns)
        changes = [(onset, dim, value, of) for dim, of in dimensions for value, onset in _changes(rows, of)]
        times = sorted({c[0] for c in changes})
        for onset, dimension, value, value_of in sorted(changes, key=lambda c: (c[0], c[1])):
            if onset < scan.window.since:
                continue  # judged by an earlier window
            before, recent_since, after = _regime(rows, value_of, value, onset, times)
            worse = _worse_metrics(before, after, outcome, recent_since)
            if worse:
                out.append(
                    _finding(tenant, agent, dimension, value, value_of, onset, before, after, worse, outcome)
                )
    return out


def _changes(rows: list[Any], value_of: ValueOf) -> list[tuple[str, float]]:
    """(value, first seen) for every value but the first one seen."""
    first_of: dict[str, float] = {}
    for r in rows:
        value = value_of(r)
        if value and value not in first_of:
            first_of[value] = r.start_ns / NS
    return sorted(first_of.items(), key=lambda item: item[1])[1:]


def _regime(
    rows: list[Any], value_of: ValueOf, value: str, onset: float, change_times: list[float]
) -> tuple[list[Any], float | None, list[Any]]:
    """Every run before the change (other values); when the previous change of any kind was, if enough
    runs came since (else None); the runs of the new value until the next change of any kind (all of
    them when too few)."""
    earlier = [t for t in change_times if t < onset]
    later = [t for t in change_times if t > onset]
    start = earlier[-1] if earlier else -math.inf
    end = later[0] if later else math.inf
    all_before = [r for r in rows if r.start_ns / NS < onset and value_of(r) not in (None, value)]
    all_after = [r for r in rows if value_of(r) == value]
    before = [r for r in all_before if r.start_ns / NS >= start]
    after = [r for r in all_after if r.start_ns / NS < end]
    return (
        all_before,
        start if len(before) >= REGIME_MIN_RUNS else None,
        after if len(after) >= REGIME_MIN_RUNS else all_after,
    )


class _Outcome:
    """What happened to a run: labelled failure (if labelled), root span failed, any failed call."""

    def __init__(self, labels: dict[str, int], failed: set[str] | None) -> None:
        self.labels, self.failed = labels, failed

    def why(self, r: Any) -> str:
        if self.labels.get(r.trace_id) == 1:
            return "labelled a failure"
        if (self.failed is not None and r.trace_id in self.failed) or r.errors:
            return "failed"
        return "blocked" if r.blocks else "ran"

    def notable(self, r: Any) -> bool:
        return self.why(r) != "ran"


def _timed(rows: list[Any], value_of: Callable[[Any], float]) -> list[tuple[float, float]]:
    return [(r.start_ns / NS, value_of(r)) for r in rows]


def _worse_metrics(
    before: list[Any], after: list[Any], outcome: _Outcome, recent_since: float | None = None
) -> list[tuple[str, float, float, float]]:
    if len(before) < MIN_RUNS or len(after) < MIN_RUNS:
        return []
    labels = outcome.labels
    # Samples are (time, value), compared season by season (weekdays with weekdays) when the runs before
    # show a weekly rhythm or the two sides' weekend shares differ: a change first seen just before a
    # weekend is not blamed for its different work.
    labelled_before = [(r.start_ns / NS, float(labels[r.trace_id])) for r in before if r.trace_id in labels]
    labelled_after = [(r.start_ns / NS, float(labels[r.trace_id])) for r in after if r.trace_id in labels]
    rates: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {}
    if len(labelled_before) >= 5 and len(labelled_after) >= 5:
        rates["labelled failure rate"] = (labelled_before, labelled_after)
    else:
        failed = outcome.failed
        if failed:

            def root(r: Any) -> float:
                return float(r.trace_id in failed)

            rates["failed-run rate"] = (_timed(before, root), _timed(after, root))

        def any_error(r: Any) -> float:
            return float(r.errors > 0)

        def blocked(r: Any) -> float:
            return float(r.blocks > 0)

        name = "runs with a failed call" if failed else "failed-run rate"
        rates[name] = (_timed(before, any_error), _timed(after, any_error))
        rates["blocked-run rate"] = (_timed(before, blocked), _timed(after, blocked))
    worse = []
    tests = len(rates) + 1
    for name, (b, a) in rates.items():
        _z, p, rb, ra = seasonal_proportion_greater(b, a)
        if (
            p * tests <= ALPHA
            and _rate_rose(rb, ra)
            and _recent_agrees(b, a, recent_since, _rate_rose)
            and not _later_onset(b, a, _rate_rose)
        ):
            worse.append((name, rb, ra, p * tests))
    if not labelled_before:
        costs = _timed(before, lambda r: float(r.cost_usd)), _timed(after, lambda r: float(r.cost_usd))
        _z, p, mb, ma = seasonal_mann_whitney_greater(*costs)
        if (
            p * tests <= ALPHA
            and _cost_rose(mb, ma)
            and _recent_agrees(*costs, recent_since, _cost_rose)
            and not _later_onset(*costs, _cost_rose)
        ):
            worse.append(("cost per run", mb, ma, p * tests))
    return worse


LATER_ALPHA = 0.05  # the change's first day against the rest of its regime (one test)
LATER_SCAN_ALPHA = 1e-2  # any later midnight, Bonferroni-corrected over the midnights tried


def _later_onset(
    b: list[tuple[float, float]], a: list[tuple[float, float]], rose: Callable[[float, float], bool]
) -> bool:
    """Whether the change's worse period began later than the change: its runs before some midnight
    (at least MIN_RUNS of them) were no worse than the baseline, by the same margins, and its runs
    after it were significantly worse than those. The first such midnight is one test (LATER_ALPHA);
    the later ones a scan (LATER_SCAN_ALPHA, Bonferroni). Something else happened then (a failure of
    its own, an upstream outage); blaming the change needs its own first runs to be worse."""
    compare = seasonal_mann_whitney_greater if rose is _cost_rose else seasonal_proportion_greater
    a = sorted(a)
    tried: list[tuple[float, int]] = []
    split = 0
    for day in range(math.floor(a[0][0] / DAY_S) + 1, math.floor(a[-1][0] / DAY_S) + 1):
        while split < len(a) and a[split][0] < day * DAY_S:
            split += 1
        if split >= MIN_RUNS and len(a) - split >= MIN_RUNS:
            tried.append((compare(a[:split], a[split:])[1], split))
    if not tried:
        return False
    best_p, best = min(tried)
    splits = [s for p, s in tried[:1] if p <= LATER_ALPHA]
    splits += [best] if best_p * len(tried) <= LATER_SCAN_ALPHA else []
    for split in splits:
        _z, _p, rb, rf = compare(b, a[:split])
        if not rose(rb, rf):
            return True
    return False


def _rate_rose(before: float, after: float) -> bool:
    return after - before >= 0.05 and after >= 1.5 * before


def _cost_rose(before: float, after: float) -> bool:
    return before > 0 and after >= 1.5 * before


def _recent_agrees(
    b: list[tuple[float, float]],
    a: list[tuple[float, float]],
    recent_since: float | None,
    rose: Callable[[float, float], bool],
) -> bool:
    """Whether the change is also worse than the regime just before it (point estimates, the same
    margins; see the module's docstring). True when that regime is too short to say."""
    recent = [sample for sample in b if recent_since is not None and sample[0] >= recent_since]
    if len(recent) < MIN_RUNS:
        return True
    compare = seasonal_mann_whitney_greater if rose is _cost_rose else seasonal_proportion_greater
    _z, _p, rb, ra = compare(recent, a)
    return rose(rb, ra)


def _finding(
    tenant: str,
    agent: str,
    dimension: str,
    value: str,
    value_of: ValueOf,
    onset: float,
    before: list[Any],
    after: list[Any],
    worse: list[tuple[str, float, float, float]],
    outcome: _Outcome,
) -> Finding:
    previous = sorted({v for r in before if (v := value_of(r))})
    p = min(w[3] for w in worse)
    examples = [r for r in after if outcome.notable(r)][:3]
    back_to = previous[-1] if previous else f"the previous {dimension}"
    return Finding(
        kind="regression",
        severity="high" if any(w[2] >= 2 * w[1] + 0.1 for w in worse) else "medium",
        tenant=tenant,
        agent=agent,
        subject=f"{dimension} {value}",
        summary=f"{agent}: {dimension} {value} (from {_day(onset)}) is worse than "
        f"{', '.join(previous) or 'the runs before'}: "
        + "; ".join(f"{name} {b:.3g} -> {a:.3g}" for name, b, a, _p in worse),
        evidence=[{"trace_id": r.trace_id, "span_id": None, "why": outcome.why(r)} for r in examples],
        suggestion=_regression_fix(agent, dimension, value, back_to),
        confidence=_conf(p),
        first_seen=onset,
        last_seen=max(r.start_ns / NS for r in after),
        detail={
            "onset": onset,
            "dimension": dimension,
            "value": value,
            "previous": previous,
            "runs_before": len(before),
            "runs_after": len(after),
            "worse": {name: {"before": b, "after": a, "p": pv} for name, b, a, pv in worse},
        },
    )


def _regression_fix(agent: str, dimension: str, value: str, back_to: str) -> str:
    if dimension == "version":
        return f"roll {agent} back to {back_to} or fix what {value} changed; gate releases on it (railguard gate)"
    if dimension == "prompt version":
        return (
            f"roll {agent}'s prompt back to {back_to} or fix what prompt {value} changed; "
            "evaluate prompt changes on recorded runs before shipping them"
        )
    return (
        f"backtest policy revision {value} against {back_to} and roll back the rules that refuse good calls"
    )
