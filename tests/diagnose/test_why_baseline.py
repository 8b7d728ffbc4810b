"""`why`'s usual confidence score comes from the agent's older days and its spread from the within-day
noise: a score that has been falling for days is still judged against what the step used to score
(z >= 4), and a score inside the usual noise is not a cause."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

from railguard.diagnose._stats import MAD_SCALE, mad
from railguard.diagnose.why import LOW_CONFIDENCE_Z, RECENT_S, why
from railguard.store import SpanRow, Store, open_store

NS = 1_000_000_000
DAY = 86_400
T0 = 1_780_000_000 - 1_780_000_000 % DAY  # a UTC midnight
FALL_DAY = 4  # from this day on the score falls 0.07 a day (as in the week demo)


def _score(rng: random.Random, day: int) -> float:
    score = rng.gauss(0.9, 0.03)
    if day >= FALL_DAY:
        score -= 0.07 * (day - FALL_DAY + 1) + rng.uniform(0, 0.03)
    return score


def _run(at: float, score: float, agent: str = "support") -> tuple[str, list[SpanRow]]:
    trace_id, root = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    start = int(at * NS)
    return trace_id, [
        SpanRow(trace_id, root, None, f"invoke_agent {agent}", "internal", start, start + 3 * 10**8,
                tenant="acme", agent=agent, operation="invoke_agent"),
        SpanRow(trace_id, uuid.uuid4().hex[:16], root, "execute_tool classify_ticket", "internal", start + 10**8,
                start + 2 * 10**8, tenant="acme", agent=agent, operation="execute_tool", tool_name="classify_ticket",
                attributes={"railguard.confidence": score}),
    ]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Store:
    rng = random.Random(7)
    opened = open_store(f"sqlite:///{tmp_path / 'why.db'}")
    rows: list[SpanRow] = []
    scores_by_day: dict[int, list[float]] = {}
    for day in range(7):
        for i in range(30):
            score = _score(rng, day)
            scores_by_day.setdefault(day, []).append(score)
            rows += _run(T0 + day * DAY + (i + 0.5) * DAY / 31, score)[1]
    opened.write_spans(rows)
    opened.scores_by_day = scores_by_day  # type: ignore[attr-defined]
    return opened


def test_a_score_falling_for_days_is_judged_against_the_older_days(store: Store) -> None:
    at = T0 + 7 * DAY + 3600  # the morning after the week
    trace_id, rows = _run(at, 0.66)
    store.write_spans(rows)
    answer = why(store, trace_id, escalate=False, save=False)
    causes = {c["cause"]: c for c in answer.candidates}
    assert "low_confidence" in causes, answer.candidates
    assert answer.cause == "low_confidence" and "usual 0.8" in answer.explanation

    # The case the fix is for: the whole previous week, falling days included, has a spread so wide
    # that this score would sit under the cut-off; the older days' within-day noise does not.
    week = [s for day in range(7) for s in store.scores_by_day[day]]  # type: ignore[attr-defined]
    whole_week_z = (sorted(week)[len(week) // 2] - 0.66) / (MAD_SCALE * mad(week))
    assert whole_week_z < LOW_CONFIDENCE_Z
    older = [s for day in range(7) if T0 + (day + 1) * DAY <= at - RECENT_S for s in store.scores_by_day[day]]
    assert len(older) < len(week)  # the last day before the run is left out


def test_a_score_inside_the_usual_noise_is_not_a_cause(store: Store) -> None:
    trace_id, rows = _run(T0 + 4 * DAY + 60, 0.86)  # the first falling day, before it shows
    store.write_spans(rows)
    answer = why(store, trace_id, escalate=False, save=False)
    assert "low_confidence" not in {c["cause"] for c in answer.candidates}
    assert answer.cause == "none"
