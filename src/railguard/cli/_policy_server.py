"""`railguard policy push|revisions|activate|rollback`: policy revisions on a Railguard server.
Attached to the `policy` group of _core.py (see `register`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from railguard.cli._approvals import JsonOpt, _when

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ServerOpt = Annotated[
    str, typer.Option("--server", envvar="RAILGUARD_URL", help="Server URL ($RAILGUARD_URL).")
]
KeyOpt = Annotated[
    str,
    typer.Option(
        "--key", envvar="RAILGUARD_KEY", help="An admin API key ($RAILGUARD_KEY).", show_default=False
    ),
]
TenantOpt = Annotated[str | None, typer.Option(help="The tenant (only for a key of every tenant).")]
AuditOpt = Annotated[
    bool, typer.Option("--audit", help="Activate in audit (shadow) mode: record, never act.")
]


def register(_app: typer.Typer) -> None:
    from railguard.cli._core import policy_app

    policy_app.command("push")(push)
    policy_app.command("revisions")(revisions)
    policy_app.command("activate")(activate)
    policy_app.command("rollback")(rollback)


def _call(method: str, server: str, key: str, path: str, tenant: str | None, **kwargs: Any) -> Any:
    import httpx

    params = {k: v for k, v in {**kwargs.pop("params", {}), "tenant": tenant}.items() if v is not None}
    headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {key}"}
    try:
        response = httpx.request(
            method, f"{server.rstrip('/')}{path}", headers=headers, params=params, timeout=30, **kwargs
        )
    except httpx.HTTPError as e:
        err.print(f"[red]cannot reach {escape(server)}[/red]: {escape(type(e).__name__)}: {escape(str(e))}")
        raise typer.Exit(2) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        err.print(f"[red]{response.status_code}[/red] {escape(str(detail))}")
        raise typer.Exit(1 if response.status_code == 400 else 2)
    return response.json()


def push(
    file: Annotated[Path, typer.Argument(help="The policy file (YAML).", exists=True, dir_okay=False)],
    server: ServerOpt,
    key: KeyOpt,
    tenant: TenantOpt = None,
    activate_now: Annotated[bool, typer.Option("--activate", help="Activate the new revision too.")] = False,
    audit: AuditOpt = False,
) -> None:
    """Upload a policy as a new revision (validated by the server with file:line errors; exit 1 if invalid)."""
    created = _call(
        "POST", server, key, "/v1/policies", tenant, content=file.read_bytes(),
        headers={"Content-Type": "application/yaml"},
    )  # fmt: skip
    out.print(
        f"revision r{created['rev']} of {escape(created['tenant'])}: {created['rules']} rules, "
        f"{escape(created['policy_revision'])}"
    )
    if created["diff"]:
        out.print(escape(created["diff"]), end="")
    if activate_now or audit:
        _activate(server, key, int(created["rev"]), tenant, audit)


def revisions(server: ServerOpt, key: KeyOpt, tenant: TenantOpt = None, as_json: JsonOpt = False) -> None:
    """The tenant's policy revisions, newest first, with the active one's mode."""
    found = _call("GET", server, key, "/v1/policies", tenant)
    if as_json:
        for revision in found["revisions"]:
            print(json.dumps(revision))
        return
    table = Table(title=f"policy revisions of {escape(found['tenant'])}")
    for column in ("rev", "active", "rules", "author", "created", "policy"):
        table.add_column(column)
    for r in found["revisions"]:
        table.add_row(
            f"r{r['rev']}", r["active_mode"] or "", str(r["rules"]), escape(r["author"]), _when(r["created_at"]),
            escape(r["policy_revision"]),
        )  # fmt: skip
    out.print(table)


def activate(
    rev: Annotated[str, typer.Argument(help="The revision, e.g. r3 or 3.")],
    server: ServerOpt,
    key: KeyOpt,
    tenant: TenantOpt = None,
    audit: AuditOpt = False,
) -> None:
    """Make a revision the tenant's active policy (every attached engine runs it within a second)."""
    number = rev.lstrip("rR")
    if not number.isdigit():
        err.print(f"[red]invalid revision:[/red] {escape(rev)}: use its number, e.g. r3")
        raise typer.Exit(2)
    _activate(server, key, int(number), tenant, audit)


def _activate(server: str, key: str, rev: int, tenant: str | None, audit: bool) -> None:
    mode = "audit" if audit else "enforce"
    done = _call("POST", server, key, f"/v1/policies/{rev}/activate", tenant, params={"mode": mode})
    out.print(f"r{done['rev']} is active for {escape(done['tenant'])} ({done['active_mode']})")


def rollback(server: ServerOpt, key: KeyOpt, tenant: TenantOpt = None) -> None:
    """Make the previously active revision active again."""
    done = _call("POST", server, key, "/v1/policies/rollback", tenant)
    out.print(f"rolled back: r{done['rev']} is active for {escape(done['tenant'])} ({done['active_mode']})")
