"""`railguard backtest`: what a policy would have done to the stored history of a window."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from railguard.cli._common import DbOpt, fail, open_store_or_exit, out, parse_since, progress
from railguard.cli._core import PackOpt, PolicyOpt
from railguard.errors import PolicyError, RailguardError

CurrentOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--current",
        "-c",
        help="The current policy file (repeatable); default: the verdicts recorded in the store.",
    ),
]
CurrentPackOpt = Annotated[
    list[str] | None, typer.Option("--current-pack", help="A pack of the current policy.")
]


def backtest(
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    current: CurrentOpt = None,
    current_pack: CurrentPackOpt = None,
    since: Annotated[
        str, typer.Option("--since", help="Window start: 30m, 2h, 7d, an ISO date or Unix seconds.")
    ] = "7d",
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    provenance: Annotated[
        bool, typer.Option("--provenance/--no-provenance", help="Replay tool outputs through provenance.")
    ] = True,
    db: DbOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object of counts, nothing else.")
    ] = False,
) -> None:
    """Replay the stored actions of a window through a candidate policy (and the current one, or the
    recorded verdicts) with stateful guards in an isolated store, and report what would change:
    calls newly blocked / asked / allowed / modified by agent and rule, runs affected, human approvals
    it would now block, labelled failures it would have stopped. Nothing live is touched."""
    from railguard.diagnose.backtest import backtest as run_backtest
    from railguard.diagnose.backtest import read_history, replay_engine
    from railguard.diagnose.labels import list_labels

    if not policy and not pack:
        fail("nothing to backtest", "give the candidate policy with -p FILE (or --pack NAME)", 2)
    now = time.time()
    try:
        start = parse_since(since, now)
    except ValueError as e:
        fail("bad --since", str(e), 2)
    store = open_store_or_exit(db, create=False)
    try:
        with contextlib.ExitStack() as stack:
            candidate = stack.enter_context(replay_engine(policy, packs=pack, provenance=provenance))
            baseline = (
                stack.enter_context(replay_engine(current, packs=current_pack, provenance=provenance))
                if current or current_pack
                else None
            )
            history = read_history(store, since=start, until=now, tenant=tenant, agent=agent)
            failed = {lab.trace_id for lab in list_labels(store, tenant=tenant) if lab.label == "failure"}
            with progress("replaying", total=len(history.actions)) as advance:
                report = run_backtest(
                    history, candidate, current=baseline, failed_traces=failed, on_action=advance
                )
    except PolicyError as e:
        fail("policy error", str(e), 2)
    except RailguardError as e:
        fail("store error", str(e), 2)
    finally:
        store.close()
    if as_json:
        print(json.dumps(report.to_json()))
        return
    _print_report(report)


def _print_report(report: object) -> None:
    from railguard.diagnose.backtest import BacktestReport

    assert isinstance(report, BacktestReport)
    basis = "the recorded verdicts" if report.baseline == "recorded" else "the current policy"
    out.print(
        f"replayed {report.actions} action(s) against {basis}: {report.changed} changed in "
        f"{report.runs_affected} run(s)"
        + (f"; {report.skipped} skipped (arguments not recorded)" if report.skipped else "")
    )
    out.print(
        f"  newly blocked {report.newly_blocked}, asked {report.newly_asked}, "
        f"allowed {report.newly_allowed}, modified {report.newly_modified}"
    )
    if report.approved_now_blocked:
        out.print(
            f"  [yellow]over-blocking:[/yellow] {report.approved_now_blocked} call(s) a human approved would now block"
        )
    if report.denied_now_allowed:
        out.print(f"  [yellow]{report.denied_now_allowed} call(s) a human denied would now run[/yellow]")
    out.print(f"  labelled failures it would have stopped: {report.labelled_failures_caught}")
    if report.baseline == "current" and report.not_reproduced:
        out.print(
            f"  note: the current policy reproduces all but {report.not_reproduced} recorded verdict(s)"
        )
    if report.by_rule:
        table = Table("rule", "changed calls", title="by rule")
        for rule, n in report.by_rule.most_common(20):
            table.add_row(escape(rule), str(n))
        out.print(table)
    if report.by_agent:
        table = Table("agent", "blocked", "asked", "allowed", "modified", title="by agent")
        for name, counts in sorted(report.by_agent.items()):
            table.add_row(
                escape(name),
                *(
                    str(counts[b])
                    for b in ("newly_blocked", "newly_asked", "newly_allowed", "newly_modified")
                ),
            )
        out.print(table)
    if report.examples:
        table = Table("run", "tool", "before", "after", "rules", title="changed calls (first 10)")
        for ex in report.examples[:10]:
            table.add_row(
                escape(ex.trace_id or ex.run),
                escape(ex.tool),
                ex.before,
                ex.after,
                escape(", ".join(ex.rules)),
            )
        out.print(table)


def register(app: typer.Typer) -> None:
    app.command()(backtest)


__all__ = ["register"]
