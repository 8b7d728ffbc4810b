"""`railguard traces list|show|export`: read the traces the recorder stored."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from railguard.errors import StoreError
from railguard.store import SpanNode, SpanRow, Store, build_tree, open_store
from railguard.trace._otlp_json import to_otlp_json

traces_app = typer.Typer(help="List, show and export recorded traces.", no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

VERDICT_STYLE = {"allow": "green", "modify": "cyan", "ask": "yellow", "block": "bold red"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}

DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (default: the embedded SQLite file).")]
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Only runs started after: 30m, 2h, 7d, an ISO date or Unix seconds."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(traces_app, name="traces")


def parse_since(text: str, now: float | None = None) -> float:
    """Unix seconds from `30m` / `2h` / `7d`, an ISO date(-time) or Unix seconds."""
    now = time.time() if now is None else now
    match = _DURATION.match(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise typer.BadParameter(
            f"cannot read {text!r}: use 30m, 2h, 7d, 2025-01-31 or Unix seconds"
        ) from None


def _store(db: str | None) -> Store:
    try:
        return open_store(db)
    except StoreError as e:
        err.print(f"[red]store error[/red] {escape(str(e))}")
        raise typer.Exit(2) from None


@traces_app.command("list")
def list_traces(
    db: DbOpt = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")] = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines, one run per line.")] = False,
) -> None:
    """Recent runs (one trace each), newest first."""
    with _store(db) as store:
        runs = store.list_runs(
            tenant=tenant, agent=agent, since=parse_since(since) if since else None, limit=limit
        )
    if as_json:
        for summary in runs:
            print(json.dumps({**dataclasses.asdict(summary), "duration_ms": summary.duration_ms}))
        return
    table = Table(
        "trace", "started", "agent", "tenant", "ms", "tools", "models", "blocks", "tokens", "cost $"
    )
    for r in runs:
        table.add_row(
            r.trace_id,
            datetime.fromtimestamp(r.start_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S"),
            escape(r.agent or "-"),
            escape(r.tenant or "-"),
            f"{r.duration_ms:.1f}",
            str(r.tool_calls),
            str(r.model_calls),
            f"[red]{r.blocks}[/red]" if r.blocks else "0",
            str(r.input_tokens + r.output_tokens),
            f"{r.cost_usd:.4f}",
        )
    out.print(table)


def _label(span: SpanRow) -> str:
    parts = [f"[bold]{escape(span.name)}[/bold]", f"{(span.end_ns - span.start_ns) / 1e6:.1f} ms"]
    if span.input_tokens is not None or span.output_tokens is not None:
        parts.append(f"tokens {span.input_tokens or 0}->{span.output_tokens or 0}")
    if span.cost_usd is not None:
        parts.append(f"${span.cost_usd:.5f}")
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
def show(
    trace_id: Annotated[str, typer.Argument(help="The trace id (32 hex digits).")],
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The spans as JSON Lines.")] = False,
) -> None:
    """One trace as a span tree: name, duration, tokens, cost, verdict."""
    with _store(db) as store:
        rows = store.get_trace(trace_id, tenant=None)
    if not rows:
        err.print(f"[red]no trace[/red] {escape(trace_id)}")
        raise typer.Exit(1)
    if as_json:
        for row in rows:
            print(json.dumps(dataclasses.asdict(row), default=str))
        return
    tree = Tree(f"trace {trace_id}")
    for root in build_tree(rows):
        _add(tree, root)
    out.print(tree)


@traces_app.command("export")
def export(
    trace_id: Annotated[str | None, typer.Argument(help="One trace id; or use --since.")] = None,
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
    with _store(db) as store:
        if trace_id is not None:
            ids = [trace_id]
        else:
            ids = [
                r.trace_id for r in store.list_runs(tenant=None, since=parse_since(str(since)), limit=limit)
            ]
        rows = [row for tid in ids for row in store.get_trace(tid, tenant=None)]
    if fmt == "otlp-json":
        sys.stdout.write(json.dumps(to_otlp_json(rows)) + "\n")
        return
    for row in rows:
        sys.stdout.write(json.dumps(dataclasses.asdict(row), default=str) + "\n")
