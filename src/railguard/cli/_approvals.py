"""`railguard approvals list|show|approve|deny` and `railguard killswitch on|off|status`."""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from railguard.cli._common import DbOpt, JsonOpt, err, fail, open_store_or_exit, out, print_jsonl
from railguard.cli._common import when as _when
from railguard.errors import RailguardError
from railguard.state import Approval, Approvals, KillSwitch
from railguard.state._approvals_repo import STATUSES

approvals_app = typer.Typer(help="List, approve and deny human approval requests.", no_args_is_help=True)
killswitch_app = typer.Typer(
    help="Stop agents now: globally, per tenant, agent or tool.", no_args_is_help=True
)

IdArg = Annotated[
    str, typer.Argument(help="The request id, or a unique prefix of it (at least 6 characters).")
]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who decides (default: your login name).")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="Why (recorded with the decision).")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")]
AgentOpt = Annotated[str | None, typer.Option("--agent", help="Only this agent.")]
ToolOpt = Annotated[str | None, typer.Option("--tool", help="Only this tool.")]

_STATUS_STYLE = {"pending": "yellow", "approved": "green", "denied": "bold red", "expired": "dim"}


def register(app: typer.Typer) -> None:
    app.add_typer(approvals_app, name="approvals")
    app.add_typer(killswitch_app, name="killswitch")


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:
        return "cli"


@approvals_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help=f"One of {', '.join(STATUSES)}.")] = None,
    tenant: TenantOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Approval requests, newest first (overdue ones are expired first)."""
    if status is not None and status not in STATUSES:
        err.print(f"[red]unknown status:[/red] {escape(status)}; use one of {', '.join(STATUSES)}")
        raise typer.Exit(2)
    with open_store_or_exit(db, create=False) as store:
        found = Approvals(store).list_requests(status=status, tenant=tenant, limit=limit)
    if as_json:
        print_jsonl(a.to_dict() for a in found)
        return
    table = Table("id", "status", "tool", "tenant", "agent", "user", "scope", "created", "reason")
    for a in found:
        style = _STATUS_STYLE.get(a.status, "")
        table.add_row(
            a.id[:8],
            f"[{style}]{a.status}[/{style}]",
            escape(a.tool),
            escape(a.tenant or "-"),
            escape(a.context.agent or "-"),
            escape(a.context.user or "-"),
            a.scope,
            _when(a.created_at),
            escape(a.reason[:80]),
        )
    out.print(table if found else "no approval requests")


@approvals_app.command("show")
def show_cmd(approval_id: IdArg, as_json: JsonOpt = False, db: DbOpt = None) -> None:
    """One request in full (arguments shown redacted)."""
    with open_store_or_exit(db, create=False) as store:
        approval = _get(Approvals(store), approval_id)
    if as_json:
        print_jsonl([approval.to_dict()])
        return
    _print(approval)


@approvals_app.command("approve")
def approve_cmd(approval_id: IdArg, by: ByOpt = None, note: NoteOpt = None, db: DbOpt = None) -> None:
    """Approve a pending request: the waiting agent continues, a retry of the call is allowed."""
    _decide(approval_id, True, by, note, db)


@approvals_app.command("deny")
def deny_cmd(approval_id: IdArg, by: ByOpt = None, note: NoteOpt = None, db: DbOpt = None) -> None:
    """Deny a pending request: the agent gets ApprovalDenied, retries of that exact call are blocked."""
    _decide(approval_id, False, by, note, db)


def _decide(approval_id: str, approve: bool, by: str | None, note: str | None, db: str | None) -> None:
    with open_store_or_exit(db, create=False) as store:
        approvals = Approvals(store)
        try:
            if approve:
                decided = approvals.approve(approval_id, by=_who(by), note=note)
            else:
                decided = approvals.deny(approval_id, by=_who(by), note=note)
        except RailguardError as e:
            fail("cannot decide", str(e))
    style = _STATUS_STYLE[decided.status]
    out.print(
        f"[{style}]{decided.status}[/{style}] {decided.id} ({escape(decided.tool)}) by {escape(_who(by))}"
    )


def _get(approvals: Approvals, approval_id: str) -> Approval:
    try:
        return approvals.get(approval_id)
    except RailguardError as e:
        fail("not found", str(e))


def _print(a: Approval) -> None:
    style = _STATUS_STYLE.get(a.status, "")
    out.print(f"[bold]{a.id}[/bold]  [{style}]{a.status}[/{style}]")
    rows = [
        ("tool", a.tool),
        ("tenant", a.tenant or "-"),
        ("agent", a.context.agent or "-"),
        ("user", a.context.user or "-"),
        ("session", a.context.session or "-"),
        ("reason", a.reason),
        ("rules", ", ".join(a.rules)),
        ("scope", a.scope + (f" where {a.match}" if a.match else "")),
        ("created", _when(a.created_at)),
        ("expires", _when(a.expires_at)),
        ("decided", f"{_when(a.decided_at)} by {a.decided_by}" if a.decided_by else "-"),
        ("note", a.note or "-"),
        ("args sha256", a.args_digest),
    ]
    for key, value in rows:
        out.print(f"  {key:12} {escape(value)}")
    out.print("  args (redacted):")
    out.print(escape(json.dumps(dict(a.args_redacted), indent=2, default=str, ensure_ascii=False)))


@killswitch_app.command("on")
def on_cmd(
    tenant: TenantOpt = None,
    agent: AgentOpt = None,
    tool: ToolOpt = None,
    reason: Annotated[str, typer.Option(help="Shown in every blocked decision.")] = "",
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Engage a switch (no option: stop every agent). Engines see it within about a second."""
    with open_store_or_exit(db) as store:
        switch = KillSwitch(store).engage(tenant=tenant, agent=agent, tool=tool, reason=reason, by=_who(by))
    out.print(f"[bold red]kill switch ON[/bold red] ({escape(switch.scope)})")


@killswitch_app.command("off")
def off_cmd(
    tenant: TenantOpt = None,
    agent: AgentOpt = None,
    tool: ToolOpt = None,
    reason: Annotated[str, typer.Option(help="Why it is safe again.")] = "",
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Release the switch with exactly these options (others stay engaged)."""
    with open_store_or_exit(db) as store:
        switch = KillSwitch(store).release(tenant=tenant, agent=agent, tool=tool, reason=reason, by=_who(by))
    out.print(f"[green]kill switch off[/green] ({escape(switch.scope)})")


@killswitch_app.command("status")
def status_cmd(as_json: JsonOpt = False, db: DbOpt = None) -> None:
    """Every switch ever set, engaged or not."""
    with open_store_or_exit(db, create=False) as store:
        switches = KillSwitch(store).status()
    if as_json:
        print_jsonl(s.to_dict() for s in switches)
        return
    engaged = [s for s in switches if s.engaged]
    out.print(f"{len(engaged)} engaged" if engaged else "[green]no kill switch engaged[/green]")
    table = Table("scope", "state", "reason", "by", "changed")
    for s in switches:
        state = "[bold red]ON[/bold red]" if s.engaged else "[green]off[/green]"
        table.add_row(
            escape(s.scope), state, escape(s.reason or "-"), escape(s.changed_by), _when(s.changed_at)
        )
    if switches:
        out.print(table)
