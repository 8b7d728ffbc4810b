"""`railguard keys create|list|revoke`: API keys for the server (stored hashed; shown once)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from railguard.cli._approvals import _who
from railguard.cli._common import DbOpt, JsonOpt
from railguard.cli._common import open_store_or_exit as _open_store_or_exit
from railguard.cli._common import when as _when
from railguard.errors import RailguardError
from railguard.store import ROLES, KeyRing

keys_app = typer.Typer(help="Create, list and revoke API keys for `railguard serve`.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="The tenant the key acts in ('*': every tenant, admin only).")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    name: Annotated[str | None, typer.Option(help="A name people recognise (recorded as the actor).")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests per second (default: the server's).")] = None,
    db: DbOpt = None,
) -> None:
    """Create a key and print it once, as the last line (it is stored only as a hash)."""
    with _open_store_or_exit(db) as store:
        try:
            created = KeyRing(store).create(
                tenant=tenant, role=role, name=name, actor=f"cli:{_who(None)}", rate_per_s=rate
            )
        except RailguardError as e:
            err.print(f"[red]cannot create key:[/red] {escape(str(e))}")
            raise typer.Exit(2) from None
    info = created.info
    out.print(f"created key {info.id} ({escape(info.name)}): tenant {escape(info.tenant)}, role {info.role}")
    out.print("[dim]the key is shown once; store it now:[/dim]")
    print(created.key, flush=True)


@keys_app.command("list")
def list_cmd(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Every key (never the secret): id, tenant, role, name, created, last used, revoked."""
    with _open_store_or_exit(db) as store:
        found = KeyRing(store).list(tenant=tenant)
    if as_json:
        for key in found:
            print(json.dumps(key.to_dict()))
        return
    table = Table()
    for column in ("id", "tenant", "role", "name", "created", "last used", "status"):
        table.add_column(column)
    for key in found:
        table.add_row(
            key.id, escape(key.tenant), key.role, escape(key.name), _when(key.created_at), _when(key.last_used_at),
            "active" if key.active else f"revoked {_when(key.revoked_at)}",
        )  # fmt: skip
    out.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `railguard keys list`).")],
    db: DbOpt = None,
) -> None:
    """Revoke a key: the server refuses it within a second (at once on the replica that revoked it)."""
    with _open_store_or_exit(db) as store:
        try:
            info = KeyRing(store).revoke(key_id, tenant=None, actor=f"cli:{_who(None)}")
        except RailguardError as e:
            err.print(f"[red]cannot revoke:[/red] {escape(str(e))}")
            raise typer.Exit(2) from None
    out.print(f"revoked key {info.id} ({escape(info.name)}, tenant {escape(info.tenant)})")
