"""Every planted failure of the week demo is found (kind, agent, onset within a day), nothing else of
consequence is, and the same fleet with nothing planted yields no findings of medium severity or more."""

from __future__ import annotations

import pytest

from railguard._demo_week import DAY_S, WeekResult, answer_key
from railguard.diagnose import KINDS, DiagnoseResult, run_detectors, severity_rank
from railguard.store import open_store

PLANTED = answer_key(0.0)


@pytest.mark.parametrize("planted", PLANTED, ids=lambda p: f"{p.kind}-{p.agent}")
def test_each_planted_failure_is_found_near_its_onset(
    planted, week_diagnosis: DiagnoseResult, week_db: tuple[str, WeekResult]
) -> None:  # type: ignore[no-untyped-def]
    _, week = week_db
    matches = [
        f
        for f in week_diagnosis.findings
        if (f.kind, f.agent, f.tenant) == (planted.kind, planted.agent, planted.tenant)
    ]
    assert matches, (
        f"{planted.kind} on {planted.agent} not found; found: {[(f.kind, f.agent) for f in week_diagnosis.findings]}"
    )
    onset_days = [week.day_of(f.first_seen) for f in matches]
    assert any(abs(day - planted.onset_day) <= 1 for day in onset_days), (planted, onset_days)
    for f in matches:
        assert f.evidence and all(e.get("trace_id") or e.get("decision_id") for e in f.evidence)
        assert f.summary and f.suggestion and 0.5 <= f.confidence <= 1


def test_nothing_else_of_consequence(week_diagnosis: DiagnoseResult) -> None:
    planted = {(p.kind, p.agent) for p in PLANTED}
    extra = [
        f.summary
        for f in week_diagnosis.findings
        if (f.kind, f.agent) not in planted and severity_rank(f.severity) >= 1
    ]
    assert extra == []


def test_findings_use_the_documented_kinds_and_json_shape(week_diagnosis: DiagnoseResult) -> None:
    keys = {
        "id",
        "kind",
        "severity",
        "agent",
        "tenant",
        "summary",
        "evidence",
        "suggestion",
        "confidence",
        "first_seen",
        "last_seen",
    }
    for f in week_diagnosis.findings:
        assert f.kind in KINDS
        assert set(f.to_json()) == keys
        for item in f.to_json()["evidence"]:
            assert "why" in item and ("span_id" in item or "decision_id" in item)


def test_clean_week_is_quiet(clean_week_db: tuple[str, WeekResult]) -> None:
    url, week = clean_week_db
    assert week.key == []
    with open_store(url) as store:
        result = run_detectors(store, since=week.start_ts, until=week.start_ts + 7 * DAY_S, save=False)
    assert [f.summary for f in result.findings if severity_rank(f.severity) >= 1] == []
