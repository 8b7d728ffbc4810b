"""The core commands: check, explain, test, policy validate/packs, demo, version."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from railguard import __version__
from railguard._jsonl import read_objects
from railguard.cli._common import progress
from railguard.detect.redact import redact_value
from railguard.engine import Engine
from railguard.errors import PolicyError, RailguardError
from railguard.model import Action, Decision

app = typer.Typer()  # the commands below are attached to the main app by railguard.cli
policy_app = typer.Typer(help="Validate and inspect policies.", no_args_is_help=True)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

VERDICT_STYLE = {"allow": "green", "modify": "cyan", "ask": "yellow", "block": "bold red"}

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
        return Engine([str(p) for p in policy or []] or None, packs=pack or None, mode=mode)
    except PolicyError as e:
        err.print(f"[red]policy error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None


def _open(path: str) -> BinaryIO:
    """Bytes, not text: a line that is not UTF-8 is that line's error, not the whole stream's."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as e:
        err.print(f"[red]cannot read input:[/red] {path}: {e.strerror}")
        raise typer.Exit(2) from None


def _actions(stream: BinaryIO) -> Iterator[tuple[int, Action | None, str | None]]:
    for item in read_objects(stream):
        if item.error is not None:
            yield item.line, None, item.error
            continue
        try:
            yield item.line, Action.from_dict(item.value), None
        except (ValueError, TypeError) as e:
            yield item.line, None, f"invalid action at line {item.line}: {e}"


def _print_decision(decision: Decision) -> None:
    style = VERDICT_STYLE.get(decision.verdict.value, "")
    rules = f" [dim]({escape(', '.join(decision.rules))})[/dim]" if decision.rules else ""
    out.print(
        f"[{style}]{decision.verdict.value.upper():6}[/{style}] {escape(decision.tool)}: {escape(decision.reason)}{rules}"
        f" [dim]{decision.latency_us:.0f}µs[/dim]"
    )


class _DecisionLog:
    """`check --db`: decision records, redacted, written in batches; the rest is flushed on exit."""

    _BATCH = 500
    _SAFE_KEYS = ("decision_id", "approval_id", "policy_revision", "rules", "timestamp")  # Railguard's own

    def __init__(self, url: str) -> None:
        from railguard.store import open_store

        try:
            self._store = open_store(url)
        except RailguardError as e:
            err.print(f"[red]store error:[/red] {escape(str(e))}")
            raise typer.Exit(2) from None
        self._pending: list[dict[str, Any]] = []

    def add(self, decision: Decision) -> None:
        record, _hits = redact_value(decision.to_record(), safe_keys=self._SAFE_KEYS)
        self._pending.append(record)
        if len(self._pending) >= self._BATCH:
            self._flush()

    def _flush(self) -> None:
        try:
            self._store.write_decisions(self._pending)
        except RailguardError as e:
            err.print(f"[red]store error:[/red] {escape(str(e))}")
            raise typer.Exit(2) from None
        self._pending = []

    def __enter__(self) -> _DecisionLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self._flush()
        finally:
            self._store.close()


class _BadLine(Exception):
    """An input line that is not an action (its message says which line and why)."""


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
    engine = _engine(policy, pack, mode)
    log = _DecisionLog(db) if db else None
    bad = 0
    # A stream written to a file or pipe shows its progress on the terminal (stderr), if there is one.
    counting = progress("checking actions", enabled=not out.is_terminal)
    with _open(input) as stream, log or contextlib.nullcontext(), counting as advance:
        for line, action, problem in _actions(stream):
            advance(1)
            try:
                if action is None:
                    raise _BadLine(str(problem))
                decision = engine.check(action)
                answer = json.dumps(decision.to_json_line(), default=str)
            except Exception as e:  # never let one input end the stream: it gets its own error line
                bad += 1
                why = (
                    str(e)
                    if isinstance(e, _BadLine)
                    else f"could not decide the input at line {line} ({type(e).__name__})"
                )
                if as_json:
                    print(json.dumps({"line": line, "error": why}), flush=True)
                else:
                    err.print(f"[red]error:[/red] {escape(why)}")
                continue
            if log is not None:
                log.add(decision)
            if as_json:
                print(answer, flush=True)
            else:
                _print_decision(decision)
    if bad:
        raise typer.Exit(2)


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
        for _line, action, problem in _actions(stream):
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
        err.print(f"[red]invalid:[/red] {escape(str(e))}")
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
        out.print(f"{name:14} {count}  [dim]{escape(compiled.source.description)}[/dim]")
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
