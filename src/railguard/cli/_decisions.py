"""`railguard decisions [list|show|stats]`: read the decision log (every check recorded in the store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from railguard.cli._common import (
    DbOpt,
    JsonOpt,
    SinceOpt,
    open_store_or_exit,
    out,
    parse_since,
    print_jsonl,
    resolve_id,
    when,
)

decisions_app = typer.Typer(
    help="The decision log: what was allowed, blocked, asked or rewritten, and why.",
    invoke_without_command=True,
)

VERDICTS = ("allow", "block", "ask", "modify")
VERDICT_STYLE = {"allow": "green", "modify": "cyan", "ask": "yellow", "block": "bold red"}
VerdictOpt = Annotated[
    str | None, typer.Option("--verdict", help=f"Only this verdict: {', '.join(VERDICTS)}.")
]
RuleOpt = Annotated[str | None, typer.Option("--rule", help="Only decisions where this rule fired.")]
ToolOpt = Annotated[str | None, typer.Option("--tool", help="Only this tool.")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")]
SHORT_ID = 12
WIDE_COLUMNS = 160


def register(app: typer.Typer) -> None:
    app.add_typer(decisions_app, name="decisions")


def _check_verdict(verdict: str | None) -> None:
    if verdict is not None and verdict not in VERDICTS:
        raise typer.BadParameter(f"use one of {', '.join(VERDICTS)}", param_hint="--verdict")


@decisions_app.callback()
def decisions_root(
    ctx: typer.Context,
    verdict: VerdictOpt = None,
    rule: RuleOpt = None,
    tool: ToolOpt = None,
    tenant: TenantOpt = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 50,
    wide: Annotated[bool, typer.Option("--wide", help="Add the reason and full ids and dates.")] = False,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Recent decisions, newest first (`railguard decisions stats` for rates and top rules)."""
    if ctx.invoked_subcommand is not None:
        return
    _check_verdict(verdict)
    with open_store_or_exit(db, create=False) as store:
        found = store.list_decisions(
            tenant=tenant,
            since=parse_since(since) if since else None,
            verdict=verdict,
            tool=tool,
            rule=rule,
            limit=limit,
        )
        where = store.url_display
    if as_json:
        print_jsonl(found)
        return
    if not found:
        out.print(f"no decisions in {escape(where)} matching these filters")
        return
    columns = ["decision", "time", "verdict", "tool", "rules", *(["reason"] if wide else [])]
    table = Table(*columns, box=None, pad_edge=False)
    for column in table.columns[:3]:
        column.no_wrap = True
    for column in table.columns[3:]:
        column.overflow = "fold"  # wrap long tool and rule ids instead of cutting them
    for record in found:
        verdict_text = str(record.get("verdict", ""))
        style = VERDICT_STYLE.get(verdict_text, "")
        decision_id = str(record.get("decision_id", ""))
        row = [
            decision_id if wide else decision_id[:SHORT_ID],
            when(record.get("timestamp")) if wide else when(record.get("timestamp"))[5:],
            f"[{style}]{verdict_text}[/{style}]" if style else escape(verdict_text),
            escape(str(record.get("tool", ""))),
            escape(", ".join(record.get("rules") or ())),
        ]
        if wide:
            row.append(escape(str(record.get("reason", ""))))
        table.add_row(*row)
    (Console(highlight=False, width=max(out.width, WIDE_COLUMNS)) if wide else out).print(table)
    out.print(f"[dim]{len(found)} decision(s) from {escape(where)}; details: decisions show ID[/dim]")


@decisions_app.command("show")
def show_cmd(
    decision_id: Annotated[str, typer.Argument(help="A decision id or a unique prefix of it.")],
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """One decision record in full (as stored: redacted)."""
    with open_store_or_exit(db, create=False) as store:
        matches = store.match_decision_ids(decision_id, tenant=None, limit=3)
        full_id = resolve_id("decision", decision_id, matches)
        record = store.get_decision(full_id, tenant=None)
    if record is None:  # deleted between the two reads
        resolve_id("decision", decision_id, [])
    assert record is not None
    if as_json:
        print_jsonl([record])
        return
    for key, value in record.items():
        out.print(f"  {key:16} {escape(_text(value))}")


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None or value == "" else str(value)


@decisions_app.command("stats")
def stats_cmd(
    since: SinceOpt = "7d",
    tenant: TenantOpt = None,
    tool: ToolOpt = None,
    rule: RuleOpt = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many rules and tools to list.")] = 10,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Block and ask rates, the rules and tools that stopped calls most, and counts per day (UTC)."""
    since_ts = parse_since(since) if since else None
    with open_store_or_exit(db, create=False) as store:
        stats = store.decision_stats(tenant=tenant, since=since_ts, tool=tool, rule=rule, top=top)
        where = store.url_display
    if as_json:
        print_jsonl([stats])
        return
    total = stats["total"]
    out.print(f"[bold]{total}[/bold] decisions since {escape(since or 'the start')} in {escape(where)}")
    if not total:
        return
    verdicts = stats["verdicts"]
    out.print(
        "  ".join(f"[{VERDICT_STYLE.get(v, '')}]{v}[/] {verdicts.get(v, 0)}" for v in VERDICTS)
        + f"   block rate {stats['block_rate']:.1%}, ask rate {stats['ask_rate']:.1%}"
    )
    for title, rows in (
        ("top rules (block/ask)", stats["top_rules"]),
        ("top tools (block/ask)", stats["top_tools"]),
    ):
        if rows:
            table = Table(title, "count", box=None, pad_edge=False, title_justify="left")
            for name, count in rows:
                table.add_row(escape(str(name)), str(count))
            out.print(table)
    days = Table("day (UTC)", *VERDICTS, box=None, pad_edge=False)
    for day_start, counts in stats["per_day"]:
        day = datetime.fromtimestamp(day_start, tz=UTC).strftime("%Y-%m-%d")
        days.add_row(day, *(str(counts.get(v, 0)) for v in VERDICTS))
    out.print(days)
