"""Classes the second held-out history missed or raised falsely (benchmarks/data/agent_histories2.py):
rate rises tested exactly and against a baseline reaching before the window, regressions judged on
the run's own outcome and within their regime, gradual confidence drops dated from their start,
a first weekend that may be the week's rhythm, stray refusals that recur by chance. Every series is
built here, on simulated timestamps."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from railguard.diagnose import _data, run_detectors, severity_rank
from railguard.diagnose._rates import conditional_rise_p, scan_rate_rise
from railguard.diagnose._stats import scan_shift
from railguard.diagnose.findings import Finding
from railguard.store import SpanRow, Store, open_store

DAY_S = 86_400
NS = 1_000_000_000
MONDAY = 1_709_510_400.0  # 2024-03-04 00:00 UTC


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as s:
        yield s


class _Runs:
    """One agent's runs: a root span, a model call and tool calls, written in one batch."""

    def __init__(self, seed: int = 1, agent: str = "bot") -> None:
        self.rng = random.Random(seed)
        self.rows: list[SpanRow] = []
        self.agent = agent
        self.count = 0

    def run(
        self,
        at: float,
        *,
        version: str = "1.0",
        prompt: str = "p1",
        tool_errors: int = 0,
        failed: bool = False,
        confidence: float | None = None,
        block: tuple[str, str] | None = None,
    ) -> None:
        self.count += 1
        trace = f"{self.count:08d}".ljust(32, "a")
        root = f"{self.count:08d}".ljust(16, "b")
        common = {"tenant": "t", "agent": self.agent, "agent_version": version, "prompt_version": prompt}
        span = iter(range(100))

        def sid() -> str:
            return f"{self.count:08d}{next(span):02d}".ljust(16, "c")

        self.rows.append(
            SpanRow(trace, sid(), root, "chat m", "client", int(at * NS), int((at + 1) * NS),
                    operation="chat", request_model="m", response_model="m-1", input_tokens=500,
                    output_tokens=50, cost_usd=0.001 * self.rng.lognormvariate(0, 0.2), **common)
        )  # fmt: skip
        for i in range(3):
            error = i < tool_errors
            attributes = {"gen_ai.tool.call.arguments": f'{{"q": "{self.count}-{i}"}}'}
            if confidence is not None and i == 0:
                attributes["railguard.confidence"] = confidence
            self.rows.append(
                SpanRow(trace, sid(), root, "execute_tool lookup", "internal",
                        int((at + 1 + i) * NS), int((at + 1.2 + i) * NS),
                        status="error" if error else "unset", operation="execute_tool",
                        tool_name="lookup", attributes=attributes, **common)
            )  # fmt: skip
        if block is not None:
            rule, command = block
            self.rows.append(
                SpanRow(trace, sid(), root, "execute_tool shell", "internal", int((at + 5) * NS),
                        int((at + 5) * NS) + 1000, operation="execute_tool", tool_name="shell",
                        verdict="block", rules=rule, decision_id=sid(),
                        attributes={"gen_ai.tool.call.arguments": f'{{"command": "{command}"}}'}, **common)
            )  # fmt: skip
        self.rows.append(
            SpanRow(trace, root, None, f"invoke_agent {self.agent}", "internal", int(at * NS),
                    int((at + 6) * NS), status="error" if failed else "unset",
                    operation="invoke_agent", **common)
        )  # fmt: skip

    def write(self, store: Store) -> None:
        store.write_spans(self.rows)


def _weekday_times(rng: random.Random, days: range, per_day: int) -> Iterator[float]:
    """`per_day` runs at random times of each weekday (no weekend work: no weekly rhythm to model)."""
    for day in days:
        if day % 7 < 5:
            yield from sorted(MONDAY + day * DAY_S + rng.uniform(0, DAY_S) for _ in range(per_day))


def _findings(store: Store, since_day: int, until_day: int) -> list[Finding]:
    until = MONDAY + until_day * DAY_S
    return run_detectors(store, since=MONDAY + since_day * DAY_S, until=until, now=until, save=False).findings


# -- rates -------------------------------------------------------------------------------------------


def test_conditional_rise_p_is_the_exact_binomial_tail() -> None:
    # 3 events, all after the boundary, the exposure split evenly: P = 0.5^3.
    assert conditional_rise_p(0, 100, 3, 100) == pytest.approx(0.125)
    assert conditional_rise_p(5, 100, 0, 100) == 1.0
    assert conditional_rise_p(0, 0, 3, 100) == 1.0


def test_rate_scan_dates_a_step_and_ignores_a_steady_or_falling_rate() -> None:
    edges = [(float(day), day) for day in range(1, 20)]
    step = {day: (100, 1 if day < 12 else 12) for day in range(20)}
    rise = scan_rate_rise(step, edges)
    assert rise is not None and rise.boundary == 12.0 and rise.p < 1e-6
    steady = {day: (100, 2) for day in range(20)}
    rise = scan_rate_rise(steady, edges)
    assert rise is not None and rise.p > 0.5
    falling = {day: (100, 10 if day < 12 else 1) for day in range(20)}
    rise = scan_rate_rise(falling, edges)
    assert rise is not None and rise.p > 0.5


def test_an_error_rise_late_in_the_window_is_judged_against_the_days_before_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 42 calls a weekday fail 1% of the time; from day 15.5 (a Tuesday noon) 8%. The window (days 14-28)
    # holds a day and a half before the rise: by itself too little to tell a rise from noise at the
    # family-wise bar. The lookback adds two weeks of baseline.
    runs = _Runs(seed=4)
    rng = random.Random(4)
    onset = MONDAY + 15.5 * DAY_S
    for at in _weekday_times(rng, range(28), 14):
        rate = 0.08 if at >= onset else 0.01
        runs.run(at, tool_errors=sum(rng.random() < rate for _ in range(3)))
    runs.write(store)
    errors = [f for f in _findings(store, 14, 28) if f.kind == "error_rate"]
    assert errors, "the rise was not found"
    assert abs(errors[0].first_seen - onset) <= DAY_S
    assert errors[0].detail["calls_before"] > 42 * 10  # the baseline reaches before the window
    monkeypatch.setattr(_data, "BASELINE_LOOKBACK_S", 0)
    assert [f for f in _findings(store, 14, 28) if f.kind == "error_rate"] == []


def test_a_steady_error_rate_with_a_bad_hour_is_no_rise(store: Store) -> None:
    runs = _Runs(seed=5)
    rng = random.Random(5)
    for at in _weekday_times(rng, range(28), 20):
        bad_hour = MONDAY + 20 * DAY_S + 10 * 3600 <= at < MONDAY + 20 * DAY_S + 11 * 3600
        runs.run(at, tool_errors=sum(rng.random() < (0.5 if bad_hour else 0.02) for _ in range(3)))
    runs.write(store)
    assert [f.summary for f in _findings(store, 14, 28) if f.kind == "error_rate"] == []


# -- regressions -------------------------------------------------------------------------------------


def test_a_version_whose_runs_fail_is_found_through_retried_tool_errors(store: Store) -> None:
    # A third of the runs retry a failed call (their error count is >0) whatever the version; version
    # 2.0's runs themselves fail 20% of the time against 2%. Runs with any error barely move (33% ->
    # 45%); the run's own outcome does.
    runs = _Runs(seed=6)
    rng = random.Random(6)
    onset = MONDAY + 16 * DAY_S + 3 * 3600
    for at in _weekday_times(rng, range(21), 12):
        new = at >= onset
        runs.run(
            at,
            version="2.0" if new else "1.0",
            tool_errors=int(rng.random() < 0.33),
            failed=rng.random() < (0.2 if new else 0.02),
        )
    runs.write(store)
    found = [f for f in _findings(store, 7, 21) if f.kind == "regression"]
    assert [f.subject for f in found] == ["version 2.0"], [f.summary for f in found]
    assert "failed-run rate" in found[0].summary
    assert found[0].first_seen == pytest.approx(onset, abs=DAY_S)


def test_a_harmless_version_after_a_harmful_prompt_is_not_blamed(store: Store) -> None:
    # Prompt p2 (day 9) makes 30% of runs fail; version 1.1 (day 14) changes nothing. Compared with
    # every run before it, 1.1 looks worse; compared with the regime just before it (p2's runs), it is not.
    runs = _Runs(seed=7)
    rng = random.Random(7)
    prompt_at, version_at = MONDAY + 9 * DAY_S, MONDAY + 14 * DAY_S
    for at in _weekday_times(rng, range(21), 15):
        bad = at >= prompt_at
        runs.run(
            at,
            prompt="p2" if bad else "p1",
            version="1.1" if at >= version_at else "1.0",
            failed=rng.random() < (0.3 if bad else 0.02),
        )
    runs.write(store)
    subjects = [f.subject for f in _findings(store, 7, 21) if f.kind == "regression"]
    assert subjects == ["prompt version p2"]


# -- gradual drops, seasons, recurrences --------------------------------------------------------------


def test_a_confidence_slide_is_found_and_dated_from_its_start(store: Store) -> None:
    # Scores scatter with sd 0.06 around 0.86; from day 9 they slide by 0.10 over two days. The drop is
    # less than twice the scatter (the bar for costs), and it is most significant once complete.
    runs = _Runs(seed=8)
    rng = random.Random(8)
    start = MONDAY + 9 * DAY_S + 6 * 3600
    for day in range(14):
        for _ in range(25):
            at = MONDAY + day * DAY_S + rng.uniform(0, DAY_S)
            slide = min(1.0, max(0.0, (at - start) / (2 * DAY_S)))
            runs.run(at, confidence=rng.gauss(0.86, 0.06) - 0.10 * slide)
    runs.write(store)
    drops = [f for f in _findings(store, 0, 14) if f.kind == "confidence_drop"]
    assert drops, "the slide was not found"
    assert abs(drops[0].first_seen - start) <= DAY_S, (drops[0].first_seen - start) / DAY_S


def test_a_first_weekend_that_differs_is_only_noted() -> None:
    # Seven days from a Monday: weekday samples near 1.0, weekend ones near 2.5. With no weekend
    # before it, the weekend cannot be told from a change: the shift is marked unseasoned.
    rng = random.Random(9)
    samples = [
        (MONDAY + day * DAY_S + rng.uniform(0, DAY_S), rng.gauss(2.5 if day >= 5 else 1.0, 0.1))
        for day in range(7)
        for _ in range(20)
    ]
    boundaries = [MONDAY + day * DAY_S for day in range(1, 7)]
    shift = scan_shift(samples, boundaries)
    assert shift is not None and shift.unseasoned and shift.boundary == MONDAY + 5 * DAY_S
    # The same week after an earlier, equally different weekend: no shift at all.
    earlier = [(t - 7 * DAY_S, v) for t, v in samples]
    boundaries = [MONDAY + day * DAY_S for day in range(-6, 7)]
    assert scan_shift(earlier + samples, boundaries) is None


def test_a_stray_refusal_recurring_by_chance_is_no_cluster(store: Store) -> None:
    runs = _Runs(seed=10)
    rng = random.Random(10)
    times = list(_weekday_times(rng, range(14), 150))
    strays = set(rng.sample(range(len(times)), 3))
    for i, at in enumerate(times):
        runs.run(at, block=("fs/secrets", f"cat ~/.ssh/id{rng.randint(1, 9)}x") if i in strays else None)
    runs.write(store)
    assert [f.summary for f in _findings(store, 0, 14) if f.kind == "violation_cluster"] == []


def test_a_refusal_new_in_a_quiet_agent_is_a_cluster(store: Store) -> None:
    # A week of 20 runs without it, then a third of the runs meet the rule.
    runs = _Runs(seed=11)
    rng = random.Random(11)
    times = list(_weekday_times(rng, range(14), 4))
    for i, at in enumerate(times):
        new = at >= MONDAY + 7 * DAY_S and i % 3 == 0
        runs.run(at, block=("git/no-force-push", f"git push --force origin f{i}x") if new else None)
    runs.write(store)
    clusters = [f for f in _findings(store, 0, 14) if f.kind == "violation_cluster"]
    assert len(clusters) == 1 and severity_rank(clusters[0].severity) >= 1
    assert clusters[0].first_seen >= MONDAY + 7 * DAY_S


def test_a_refusal_recurring_steadily_from_the_start_is_the_agents_normal(store: Store) -> None:
    # The same rule met by a tenth of the runs every day of the history: no rise, no cluster.
    runs = _Runs(seed=11)
    rng = random.Random(11)
    times = list(_weekday_times(rng, range(14), 4))
    for i, at in enumerate(times):
        block = ("git/no-force-push", f"git push --force origin f{i}x") if i % 10 == 3 else None
        runs.run(at, block=block)
    runs.write(store)
    assert [f.summary for f in _findings(store, 0, 14) if f.kind == "violation_cluster"] == []
