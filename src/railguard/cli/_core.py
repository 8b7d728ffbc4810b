"""The core commands: check, explain, test, policy validate/packs, demo, version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from railguard import __version__
from railguard.cli._check import (
    CheckExit,
    Consoles,
    load_engine,
    open_input,
    print_decision,
    read_actions,
    run_check,
)
from railguard.errors import PolicyError

if TYPE_CHECKING:  # the engine loads when a command decides something
    from railguard.engine import Engine
    from railguard.model import Decision

app = typer.Typer()  # the commands below are attached to the main app by railguard.cli
policy_app = typer.Typer(help="Validate and inspect policies.", no_args_is_help=True)

# soft_wrap: Rich never breaks a line itself (a path or file:line split at 80 columns cannot be copied);
# a terminal wraps long lines for display.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PolicyOpt = Annotated[
    list[Path] | None, typer.Option("--policy", "-p", help="Policy file (repeatable; later ones override).")
]
PackOpt = Annotated[
    list[str] | None, typer.Option("--pack", help="Built-in pack (repeatable), e.g. coding-agent.")
]
InputOpt = Annotated[
    str, typer.Option("--input", "-i", help="File of actions (JSON or JSON Lines), or - for stdin.")
]


def _engine(policy: list[Path] | None, pack: list[str] | None, mode: str | None = None) -> Engine:
    try:
        return load_engine(policy, pack, mode, Consoles())
    except CheckExit as e:
        raise typer.Exit(e.code) from None


def _open(path: str) -> BinaryIO:
    try:
        return open_input(path, Consoles())
    except CheckExit as e:
        raise typer.Exit(e.code) from None


def _print_decision(decision: Decision) -> None:
    print_decision(out, decision)


@app.command()
def check(
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    input: InputOpt = "-",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON decision per line.")] = False,
    mode: Annotated[str | None, typer.Option(help="Force 'audit' (record, never block).")] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Also record every decision (redacted) in this store URL.")
    ] = None,
) -> None:
    """Decide actions: a JSON Lines stream of {"tool": ..., "args": {...}, "context": {...}, "id": ...}
    (or one pretty-printed action as the whole input); prints one decision per line, as it is read.
    A bad line (not UTF-8, not JSON, too deep) gets its own error with its line number and the rest
    are still decided; exit 2 if any line was bad. With no --policy and no --pack, the built-in
    default pack is used."""
    # The body is shared with the start-up fast path (railguard.cli._check), which runs the same
    # code without Typer when `railguard check` is started as a command.
    try:
        run_check(policy, pack, input, as_json, mode, db)
    except CheckExit as e:
        raise typer.Exit(e.code) from None


@app.command()
def explain(
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    input: InputOpt = "-",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show which rules were evaluated for each action, which fired and why, and the facts they saw."""
    engine = _engine(policy, pack)
    bad = 0
    with _open(input) as stream:
        for _line, action, problem in read_actions(stream):
            if action is None:
                bad += 1
                err.print(f"[red]error:[/red] {escape(str(problem))}")
                continue
            ex = engine.explain(action)
            facts = {k: (f"error: {v}" if isinstance(v, Exception) else v) for k, v in ex.facts.items()}
            if as_json:
                payload = {
                    "decision": ex.decision.to_json_line(),
                    "rules": [
                        {"rule": r.rule, "verdict": r.verdict.value, "when": r.when, "matched": r.matched,
                         "exception": r.exception, "error": r.error}
                        for r in ex.rules
                    ],
                    "facts": facts,
                    "candidate_rules": ex.candidate_rules,
                    "total_rules": ex.total_rules,
                }  # fmt: skip
                print(json.dumps(payload, default=str))
                continue
            _print_decision(ex.decision)
            table = Table(title=f"{ex.candidate_rules} of {ex.total_rules} rules apply to '{action.tool}'")
            for col in ("rule", "verdict", "result", "when"):
                table.add_column(col)
            for r in ex.rules:
                result = (
                    f"[red]error: {escape(r.error)}[/red]" if r.error
                    else f"[dim]excepted by {escape(r.exception)}[/dim]" if r.exception
                    else "[bold]fired[/bold]" if r.matched else "[dim]no match[/dim]"
                )  # fmt: skip
                table.add_row(escape(r.rule), r.verdict.value, result, escape(r.when or "(always)"))
            out.print(table)
            for name, value in facts.items():
                out.print(f"[bold]{name}[/bold] = {escape(json.dumps(value, default=str))}")
            for hit in ex.decision.hits:
                if hit.source not in ("policy", "error"):
                    out.print(
                        f"[bold]{hit.source}[/bold]: {escape(hit.rule)} -> {hit.verdict.value}: {escape(hit.message)}"
                    )
    if bad:
        raise typer.Exit(2)


@app.command("test")
def test_cmd(
    paths: Annotated[list[Path], typer.Argument(help="*_test.yaml files or folders to search.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run policy unit tests (*_test.yaml): PASS/FAIL/ERROR per case; exit 1 if any did not pass."""
    from railguard.policy.testing import Status, run_tests

    counts = {s: 0 for s in Status}
    try:
        for result in run_tests(list(paths)):
            counts[result.status] += 1
            where = f"{result.file}:{result.line}" if result.line else result.file
            if as_json:
                print(json.dumps({"status": result.status.value, "file": result.file, "line": result.line,
                                  "name": result.name, "expected": result.expected, "got": result.got,
                                  "rules": list(result.rules), "message": result.message}))  # fmt: skip
                continue
            style = {"PASS": "green", "FAIL": "red", "ERROR": "bold red"}[result.status.value]
            detail = "" if result.status is Status.PASS else f"\n       {result.message}"
            out.print(
                f"[{style}]{result.status.value:5}[/{style}] {escape(result.name)} [dim]{escape(where)}[/dim]{escape(detail)}"
            )
    except PolicyError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    total = sum(counts.values())
    if not as_json:
        out.print(
            f"{counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, {counts[Status.ERROR]} errors"
            f" ({total} cases)"
        )
    if total == 0:
        err.print("[red]no test cases found[/red]")
        raise typer.Exit(1)
    if counts[Status.FAIL] or counts[Status.ERROR]:
        raise typer.Exit(1)


@policy_app.command("validate")
def policy_validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Policy files (loaded together).")] = None,
    pack: PackOpt = None,
) -> None:
    """Load and compile policies; print a summary, or every error (file:line, key and fix; exit 1)."""
    from railguard.policy._collect import validate

    files = [str(p) for p in paths or []]
    p, errors = validate(files, pack or (None if files else ["default"]))
    for e in errors:
        err.print(f"[red]invalid:[/red] {escape(str(e))}", soft_wrap=True)  # file:line stays whole
    if p is None:
        err.print(f"{len(errors)} error(s)")
        raise typer.Exit(1)
    out.print(
        f"[green]valid[/green] {p.revision}: {len(p.rules)} rules, {len(p.lists)} lists, "
        f"{len(p.macros)} macros, {len(p.tools)} tools; mode {p.mode.value}, on_error {p.on_error.value}, "
        f"deadline {p.deadline_ns / 1e6:g} ms"
    )
    if not p.rules:
        err.print(
            "[yellow]warning[/yellow] the policy has no rules and includes no pack, so only tool contracts "
            "and stateful guards can stop an action; add rules or 'include: [pack:coding-agent]'"
        )


@policy_app.command("packs")
def policy_packs() -> None:
    """List the built-in rule packs."""
    from railguard.policy import available_packs, load_policy

    failed = False
    for name in available_packs():
        try:
            compiled = load_policy(packs=[name])
        except PolicyError as e:
            failed = True
            err.print(f"[red]{name}: invalid:[/red] {escape(str(e))}")
            continue
        own = sum(r.spec.loc.file == f"pack:{name}" for r in compiled.rules)
        included = sorted({r.spec.loc.file.removeprefix("pack:") for r in compiled.rules} - {name})
        count = f"{own:3} rule{'' if own == 1 else 's'}" + (
            f" + {len(compiled.rules) - own} from {', '.join(included)}" if included else ""
        )
        out.print(f"{name:14} {count}  [dim]{escape(compiled.source.description)}[/dim]", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="Decisions as JSON Lines instead of a timeline.")
    ] = False,
    db: Annotated[str | None, typer.Option(help="Store URL (default: the embedded SQLite file).")] = None,
    week: Annotated[
        bool, typer.Option("--week", help="Simulate a fleet of agents over a week, with planted failures.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the week simulation.")] = 7,
    runs_per_day: Annotated[int, typer.Option(help="Week demo: runs per agent per day.", min=1)] = 24,
) -> None:
    """Run a scripted agent (no LLM) through the guard and show the timeline of its tool calls:
    allowed, blocked, rewritten, a human approval, a loop stop and a budget stop, all traced.
    With --week: a fleet over a simulated week, for `railguard diagnose`."""
    if week:
        from railguard._demo_week import run_week_demo

        run_week_demo(out, db_url=db, seed=seed, runs_per_day=runs_per_day, as_json=as_json)
        return
    from railguard._demo import run_demo

    run_demo(out, as_json=as_json, db_url=db)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)
