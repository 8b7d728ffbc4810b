"""`railguard rules draft "..."`: a rule in plain English, drafted by the configured LLM, checked by
the compiler and its own unit tests, backtested on stored history, and shown for review. It is
written to --out (and its tests next to it) or to stdout; never activated."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from railguard.cli._common import DbOpt, err, fail, parse_since
from railguard.cli._core import PackOpt, PolicyOpt
from railguard.errors import PolicyError, RailguardError

rules_app = typer.Typer(
    help="Rules in plain English: an LLM drafts, the compiler and a backtest check, a person accepts.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


@rules_app.command("draft")
def draft(
    request: Annotated[str, typer.Argument(help="The rule, in a sentence.")],
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    db: DbOpt = None,
    since: Annotated[
        str, typer.Option("--since", help="History to backtest on: 30m, 2h, 7d, an ISO date or Unix seconds.")
    ] = "7d",
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's history.")] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the rule here and its tests to NAME_test.yaml beside it."),
    ] = None,
    retries: Annotated[
        int, typer.Option("--retries", help="Corrections the model may make after failed checks (0-10).")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")] = False,
) -> None:
    """Draft a policy rule and its unit tests from a sentence with the LLM set in $RAILGUARD_LLM
    (anthropic:MODEL or openai:MODEL). The compiler's file:line errors and failing cases go back to
    the model (--retries times at most); the valid draft is backtested on the stored history of the
    window against the current policy (-p / --pack) and flagged when it would stop over 20% of the
    calls or block calls people approved. Exit 0: a valid draft; 1: no valid draft; 2: no LLM
    configured or bad input. Nothing is activated."""
    from railguard.diagnose import _llm
    from railguard.diagnose.draft import MAX_RETRIES, NO_MODEL, CurrentPolicy, DraftError, draft_rule
    from railguard.policy import load_policy
    from railguard.store import open_store

    try:
        configured = _llm.parse_setting(None)
    except ValueError as e:
        fail("LLM setting", str(e), 2)
    if configured is None:
        fail("cannot draft", NO_MODEL, 2)
    if not 0 <= retries <= MAX_RETRIES:
        fail("bad --retries", f"use 0 to {MAX_RETRIES}", 2)
    now = time.time()
    start = parse_since(since, now)
    current = CurrentPolicy(tuple(str(p) for p in policy or ()), tuple(pack or ()))
    if not current.empty:
        try:
            load_policy(list(current.paths), packs=list(current.packs))
        except PolicyError as e:
            fail("the current policy does not load", str(e), 2)
    try:
        store = open_store(db, create=False)
    except RailguardError as e:
        if db:
            fail("store error", str(e), 2)
        store = None  # no history yet: draft without a backtest, and say so
    try:
        with err.status(f"drafting with {configured[0]}:{configured[1]}...", spinner="dots"):
            result = draft_rule(
                request, setting=None, current=current, store=store, since=start, until=now,
                tenant=tenant, retries=retries,
            )  # fmt: skip
    except DraftError as e:
        fail("no draft", str(e), 2 if e.usage else 1)
    except PolicyError as e:
        fail("policy error", str(e), 2)
    finally:
        if store is not None:
            store.close()
    if store is None:
        result.notes.append("no store found: not backtested (give --db URL)")
    written: list[Path] = []
    if result.valid and out_file is not None:
        test_file = out_file.with_name(f"{out_file.stem}_test.yaml")
        out_file.write_text(result.policy_yaml, encoding="utf-8")
        test_file.write_text(result.tests_yaml(out_file.name), encoding="utf-8")
        written = [out_file, test_file]
    if as_json:
        print(json.dumps({**result.to_json(), "written": [str(p) for p in written]}))
        raise typer.Exit(0 if result.valid else 1)
    review = Console(
        highlight=False, stderr=out_file is None, soft_wrap=True
    )  # stdout carries the YAML when no --out
    if not result.valid:
        err.print(
            f"[red]no valid draft:[/red] after {result.attempts} attempt(s) by {escape(result.model)}; "
            "nothing written, nothing activated. The last problems:"
        )
        for problem in result.errors:
            err.print(f"  - {escape(problem)}")
        raise typer.Exit(1)
    if out_file is None:
        print(result.policy_yaml, end="")
        print("# unit tests (save as NAME_test.yaml beside the rule file; `policy:` names it):")
        print("".join(f"# {line}\n" for line in result.tests_yaml("NAME.yaml").splitlines()), end="")
    _print_review(review, result, written)


def _print_review(console: Console, result: object, written: list[Path]) -> None:
    from railguard.diagnose.draft import DraftResult

    assert isinstance(result, DraftResult)
    console.print(
        f"draft by {escape(result.model)} in {result.attempts} attempt(s): "
        f"{escape(', '.join(result.rule_ids))}" + (f" — {escape(result.summary)}" if result.summary else "")
    )
    table = Table("case", "expected", "got", "result", title="its unit tests")
    for case in result.cases:
        table.add_row(escape(case.name), case.expected, case.got, case.status.value)
    console.print(table)
    report = result.backtest
    if report is not None:
        console.print(
            f"backtest against {result.compared_with}: {report.actions} stored call(s), {report.changed} changed "
            f"in {report.runs_affected} run(s): newly blocked {report.newly_blocked}, asked {report.newly_asked}, "
            f"allowed {report.newly_allowed}, modified {report.newly_modified}; labelled failures it would "
            f"have stopped: {report.labelled_failures_caught}"
        )
    for flag in result.flags:
        console.print(f"[yellow]review:[/yellow] {escape(flag)}")
    for note in result.notes:
        console.print(f"note: {escape(note)}")
    if written:
        rule, tests = written
        console.print(
            f"wrote {escape(str(rule))} and {escape(str(tests))}", soft_wrap=True
        )  # paths stay whole
        how = (
            f"add 'include: [{rule.name}]' to your policy file (or paste its items into it), run "
            f"`railguard test {tests}`, then reload or `railguard policy push POLICY.yaml --audit`"
        )
    else:
        how = "save it with --out FILE, add its items to your policy, then `railguard policy push POLICY.yaml --audit`"
    console.print(f"[bold]not active.[/bold] To accept: {escape(how)}.", soft_wrap=True)


__all__ = ["register"]
