"""Classes of history the first synthetic set lacked (see benchmarks/data/agent_histories2.py): a weekly
rhythm in the work itself, a legitimate change first seen before a weekend, generated ids in refused
calls; and a floor on a reduced held-out history. Timestamps are simulated, never the wall clock."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from railguard.diagnose import list_findings, run_detectors, severity_rank
from railguard.diagnose._stats import (
    RHYTHM_MIN,
    mann_whitney_greater,
    median,
    proportion_greater,
    scan_shift,
    seasonal_mann_whitney_greater,
    seasonal_proportion_greater,
    weekly_rhythm,
)
from railguard.store import SpanRow, Store, open_store


def _load_generator() -> ModuleType:
    """The held-out generator, by path: the tests never import the benchmarks package (CI runs
    without it on the import path)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "agent_histories2.py"
    spec = importlib.util.spec_from_file_location("railguard_agent_histories2", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


h2 = _load_generator()
DAY_S = 86_400
NS = 1_000_000_000
MONDAY = 1_709_510_400.0  # 2024-03-04 00:00 UTC


def _write_runs(
    store: Store,
    *,
    spike_from: float | None = None,
    version_from: float | None = None,
    weekly: bool = True,
    version_fails: float | None = None,
) -> None:
    """One agent over two weeks: 20 runs per weekday, 12 per weekend day, and (weekly) the weekend's
    runs are batch jobs that cost three times as much and fail more often (that is the agent's normal
    week). version_fails: the failure rate of version 2.0's runs."""
    rng = random.Random(3)
    rows: list[SpanRow] = []
    for day in range(14):
        weekend = day % 7 >= 5
        batch = weekend and weekly
        for i in range(12 if weekend else 20):
            at = MONDAY + day * DAY_S + (i + rng.random()) * DAY_S / 21
            cost = 0.01 * rng.lognormvariate(0, 0.3) * (3 if batch else 1)
            if spike_from is not None and at >= spike_from:
                cost *= 3
            version = "2.0" if version_from is not None and at >= version_from else "1.0"
            fails = (
                version_fails if version_fails is not None and version == "2.0" else 0.3 if batch else 0.05
            )
            failed = rng.random() < fails
            trace = f"{day:04d}{i:04d}".ljust(32, "0")
            common = {"tenant": "t", "agent": "batcher", "agent_version": version}
            rows.append(
                SpanRow(
                    trace,
                    f"{i:04d}".ljust(16, "1"),
                    f"{i:04d}".ljust(16, "0"),
                    "chat m",
                    "client",
                    int(at * NS),
                    int((at + 1) * NS),
                    operation="chat",
                    request_model="m",
                    response_model="m-1",
                    input_tokens=1000,
                    output_tokens=100,
                    cost_usd=cost,
                    status="error" if failed else "unset",
                    **common,
                )
            )
            rows.append(
                SpanRow(
                    trace,
                    f"{i:04d}".ljust(16, "0"),
                    None,
                    "invoke_agent batcher",
                    "internal",
                    int(at * NS),
                    int((at + 2) * NS),
                    operation="invoke_agent",
                    **common,
                )
            )
    store.write_spans(rows)


def _diagnose(store: Store) -> list:  # type: ignore[type-arg]
    until = MONDAY + 14 * DAY_S
    return run_detectors(store, since=MONDAY, until=until, now=until, save=False).findings


def test_weekend_work_is_not_a_cost_spike(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Before: the last weekend's runs against a baseline of mostly weekdays looked like a 3x spike.
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        _write_runs(store)
        loud = [f.summary for f in _diagnose(store) if severity_rank(f.severity) >= 1]
    assert loud == []


def test_a_real_spike_is_still_found_beside_the_weekly_rhythm(tmp_path) -> None:  # type: ignore[no-untyped-def]
    onset = MONDAY + 9 * DAY_S + 3600  # a Wednesday
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        _write_runs(store, spike_from=onset)
        spikes = [f for f in _diagnose(store) if f.kind == "cost_spike"]
    assert spikes and abs(spikes[0].first_seen - onset) < DAY_S, [f.summary for f in spikes]


def test_a_version_first_seen_on_friday_is_not_blamed_for_the_weekend(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Before: version 2.0's runs were mostly weekend runs (costlier, failing more) against a weekday baseline.
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        _write_runs(store, version_from=MONDAY + 11 * DAY_S)
        regressions = [f.summary for f in _diagnose(store) if f.kind == "regression"]
    assert regressions == []


def test_a_version_first_seen_on_saturday_that_fails_more_is_found(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Before: an agent without a weekly rhythm had its new version's weekend runs compared with the
    # previous weekend's only, and a real regression first seen on a Saturday went unreported.
    onset = MONDAY + 12 * DAY_S  # a Saturday
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        _write_runs(store, version_from=onset, weekly=False, version_fails=0.4)
        regressions = [f for f in _diagnose(store) if f.kind == "regression"]
    assert regressions and abs(regressions[0].first_seen - onset) < DAY_S


def _samples(
    seed: int, *, weekend_factor: float = 1.0, step_at: float | None = None
) -> list[tuple[float, float]]:
    """Two weeks of (time, value) samples, 15 a day; weekend values times weekend_factor; x1.6 from step_at."""
    rng = random.Random(seed)
    out = []
    for day in range(14):
        for i in range(15):
            at = MONDAY + day * DAY_S + (i + rng.random()) * DAY_S / 16
            v = rng.lognormvariate(0, 0.4) * (weekend_factor if day % 7 >= 5 else 1.0)
            out.append((at, v * (1.6 if step_at is not None and at >= step_at else 1.0)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_without_a_weekly_rhythm_the_comparisons_are_the_pooled_ones(seed: int) -> None:
    samples = _samples(seed, step_at=MONDAY + 8 * DAY_S)
    boundaries = [MONDAY + d * DAY_S for d in range(1, 14)]
    assert not weekly_rhythm(samples)
    shift = scan_shift(samples, boundaries, min_samples=8, alpha=1.0)
    pooled = [
        (mann_whitney_greater([v for t, v in samples if t < b], [v for t, v in samples if t >= b])[0], b)
        for b in boundaries
    ]
    z, boundary = max(pooled)
    base = [v for t, v in samples if t < boundary]
    before, after = [s for s in samples if s[0] < boundary], [s for s in samples if s[0] >= boundary]
    assert shift is not None and shift.boundary == boundary
    if weekly_rhythm(before):
        # Noise shows a "rhythm" at the gate's level now and then; the seasons' combined test then
        # costs a little power, not the finding.
        assert z > shift.z > 0.9 * z
        return
    assert (shift.z, shift.before_median, shift.n_before) == (z, median(base), len(base))
    assert seasonal_mann_whitney_greater(before, after)[:2] == mann_whitney_greater(
        base, [v for _, v in after]
    )
    flags = [(t, float(v > 1.5)) for t, v in samples]
    rate_before = [f for f in flags if f[0] < boundary]
    k0, k1 = sum(v for _, v in rate_before), sum(v for t, v in flags if t >= boundary)
    expected = proportion_greater(int(k0), len(rate_before), int(k1), len(flags) - len(rate_before))
    assert seasonal_proportion_greater(rate_before, [f for f in flags if f[0] >= boundary])[:2] == expected


def test_a_weekly_rhythm_is_seen_only_with_evidence_from_both_seasons() -> None:
    assert weekly_rhythm(_samples(1, weekend_factor=3.0))
    weekdays_only = [(t, v) for t, v in _samples(1, weekend_factor=3.0) if (t - MONDAY) // DAY_S % 7 < 5]
    saturday = _samples(1, weekend_factor=3.0)[75 : 75 + RHYTHM_MIN - 1]  # day 5 starts at sample 75
    assert not weekly_rhythm(weekdays_only + saturday)


def test_refused_calls_with_short_generated_ids_cluster(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Before: a 6-character hash in a path made every refused call its own shape, so no cluster formed.
    rng = random.Random(1)
    rows = []
    for i in range(6):
        at = MONDAY + i * 3600
        trace = f"{i:032x}"
        args = {"command": f"rm -rf /srv/data/{rng.getrandbits(24):06x}/{rng.randint(1, 999)}"}
        rows += [
            SpanRow(trace, f"{i:016x}", None, "invoke_agent a", "internal", int(at * NS), int((at + 1) * NS),
                    operation="invoke_agent", tenant="t", agent="a"),
            SpanRow(trace, f"{i + 100:016x}", f"{i:016x}", "execute_tool run_script", "internal",
                    int(at * NS), int(at * NS) + 10, operation="execute_tool", tool_name="run_script",
                    verdict="block", rules="ops/no-recursive-delete", decision_id=f"{i:016x}",
                    attributes={"gen_ai.tool.call.arguments": json.dumps(args)}, tenant="t", agent="a"),
        ]  # fmt: skip
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        store.write_spans(rows)
        found = run_detectors(store, since=MONDAY, until=MONDAY + DAY_S, now=MONDAY + DAY_S, save=False)
    clusters = [f for f in found.findings if f.kind == "violation_cluster"]
    assert len(clusters) == 1 and clusters[0].detail["runs"] == 6, [f.summary for f in clusters]


def test_reduced_held_out_history_floor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A reduced held-out history (fewer agents, a third of the traffic, four weeks), diagnosed weekly:
    few false alarms on agents without a plant and most plants found near their onset."""
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        truth = h2.generate(store, seed=3, days=28, agents=14, scale=0.5)
        for week in range(1, 5):
            until = truth.start_ts + week * 7 * DAY_S
            run_detectors(store, since=max(truth.start_ts, until - 14 * DAY_S), until=until, now=until)
        findings = list_findings(store, limit=5000)
    clean = set(truth.clean_agents())
    alarms = [f.summary for f in findings if f.agent in clean and severity_rank(f.severity) >= 1]
    found = [
        p
        for p in truth.plants
        if any(
            (f.kind, f.agent) == (p.finding_kind, p.agent) and abs(f.first_seen - p.onset_ts) <= DAY_S
            for f in findings
        )
    ]
    assert len(alarms) <= FLOOR_ALARMS, alarms
    assert len(found) >= FLOOR_FOUND, [p for p in truth.plants if p not in found]


# Measured on this reduced history: 0 alarms (1 before the seasonal comparison) and 1 of 10 plants
# near its onset (a third of the traffic over four weeks leaves most plants too faint to call at 1e-3).
FLOOR_ALARMS = 0
FLOOR_FOUND = 1
