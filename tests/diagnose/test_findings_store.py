"""Stored findings: deduplicated by fingerprint, statuses that stick (or re-open when the problem
comes back), incremental runs from a watermark, run labels, the CLI, and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from railguard._demo_week import DAY_S, WeekResult
from railguard.cli import app
from railguard.diagnose import get_finding, label_run, list_findings, list_labels, run_detectors, set_status
from railguard.store import SpanRow, open_store
from railguard.store._schema import spans

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def week_copy(week_db: tuple[str, WeekResult], tmp_path: Path) -> tuple[str, WeekResult]:
    """A private copy of the week's database: these tests write findings and labels."""
    source = Path(week_db[0].removeprefix("sqlite:///"))
    target = tmp_path / "week.db"
    shutil.copy(source, target)
    return f"sqlite:///{target}", week_db[1]


def _window(week: WeekResult) -> dict[str, float]:
    return {"since": week.start_ts, "until": week.start_ts + 7 * DAY_S}


def test_the_same_problem_updates_its_finding(week_copy: tuple[str, WeekResult]) -> None:
    url, week = week_copy
    with open_store(url) as store:
        first = run_detectors(store, **_window(week), now=week.start_ts + 7 * DAY_S)
        assert {c.change for c in first.changes} == {"new"}
        again = run_detectors(store, **_window(week), now=week.start_ts + 7 * DAY_S + 60)
        assert {c.change for c in again.changes} <= {"unchanged", "updated"}
        assert sorted(f.id for f in again.findings) == sorted(f.id for f in first.findings)
        stored = list_findings(store)
        assert len(stored) == len(first.findings)


def test_statuses_stick_and_a_resolved_problem_reopens(week_copy: tuple[str, WeekResult]) -> None:
    url, week = week_copy
    end = week.start_ts + 7 * DAY_S
    with open_store(url) as store:
        # Diagnose the first five days, resolve and mute, then diagnose the whole week.
        early = run_detectors(store, since=week.start_ts, until=week.start_ts + 5 * DAY_S, now=end)
        by_kind = {(f.kind, f.agent): f for f in early.findings}
        cost = by_kind[("cost_spike", "research")]
        terraform = by_kind[("violation_cluster", "deploy")]
        loop = by_kind[("loop", "coding")]
        set_status(store, cost.id, "resolved", by="ana", now=week.start_ts + 5 * DAY_S)
        set_status(store, terraform.id, "muted", by="ana", note="known", now=end)
        set_status(store, loop.id, "acknowledged", by="ana", now=end)
        later = run_detectors(store, **_window(week), now=end + 60)
        changes = {c.finding.id: c.change for c in later.changes}
        assert get_finding(store, cost.id).status == "open" and changes[cost.id] == "reopened"
        assert get_finding(store, terraform.id).status == "muted"
        assert get_finding(store, loop.id).status == "acknowledged"
        with pytest.raises(ValueError, match="unknown finding status"):
            set_status(store, loop.id, "closed")
        with pytest.raises(ValueError, match="no finding"):
            set_status(store, "f-000000000000", "muted")
        # Another tenant cannot see or change it.
        with pytest.raises(ValueError, match="no finding"):
            set_status(store, loop.id, "muted", tenant="acme")


def test_incremental_runs_examine_only_agents_with_new_runs(week_copy: tuple[str, WeekResult]) -> None:
    url, week = week_copy
    end = week.start_ts + 7 * DAY_S
    with open_store(url) as store:
        full = run_detectors(store, **_window(week), incremental=True, now=end)
        assert full.agents_examined is None  # no watermark yet: everything
        quiet = run_detectors(store, **_window(week), incremental=True, now=end + 60)
        assert quiet.agents_examined == 0 and quiet.findings == []
        # One new support run after the watermark: only support is examined.
        rows = store.get_trace(_a_run_of(store, "support"), tenant=None)
        shift = int((end + 30 - week.start_ts) * 1e9)
        store.write_spans([_moved(r, "new-support-run", shift) for r in rows])
        fresh = run_detectors(store, since=week.start_ts, until=end + 120, incremental=True, now=end + 120)
        assert fresh.agents_examined == 1
        assert {f.agent for f in fresh.findings} == {"support"}


def _a_run_of(store, agent: str) -> str:  # type: ignore[no-untyped-def]
    return store.list_runs(tenant=None, agent=agent, limit=1)[0].trace_id  # type: ignore[no-any-return]


def _moved(row: SpanRow, trace_id: str, shift_ns: int) -> SpanRow:
    from dataclasses import replace

    return replace(
        row,
        trace_id=trace_id.ljust(32, "0")[:32],
        start_ns=row.start_ns + shift_ns,
        end_ns=row.end_ns + shift_ns,
    )


def test_labels_are_what_regression_prefers(week_copy: tuple[str, WeekResult]) -> None:
    url, week = week_copy
    with open_store(url) as store:
        support_runs = sorted(
            store.list_runs(tenant="acme", agent="support", limit=1000), key=lambda r: r.start_ns
        )
        # Support never changed version in the week: label it as if it had, with failures after day 4.
        for run in support_runs:
            failed = week.day_of(run.start_ns / 1e9) >= 4 and run.input_tokens % 2 == 0
            label_run(
                store,
                run.trace_id,
                label="failure" if failed else "ok",
                note="review",
                by="qa",
                tenant="acme",
            )
        assert len(list_labels(store, tenant="acme")) == len(support_runs)
        assert list_labels(store, tenant="globex") == []
        with store.write_transaction() as conn:
            from railguard.store._schema import runs

            conn.execute(
                runs.update()
                .where(runs.c.agent == "support", runs.c.start_ns >= int((week.start_ts + 4 * DAY_S) * 1e9))
                .values(agent_version="2.4.0")
            )
        result = run_detectors(store, **_window(week), save=False)
        found = [f for f in result.findings if f.kind == "regression" and f.agent == "support"]
        assert found and "labelled failure rate" in found[0].summary
        assert week.day_of(found[0].first_seen) == 4
        with pytest.raises(ValueError, match="no run"):
            label_run(store, support_runs[0].trace_id, tenant="globex")
        with pytest.raises(ValueError, match="unknown label"):
            label_run(store, support_runs[0].trace_id, label="meh")


def test_cli_diagnose_json_and_findings_commands(week_copy: tuple[str, WeekResult]) -> None:
    url, _week = week_copy
    runner = CliRunner()
    result = runner.invoke(app, ["diagnose", "--db", url, "--since", "9d", "--json", "--agent", "coding"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert {line["kind"] for line in lines} >= {"loop", "error_rate", "regression"}
    assert {line["agent"] for line in lines} == {"coding"}
    target = lines[0]["id"]
    acked = runner.invoke(app, ["findings", "ack", target, "--db", url, "--by", "ana"])
    assert acked.exit_code == 0 and "acknowledged" in acked.output
    listed = runner.invoke(app, ["findings", "list", "--db", url, "--status", "acknowledged", "--json"])
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == [target]
    bad = runner.invoke(app, ["findings", "mute", "f-nope", "--db", url])
    assert bad.exit_code == 2 and "no finding" in bad.output


@pytest.mark.postgres
def test_the_week_diagnosed_on_postgresql(week_db: tuple[str, WeekResult], pg_url: str) -> None:
    url, week = week_db
    with open_store(url) as source, source.read_connection() as conn:
        rows = [SpanRow(**dict(r._mapping)) for r in conn.execute(select(spans))]
    with open_store(pg_url) as store:
        store.write_spans(rows)
        sqlite_kinds = _kinds(url, week)
        pg = run_detectors(store, **_window(week))
        assert {(f.kind, f.agent) for f in pg.findings} == sqlite_kinds
        assert {c.change for c in run_detectors(store, **_window(week)).changes} <= {"unchanged", "updated"}


def _kinds(url: str, week: WeekResult) -> set[tuple[str, str]]:
    with open_store(url) as store:
        found = run_detectors(store, **_window(week), save=False).findings
    # The approvals live in the guards' own tables, which this copy does not carry over.
    return {(f.kind, f.agent) for f in found if not f.kind.startswith("approval_")}
