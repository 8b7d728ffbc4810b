"""What an agent always does is no finding: status polling it shows every week is no loop, an ask rule
that fires on a steady share of its runs is no cluster, and a change is not blamed for a failure that
began days after it. A repetition or refusal that is new (or whose share rose) still is. Every series
is built here, on simulated timestamps."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from railguard.diagnose import run_detectors
from railguard.diagnose._recurrence import judge_recurrence
from railguard.diagnose.findings import Finding
from railguard.store import SpanRow, Store, open_store

DAY_S = 86_400
NS = 1_000_000_000
MONDAY = 1_709_510_400.0  # 2024-03-04 00:00 UTC


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'h.db'}") as s:
        yield s


class _Agent:
    """One agent's runs: a root span and tool calls (some repeated with the same arguments, some
    refused), written in one batch."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows: list[SpanRow] = []
        self.count = 0

    def run(
        self,
        at: float,
        *,
        repeat: tuple[str, int] | None = None,
        refused: tuple[str, str, str] | None = None,
        version: str = "1.0",
        failed: bool = False,
    ) -> None:
        self.count += 1
        trace = f"{self.count:08d}".ljust(32, "a")
        root = f"{self.count:08d}".ljust(16, "b")
        common = {"tenant": "t", "agent": "ops", "agent_version": version}
        calls: list[tuple[str, dict[str, object], str | None, str | None]] = [
            ("search", {"q": f"{self.count}-{i}"}, None, None) for i in range(3)
        ]
        if repeat is not None:
            tool, times = repeat
            calls += [(tool, {"job": f"j{self.count}"}, None, None)] * times
        if refused is not None:
            verdict, rule, tool = refused
            calls.append((tool, {"amount": self.rng.randint(101, 900)}, verdict, rule))
        t = at
        for i, (tool, args, verdict, rule) in enumerate(calls):
            self.rows.append(
                SpanRow(trace, f"{self.count:08d}{i:02d}".ljust(16, "c"), root, f"execute_tool {tool}",
                        "internal", int(t * NS), int((t + 0.5) * NS), operation="execute_tool", tool_name=tool,
                        verdict=verdict, rules=rule, decision_id=f"{self.count:08d}{i:02d}".ljust(16, "d"),
                        attributes={"gen_ai.tool.call.arguments": json.dumps(args)}, **common)
            )  # fmt: skip
            t += 30.0  # paced: one call every half minute
        self.rows.append(
            SpanRow(trace, root, None, "invoke_agent ops", "internal", int(at * NS), int((t + 1) * NS),
                    status="error" if failed else "unset", operation="invoke_agent", **common)
        )  # fmt: skip

    def write(self, store: Store) -> None:
        store.write_spans(self.rows)


def _times(rng: random.Random, days: range, per_day: int) -> Iterator[float]:
    for day in days:
        if day % 7 < 5:
            yield from sorted(MONDAY + day * DAY_S + rng.uniform(0, DAY_S) for _ in range(per_day))


def _findings(store: Store, kind: str, since_day: int = 14, until_day: int = 28) -> list[Finding]:
    until = MONDAY + until_day * DAY_S
    found = run_detectors(store, since=MONDAY + since_day * DAY_S, until=until, now=until, save=False)
    return [f for f in found.findings if f.kind == kind]


def test_a_share_judged_against_its_own_baseline() -> None:
    edges = [(float(day), day) for day in range(10, 20)]
    runs = dict.fromkeys(range(20), 30)
    args = {"origin": 0.0, "bucket_s": 1, "window_since": 10.0, "background": 0.002, "alpha": 1e-3}
    steady = [(f"s{day}-{i}", day + 0.5) for day in range(20) for i in range(3)]  # a tenth, every day
    assert judge_recurrence(runs, steady, edges, **args) is None
    risen = steady + [(f"r{day}-{i}", day + 0.5) for day in range(15, 20) for i in range(6)]
    found = judge_recurrence(runs, risen, edges, **args)
    assert found is not None and found.onset == 15.0 and found.rate_before == pytest.approx(0.1)
    # Without enough runs before any boundary there is no baseline: the floor decides alone.
    few = {day: 2 for day in range(10, 20)}
    shown = [(f"f{day}", day + 0.5) for day in range(10, 13)]
    judged = judge_recurrence(few, shown, edges, **args)
    assert judged is not None and judged.onset is None


def test_steady_status_polling_is_no_loop(store: Store) -> None:
    agent, rng = _Agent(1), random.Random(1)
    for at in _times(rng, range(28), 20):
        agent.run(at, repeat=("get_job_status", 5) if rng.random() < 0.1 else None)
    agent.write(store)
    assert [f.summary for f in _findings(store, "loop")] == []


def test_a_repetition_new_to_the_agent_is_a_loop_beside_its_polling(store: Store) -> None:
    agent, rng = _Agent(2), random.Random(2)
    for at in _times(rng, range(28), 20):
        if at >= MONDAY + 21 * DAY_S and rng.random() < 0.1:
            agent.run(at, repeat=("search_orders", 6))
        else:
            agent.run(at, repeat=("get_job_status", 5) if rng.random() < 0.1 else None)
    agent.write(store)
    loops = _findings(store, "loop")
    assert len(loops) == 1 and loops[0].detail["tools"].keys() == {"search_orders"}
    assert abs(loops[0].first_seen - (MONDAY + 21 * DAY_S)) <= DAY_S


def test_a_steady_ask_rule_is_no_cluster_but_a_risen_one_is(store: Store) -> None:
    agent, rng = _Agent(3), random.Random(3)
    for at in _times(rng, range(28), 20):
        share = 0.25 if at >= MONDAY + 22 * DAY_S else 0.05
        refund = ("ask", "refunds/over-100", "issue_refund")
        agent.run(at, refused=refund if rng.random() < share else None)
    agent.write(store)
    assert _findings(store, "violation_cluster", 7, 21) == []  # five percent of runs, every week
    clusters = _findings(store, "violation_cluster", 14, 28)
    assert len(clusters) == 1 and clusters[0].detail["baseline_rate"] == pytest.approx(0.05, abs=0.03)
    assert abs(clusters[0].first_seen - (MONDAY + 22 * DAY_S)) <= DAY_S


@pytest.mark.parametrize("failures_from_day", [17, 14.5])
def test_a_change_is_blamed_only_when_its_own_runs_degrade(store: Store, failures_from_day: float) -> None:
    # Version 1.1 on Monday of week 3 (day 14, noon). Runs fail 2% of the time, a third from the
    # failures' onset: with the change's first run it is the change's; two and a half days later
    # (after some fifty normal runs of it) it is not.
    agent, rng = _Agent(4), random.Random(4)
    for at in _times(rng, range(28), 20):
        bad = at >= MONDAY + failures_from_day * DAY_S
        agent.run(at, version="1.1" if at >= MONDAY + 14.5 * DAY_S else "1.0",
                  failed=rng.random() < (0.33 if bad else 0.02))  # fmt: skip
    agent.write(store)
    blamed = _findings(store, "regression")
    if failures_from_day == 17:
        assert blamed == []
    else:
        assert [f.subject for f in blamed] == ["version 1.1"]
