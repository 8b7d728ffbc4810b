"""`railguard gate`: a release gate over stored runs (exit 0 pass, 1 worse, 2 too little data)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from railguard.cli._common import DbOpt, fail, open_store_or_exit, out, parse_since
from railguard.errors import RailguardError

if TYPE_CHECKING:
    from railguard.diagnose.gate import GateResult


def gate(
    baseline: Annotated[str, typer.Option("--baseline", help="The value compared against (e.g. 1.4.0).")],
    candidate: Annotated[str, typer.Option("--candidate", help="The value under test (e.g. 1.5.0).")],
    by: Annotated[
        str, typer.Option("--by", help="What the values name: agent_version, model or policy_revision.")
    ] = "agent_version",
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's runs.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's runs.")] = None,
    since: Annotated[
        str, typer.Option("--since", help="Window start: 2h, 14d, an ISO date or Unix seconds.")
    ] = "14d",
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Relative slack on cost, latency and confidence medians.")
    ] = 0.10,
    rate_tolerance: Annotated[
        float, typer.Option("--rate-tolerance", help="Absolute slack on failure, block, ask and error rates.")
    ] = 0.02,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level for the whole gate.")] = 0.05,
    min_runs: Annotated[int, typer.Option("--min-runs", help="Runs needed on each side to decide.")] = 20,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay", help="A transcript suite (JSON Lines): --baseline/--candidate are then policy files."
        ),
    ] = None,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")] = False,
) -> None:
    """Compare a candidate with its baseline on stored runs — labelled failure rate, block and ask
    rates, errors, cost per run, latency per step, confidence — each with a one-sided significance
    test. Exit 1 when the candidate is significantly worse beyond the tolerance, 0 when not, 2 when
    there is too little data to say."""
    from railguard.diagnose.gate import gate as run_gate

    if replay is not None:
        _replay_gate(replay, baseline, candidate, alpha, rate_tolerance, min_runs, as_json)
    now = time.time()
    try:
        start = parse_since(since, now)
    except ValueError as e:
        fail("bad --since", str(e), 2)
    store = open_store_or_exit(db, create=False)
    try:
        result = run_gate(
            store, baseline=baseline, candidate=candidate, by=by, since=start, until=now, agent=agent,
            tenant=tenant, alpha=alpha, rate_tolerance=rate_tolerance, relative_tolerance=tolerance,
            min_runs=min_runs,
        )  # fmt: skip
    except ValueError as e:
        fail("bad option", str(e), 2)
    except RailguardError as e:
        fail("store error", str(e), 2)
    finally:
        store.close()
    _print(result, by, as_json)
    raise typer.Exit(result.exit_code)


def _replay_gate(
    suite: Path,
    baseline: str,
    candidate: str,
    alpha: float,
    rate_tolerance: float,
    min_runs: int,
    as_json: bool,
) -> NoReturn:
    from railguard._jsonl import read_objects
    from railguard.diagnose.backtest import replay_engine
    from railguard.diagnose.gate import gate_replay
    from railguard.errors import PolicyError

    try:
        with open(suite, encoding="utf-8") as stream:
            events = [item.value for item in read_objects(stream) if item.error is None]
    except OSError as e:
        fail("cannot read the suite", f"{suite}: {e.strerror}", 2)
    try:
        with replay_engine([baseline]) as before, replay_engine([candidate]) as after:
            result, changed = gate_replay(
                events, before, after, names=(baseline, candidate), alpha=alpha, rate_tolerance=rate_tolerance,
                min_runs=min_runs,
            )  # fmt: skip
    except PolicyError as e:
        fail("policy error", str(e), 2)
    if not as_json:
        out.print(f"replayed {suite}: {changed} action(s) change verdict between the two policies")
    _print(result, "policy_revision", as_json, extra={"changed": changed})
    raise typer.Exit(result.exit_code)


def _print(result: GateResult, by: str, as_json: bool, extra: dict[str, int] | None = None) -> None:
    baseline, candidate, min_runs = result.baseline, result.candidate, result.min_runs
    if as_json:
        print(json.dumps({**result.to_json(), **(extra or {})}))
    else:
        table = Table("metric", escape(baseline), escape(candidate), "p", "", title=f"gate by {by}")
        for m in result.metrics:
            shown = [("-" if v is None else f"{v:.4g}") for v in (m.baseline, m.candidate, m.p)]
            table.add_row(m.name, *shown, "[red]WORSE[/red]" if m.worse else "ok")
        out.print(table)
        out.print(
            f"runs: {result.runs_baseline} baseline, {result.runs_candidate} candidate -> "
            f"{result.verdict.upper().replace('_', ' ')}"
            + ("" if result.enough_data else f" (need {min_runs} runs on each side)")
        )


def register(app: typer.Typer) -> None:
    app.command()(gate)


__all__ = ["register"]
