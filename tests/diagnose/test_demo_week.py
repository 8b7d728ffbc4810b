"""The week demo: the fleet runs through the real engine and tracing on a simulated clock, and the
answer key matches what was stored."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from railguard._demo_week import DAY_S, WeekResult, run_week
from railguard.cli import app
from railguard.store import Store
from railguard.store._schema import runs, spans


def test_runs_carry_simulated_times_and_cover_the_week(
    week_store: Store, week_db: tuple[str, WeekResult]
) -> None:
    _, result = week_db
    with week_store.read_connection() as conn:
        starts = [row[0] / 1e9 for row in conn.execute(select(runs.c.start_ns))]
        agents = {row[0] for row in conn.execute(select(runs.c.agent).distinct())}
    assert len(starts) == result.runs
    assert agents == {"support", "deploy", "research", "coding"}
    days = {result.day_of(ts) for ts in starts}
    assert days == set(range(7)), "every simulated day has runs, and no run lies outside the week"


def test_planted_failures_appear_from_their_onset_day(
    week_store: Store, week_db: tuple[str, WeekResult]
) -> None:
    _, result = week_db
    onset = {p.subject: p.onset_day for p in result.key}
    with week_store.read_connection() as conn:
        blocked = conn.execute(
            select(spans.c.start_ns, spans.c.rules).where(spans.c.verdict == "block")
        ).all()
        versions = conn.execute(
            select(runs.c.agent_version, runs.c.start_ns).where(runs.c.agent == "coding")
        ).all()
    for start_ns, rules in blocked:
        if rules and "terraform" in rules:
            assert result.day_of(start_ns / 1e9) >= onset["deploy/terraform-apply-prod"]
    assert any(rules and "provenance/injected-value" in rules for _, rules in blocked)
    for version, start_ns in versions:
        assert (version == "1.5.0") == (result.day_of(start_ns / 1e9) >= onset["1.5.0"])


def test_same_seed_same_week(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = run_week(f"sqlite:///{tmp_path}/a.db", seed=3, runs_per_day=2, days=2, start_ts=0.0)
    b = run_week(f"sqlite:///{tmp_path}/b.db", seed=3, runs_per_day=2, days=2, start_ts=0.0)
    assert (a.runs, a.tool_calls, a.verdicts) == (b.runs, b.tool_calls, b.verdicts)
    assert [p.onset_ts for p in a.key] == [DAY_S * p.onset_day for p in a.key]


def test_cli_week_demo_prints_the_answer_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path}/cli.db"
    result = CliRunner().invoke(
        app, ["demo", "--week", "--db", db, "--seed", "5", "--runs-per-day", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    kinds = {item["kind"] for item in payload["answer_key"]}
    assert {"loop", "cost_spike", "violation_cluster", "approval_always_granted"} <= kinds
    assert payload["runs"] == 4 * 2 * 7
