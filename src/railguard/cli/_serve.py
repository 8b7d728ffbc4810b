"""`railguard serve` (the HTTP server: OTLP ingest, health) and `railguard retention` (delete old data)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from railguard._extras import require

# One store-opening helper and --db option for every command that takes a store URL.
from railguard.cli._common import DbOpt, progress
from railguard.cli._common import open_store_or_exit as _open_store_or_exit
from railguard.errors import ConfigurationError, RailguardError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(retention)


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind (0.0.0.0 exposes it to the network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port; 4318 is the OTLP/HTTP default.")] = 4318,
    db: DbOpt = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the Railguard server: OTLP/HTTP trace ingest at POST /v1/traces, /healthz and /readyz.
    Set $RAILGUARD_INGEST_TOKEN to require 'Authorization: Bearer <token>' on ingest."""
    try:
        require("server", "fastapi", "uvicorn")
    except ConfigurationError as e:
        err.print(f"[red]cannot serve:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    import uvicorn

    from railguard.server import create_app

    store = _open_store_or_exit(db)
    try:
        out.print(
            f"railguard: OTLP/HTTP on http://{escape(host)}:{port}/v1/traces, store {escape(store.url_display)}"
        )
        uvicorn.run(create_app(store), host=host, port=port, log_level=log_level)
    finally:
        store.close()


def retention(
    days: Annotated[
        float, typer.Option("--days", help="Delete runs and decisions older than this many days.")
    ],
    db: DbOpt = None,
    batch_size: Annotated[int, typer.Option(help="Rows per delete transaction (keeps locks short).")] = 5000,
) -> None:
    """Delete runs (with their spans) that ended, and decisions taken, more than --days ago."""
    if days <= 0 or batch_size <= 0:
        err.print("[red]--days and --batch-size must be positive[/red]")
        raise typer.Exit(2)
    store = _open_store_or_exit(db, create=False)
    try:
        with progress(f"deleting data older than {days:g} days") as advance:
            deleted = store.delete_older_than(days, batch_size=batch_size, on_batch=advance)
    except RailguardError as e:
        err.print(f"[red]store error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    out.print(f"deleted {deleted} rows older than {days:g} days from {escape(store.url_display)}")
