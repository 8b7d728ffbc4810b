"""`railguard traces list|show|export`: read the traces the recorder stored."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from railguard.cli._common import (
    UNKNOWN,
    DbOpt,
    JsonOpt,
    SinceOpt,
    fail,
    open_store_or_exit,
    out,
    parse_since,
    print_jsonl,
    resolve_id,
    usd,
)
from railguard.store import RunSummary, SpanNode, SpanRow, Store, build_tree
from railguard.trace._otlp_json import to_otlp_json

traces_app = typer.Typer(help="List, show and export recorded traces.", no_args_is_help=True)

VERDICT_STYLE = {"allow": "green", "modify": "cyan", "ask": "yellow", "block": "bold red"}
WIDE_COLUMNS = 160
SHORT_ID = 12  # hex digits shown by default: unambiguous in any realistic store, fits 80 columns
TraceIdArg = Annotated[
    str,
    typer.Argument(help="A trace id, a unique prefix of one (as `traces list` shows), a run id, or latest."),
]

__all__ = ["parse_since", "register"]  # parse_since: re-exported for older imports


def register(app: typer.Typer) -> None:
    app.add_typer(traces_app, name="traces")


def resolve_trace_id(store: Store, key: str) -> str:
    """The full trace id for a trace id, an unambiguous prefix of one, a run id, or `latest`."""
    if key == "latest":
        return resolve_id("trace", key, [r.trace_id for r in store.list_runs(tenant=None, limit=1)])
    return resolve_id("trace", key, store.match_trace_ids(key, tenant=None, limit=3))


@traces_app.command("list")
def list_traces(
    db: DbOpt = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")] = None,
    since: SinceOpt = None,
    status: Annotated[
        str | None, typer.Option("--status", help="ok or error (runs with an error span).")
    ] = None,
    min_cost: Annotated[
        float | None, typer.Option("--min-cost", min=0, help="Only runs that cost at least this (USD).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs.")] = 20,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column and full trace ids (needs a wide terminal).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recent runs (one trace each), newest first. Trace ids are shortened to a prefix that every
    other command accepts; a cost shown as a dash is unknown (no priced model call)."""
    if status not in (None, "ok", "error"):
        raise typer.BadParameter("--status must be ok or error", param_hint="--status")
    with open_store_or_exit(db, create=False) as store:
        runs = store.list_runs(
            tenant=tenant,
            agent=agent,
            since=parse_since(since) if since else None,
            status=status,
            min_cost=min_cost,
            limit=limit,
        )
        where = store.url_display
    if as_json:
        print_jsonl({**dataclasses.asdict(r), "duration_ms": r.duration_ms} for r in runs)
        return
    if not runs:
        out.print(f"no runs in {escape(where)} matching these filters")
        return
    # --wide is asked for: lay the table out at its natural width, whatever the terminal's.
    (Console(highlight=False, width=max(out.width, WIDE_COLUMNS)) if wide else out).print(_table(runs, wide))
    out.print(f"[dim]{len(runs)} run(s) from {escape(where)}; details: traces show TRACE[/dim]")


def _table(runs: list[RunSummary], wide: bool) -> Table:
    table = Table(box=None, pad_edge=False)
    table.add_column("trace", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("agent", overflow="fold", max_width=None if wide else 16)
    if wide:
        table.add_column("tenant", overflow="fold")
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("tools", justify="right")
    if wide:
        table.add_column("models", justify="right")
    table.add_column("blocks", justify="right")
    if wide:
        table.add_column("tokens", justify="right")
    table.add_column("cost $", justify="right", no_wrap=True)
    for r in runs:
        started = datetime.fromtimestamp(r.start_ns / 1e9)
        row = [
            r.trace_id if wide else r.trace_id[:SHORT_ID],
            started.strftime("%Y-%m-%d %H:%M:%S" if wide else "%m-%d %H:%M:%S"),
            escape(r.agent or "-"),
        ]
        if wide:
            row.append(escape(r.tenant or "-"))
        row += [f"{r.duration_ms:.0f}", str(r.tool_calls)]
        if wide:
            row.append(str(r.model_calls))
        row.append(f"[red]{r.blocks}[/red]" if r.blocks else "0")
        if wide:
            row.append(str(r.input_tokens + r.output_tokens))
        row.append(usd(r.cost_usd))
        table.add_row(*row)
    return table


def _label(span: SpanRow) -> str:
    parts = [f"[bold]{escape(span.name)}[/bold]", f"{(span.end_ns - span.start_ns) / 1e6:.1f} ms"]
    if span.input_tokens is not None or span.output_tokens is not None:
        parts.append(f"tokens {span.input_tokens or 0}->{span.output_tokens or 0}")
        parts.append(f"${span.cost_usd:.5f}" if span.cost_usd is not None else f"${UNKNOWN}")
    if span.verdict:
        style = VERDICT_STYLE.get(span.verdict, "white")
        rules = f" ({escape(span.rules)})" if span.rules else ""
        parts.append(f"[{style}]{escape(span.verdict)}[/{style}]{rules}")
    if span.error_type:
        parts.append(f"[red]error {escape(span.error_type)}[/red]")
    return "  ".join(parts)


def _add(tree: Tree, node: SpanNode) -> None:
    branch = tree.add(_label(node.span))
    for child in node.children:
        _add(branch, child)


@traces_app.command("show")
def show(trace_id: TraceIdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """One trace as a span tree: name, duration, tokens, cost, verdict."""
    with open_store_or_exit(db, create=False) as store:
        full_id = resolve_trace_id(store, trace_id)
        rows = store.get_trace(full_id, tenant=None)
    if not rows:
        fail("no trace", full_id)
    if as_json:
        print_jsonl(dataclasses.asdict(row) for row in rows)
        return
    tree = Tree(f"trace {full_id}")
    for root in build_tree(rows):
        _add(tree, root)
    out.print(tree)


@traces_app.command("export")
def export(
    trace_id: Annotated[
        str | None, typer.Argument(help="One trace id (or prefix, or run id); or use --since.")
    ] = None,
    since: SinceOpt = None,
    db: DbOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (one span per line) or otlp-json.")] = "jsonl",
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="With --since: at most this many runs.")
    ] = 1000,
) -> None:
    """Write stored spans to stdout, as JSON Lines or as one OTLP/JSON request."""
    if fmt not in ("jsonl", "otlp-json"):
        raise typer.BadParameter("--format must be jsonl or otlp-json")
    if (trace_id is None) == (since is None):
        raise typer.BadParameter("give a TRACE_ID or --since, not both")
    with open_store_or_exit(db, create=False) as store:
        if trace_id is not None:
            ids = [resolve_trace_id(store, trace_id)]
        else:
            ids = [
                r.trace_id for r in store.list_runs(tenant=None, since=parse_since(str(since)), limit=limit)
            ]
        rows = [row for tid in ids for row in store.get_trace(tid, tenant=None)]
    if fmt == "otlp-json":
        sys.stdout.write(json.dumps(to_otlp_json(rows)) + "\n")
        return
    print_jsonl(dataclasses.asdict(row) for row in rows)
