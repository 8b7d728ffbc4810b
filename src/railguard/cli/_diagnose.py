"""`railguard diagnose`, `railguard findings list|show|ack|resolve|mute|reopen`, `railguard label`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from railguard.cli._common import DbOpt, parse_since
from railguard.cli._common import open_store_or_exit as open_cli_store
from railguard.errors import RailguardError

T = TypeVar("T")
findings_app = typer.Typer(help="List findings and set their status.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SEVERITY_STYLE = {"low": "dim", "medium": "yellow", "high": "bold red", "critical": "bold white on red"}
_CHANGE_NOTE = {
    "new": " [bold]NEW[/bold]",
    "worse": " [bold]WORSE[/bold]",
    "reopened": " [bold]REOPENED[/bold]",
}
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")]
AgentOpt = Annotated[str | None, typer.Option("--agent", help="Only this agent.")]


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose)
    app.command("label")(label)
    app.command("why")(why)
    app.add_typer(findings_app, name="findings")


def diagnose(
    db: DbOpt = None,
    since: Annotated[
        str, typer.Option("--since", help="Window start: 30m, 2h, 7d, an ISO date or Unix seconds.")
    ] = "7d",
    agent: AgentOpt = None,
    tenant: TenantOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One finding per line, as JSON.")] = False,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Only agents with runs since the previous diagnosis.")
    ] = False,
) -> None:
    """Run every detector over the window and print the findings (stored, deduplicated)."""
    from railguard.diagnose import run_detectors

    now = time.time()
    with open_cli_store(db) as store:
        result = run_detectors(
            store,
            since=parse_since(since, now),
            until=now,
            tenant=tenant,
            agent=agent,
            incremental=incremental,
            now=now,
        )
    if as_json:
        for f in result.findings:
            print(json.dumps(f.to_json(), default=str))
        return
    if not result.findings:
        out.print("[green]No findings[/green] in the window.")
        return
    changes = {c.finding.id: c.change for c in result.changes}
    for f in result.findings:
        style = SEVERITY_STYLE.get(f.severity, "")
        status = "" if f.status == "open" else f" [dim]({f.status})[/dim]"
        out.print(
            f"[{style}]{f.severity.upper():8}[/{style}] [bold]{f.kind}[/bold] {escape(f.summary)}{status} "
            f"[dim]{f.id}[/dim]{_CHANGE_NOTE.get(changes.get(f.id, ''), '')}"
        )
        out.print(f"{'':9}[dim]fix:[/dim] {escape(f.suggestion)}")
    out.print(f"\n{len(result.findings)} finding(s); `railguard findings ack ID` to acknowledge one.")


@findings_app.command("list")
def list_cmd(
    db: DbOpt = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open, acknowledged, resolved or muted.")
    ] = None,
    agent: AgentOpt = None,
    tenant: TenantOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One finding per line, as JSON.")] = False,
) -> None:
    """Stored findings, most severe first."""
    from railguard.diagnose import list_findings

    with open_cli_store(db) as store:
        try:
            found = list_findings(store, tenant=tenant, agent=agent, status=status)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
    if as_json:
        for f in found:
            print(json.dumps({**f.to_json(), "status": f.status}, default=str))
        return
    table = Table("id", "severity", "kind", "agent", "status", "last seen", "summary")
    for f in found:
        table.add_row(
            f.id,
            f.severity,
            f.kind,
            f.agent,
            f.status,
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(f.last_seen)),
            escape(f.summary[:90]),
        )
    out.print(table)


@findings_app.command("show")
def show_cmd(finding_id: str, db: DbOpt = None) -> None:
    """One finding with its evidence, as JSON."""
    from railguard.diagnose import get_finding

    with open_cli_store(db) as store:
        f = _or_exit(lambda: get_finding(store, finding_id))
    print(json.dumps(f.to_full_json(), indent=2, default=str))


def _status_command(status: str, verb: str) -> None:
    def command(
        finding_id: Annotated[str, typer.Argument(help="The finding's id (f-...).")],
        db: DbOpt = None,
        by: Annotated[str, typer.Option("--by", help="Who does it.")] = "",
        note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    ) -> None:
        from railguard.diagnose import set_status

        with open_cli_store(db) as store:
            f = _or_exit(lambda: set_status(store, finding_id, status, by=by, note=note))
        out.print(f"{f.id} is now [bold]{f.status}[/bold]: {escape(f.summary)}")

    command.__doc__ = f"{verb} a finding."
    findings_app.command(verb.lower())(command)


for _status, _verb in (
    ("acknowledged", "Ack"),
    ("resolved", "Resolve"),
    ("muted", "Mute"),
    ("open", "Reopen"),
):
    _status_command(_status, _verb)


def label(
    trace_id: Annotated[str, typer.Argument(help="The run (trace id).")],
    db: DbOpt = None,
    ok: Annotated[bool, typer.Option("--ok", help="Label it as fine instead of a failure.")] = False,
    span: Annotated[str | None, typer.Option("--span", help="Label one step (span id) of the run.")] = None,
    note: Annotated[str, typer.Option("--note", help="What went wrong.")] = "",
    by: Annotated[str, typer.Option("--by", help="Who labels it.")] = "",
) -> None:
    """Label a run (or one step) as a failure (default) or as fine: evidence for the diagnosis."""
    from railguard.diagnose import label_run

    with open_cli_store(db) as store:
        row = _or_exit(
            lambda: label_run(
                store, trace_id, label="ok" if ok else "failure", note=note, by=by, span_id=span
            )
        )
    out.print(f"labelled run {row.trace_id}{' step ' + row.span_id if row.span_id else ''}: {row.label}")


def _or_exit(call: Callable[[], T]) -> T:
    try:
        return call()
    except (ValueError, RailguardError) as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None


def why(
    trace_id: Annotated[str, typer.Argument(help="The run (trace id, see `railguard traces list`).")],
    db: DbOpt = None,
    tenant: TenantOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The answer as one JSON object.")] = False,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Never escalate to the configured LLM.")] = False,
) -> None:
    """What happened in this run: the step where it went wrong, why, the evidence and a fix."""
    from railguard.diagnose.why import why as root_cause

    with open_cli_store(db) as store:
        answer = _or_exit(lambda: root_cause(store, trace_id, tenant=tenant, escalate=not no_llm))
    if as_json:
        print(json.dumps(answer.to_json(), default=str))
        return
    step = answer.step or {}
    out.print(
        f"[bold]{answer.cause}[/bold] at step {escape(str(step.get('name') or '-'))} "
        f"[dim]{step.get('span_id') or ''}[/dim]  confidence {answer.confidence:.2f} ({answer.source})"
    )
    out.print(f"[dim]what:[/dim] {escape(answer.explanation)}")
    out.print(f"[dim]fix:[/dim]  {escape(answer.suggestion)}")
    for item in answer.evidence:
        out.print(f"[dim]evidence:[/dim] {item.get('span_id')}: {escape(str(item.get('why')))}")
    if answer.tags:
        out.print(f"[dim]tags:[/dim] {escape(', '.join(answer.tags))}")
    if answer.llm:
        out.print(f"[dim]llm: {escape(answer.llm)}[/dim]")
