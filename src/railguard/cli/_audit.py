"""`railguard audit verify|list|anchor`: the store's hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from railguard.cli._common import DbOpt, JsonOpt
from railguard.cli._common import open_store_or_exit as _open_store_or_exit
from railguard.cli._common import when as _when
from railguard.store import AuditLog

audit_app = typer.Typer(help="Verify and read the hash-chained audit log.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

AnchorOpt = Annotated[
    Path | None,
    typer.Option("--anchor", help="A file written by `audit anchor`: its record must be unchanged."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(db: DbOpt = None, anchor: AnchorOpt = None) -> None:
    """Recompute the chain; exit 1 naming the first broken record if one was edited, deleted or reordered."""
    pinned = None
    if anchor is not None:
        try:
            data = json.loads(anchor.read_text())
            pinned = (int(data["seq"]), str(data["hash"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            err.print(f"[red]cannot read anchor:[/red] {escape(str(anchor))}: {escape(str(e))}")
            raise typer.Exit(2) from None
    with _open_store_or_exit(db) as store:
        status = AuditLog(store).verify(anchor=pinned)
    if not status.ok:
        err.print(
            f"[red]audit chain broken at record {status.broken_seq}[/red]: {escape(status.problem or '')}"
        )
        err.print(f"{status.records} records before it verified")
        raise typer.Exit(1)
    out.print(f"[green]audit chain ok[/green]: {status.records} records, head {status.head[:16]}")


@audit_app.command("anchor")
def anchor_cmd(
    to: Annotated[Path, typer.Option("--to", help="File to write the chain head to (keep it elsewhere).")],
    db: DbOpt = None,
) -> None:
    """Write the chain head (seq, hash) to a file: `verify --anchor FILE` then detects a rewrite of the whole table."""
    with _open_store_or_exit(db) as store:
        seq, head = AuditLog(store).head()
    to.write_text(json.dumps({"seq": seq, "hash": head}) + "\n")
    out.print(f"anchored record {seq} ({head[:16]}) to {escape(str(to))}")


@audit_app.command("list")
def list_cmd(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Audit records, newest first: who changed what, when."""
    with _open_store_or_exit(db) as store:
        records = AuditLog(store).list(tenant=tenant, limit=limit)
    if as_json:
        for record in records:
            print(json.dumps(record.to_dict()))
        return
    table = Table()
    for column in ("seq", "time", "tenant", "actor", "action", "subject", "details"):
        table.add_column(column)
    for r in records:
        table.add_row(
            str(r.seq), _when(r.ts), escape(r.tenant), escape(r.actor), r.action, escape(r.subject),
            escape(json.dumps(dict(r.details), sort_keys=True)),
        )  # fmt: skip
    out.print(table)
