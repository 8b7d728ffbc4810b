"""`railguard proposals generate|list|show|backtest|accept|reject|promote`: policy changes drawn from
findings and decisions, proven on history, accepted into a policy revision or a policy file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from railguard.cli._approvals import ByOpt, _who
from railguard.cli._common import (
    DbOpt,
    fail,
    open_store_or_exit,
    out,
    parse_since,
    print_jsonl,
    progress,
    when,
)
from railguard.cli._core import PackOpt, PolicyOpt
from railguard.errors import PolicyError, RailguardError

if TYPE_CHECKING:
    from railguard.diagnose.proposals import BasePolicy, Proposal
    from railguard.store import Store

proposals_app = typer.Typer(
    help="Policy changes proposed from findings and decisions: review, backtest, accept or reject.",
    no_args_is_help=True,
)
IdArg = Annotated[str, typer.Argument(help="The proposal id (or a unique start of it).")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")]
SinceOpt = Annotated[
    str, typer.Option("--since", help="Window start: 30m, 2h, 7d, an ISO date or Unix seconds.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ToOpt = Annotated[
    Path | None,
    typer.Option("--to", help="Merge the patch into this policy file (a watching engine reloads it) "
                 "instead of adding a policy revision to the store."),
]  # fmt: skip
STATUS_STYLE = {"open": "bold", "accepted": "green", "rejected": "dim", "shadow": "yellow"}


def register(app: typer.Typer) -> None:
    app.add_typer(proposals_app, name="proposals")


def _active(store: Store, tenant: str) -> Any:
    from railguard.store import PolicyRevisions

    return PolicyRevisions(store).active(tenant=tenant)


def _base(store: Store, tenant: str | None, policy: list[Path] | None, pack: list[str] | None) -> BasePolicy:
    """The policy proposals change: -p files / --pack, else the tenant's active revision."""
    from railguard.diagnose.proposals import BasePolicy

    if policy or pack:
        return BasePolicy(paths=tuple(str(p) for p in policy or ()), packs=tuple(pack or ()))
    active = _active(store, tenant) if tenant is not None else None
    if active is None:
        fail(
            "no current policy",
            f"tenant {tenant!r} has no active policy revision in the store: give the policy with -p FILE "
            "(or --pack NAME)"
            if tenant is not None
            else "give the policy with -p FILE (or --pack NAME), or --tenant NAME "
            "to use that tenant's active revision",
            2,
        )
    return BasePolicy(text=active.content, revision=active.rev)


def _run(action: Any) -> Any:
    try:
        return action()
    except PolicyError as e:
        fail("policy error", str(e), 2)
    except RailguardError as e:
        fail("error", str(e), 1)


@proposals_app.command("generate")
def generate_cmd(
    since: SinceOpt = "7d",
    tenant: TenantOpt = None,
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft proposals from the stored findings (run `railguard diagnose` first) and decisions of the
    window, check each (compiles, its unit tests pass), backtest it, and store it (an open proposal
    is updated, a rejected one stays rejected unless its evidence doubled)."""
    from railguard.diagnose.proposals import generate_proposals

    now = time.time()
    start = parse_since(since, now)
    with open_store_or_exit(db, create=False) as store:
        tenants = [tenant] if tenant is not None else _tenants(store, start)
        if not tenants:
            out.print("No decisions in the window: nothing to propose.")
            return
        results = {}
        skipped = []
        with progress("proposing", total=len(tenants)) as advance:
            for name in tenants:
                if tenant is None and not (policy or pack) and _active(store, name) is None:
                    skipped.append(name)  # every tenant was asked for: say which had no policy
                    advance(1)
                    continue
                base = _base(store, name, policy, pack)
                results[name] = _run(
                    lambda b=base, t=name: generate_proposals(
                        store, tenant=t, base=b, since=start, until=now, now=now
                    )
                )
                advance(1)
        if as_json:
            print(json.dumps({t: r.to_json() for t, r in results.items()}))
            return
        for name in skipped:
            out.print(f"[dim]{escape(name)}: no active policy revision (give -p FILE to use a file)[/dim]")
        for name, result in results.items():
            out.print(
                f"[bold]{escape(name)}[/bold]: {len(result.created)} new, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged, {len(result.suppressed)} held back (rejected before), "
                f"{len(result.invalid)} dropped (failed their checks)"
            )
            for p in result.created + result.updated:
                out.print(f"  {p.id}  {escape(p.title)}  {_impact(p)}")
            for line in result.suppressed:
                out.print(f"  [dim]{escape(line)}[/dim]")
            for title, errors in result.invalid:
                out.print(f"  [yellow]dropped[/yellow] {escape(title)}: {escape('; '.join(errors)[:300])}")
        out.print(
            "Review with `railguard proposals list` / `show ID`; accept with `railguard proposals accept ID`."
        )


def _tenants(store: Store, since: float) -> list[str]:
    from sqlalchemy import select

    from railguard.store._schema import decisions

    with store.read_connection() as conn:
        rows = conn.execute(select(decisions.c.tenant).where(decisions.c.ts >= since).distinct()).all()
    return sorted(str(r[0]) for r in rows if r[0])


def _impact(p: Proposal) -> str:
    b = p.backtest
    parts = [f"evidence {p.evidence_count}"]
    for key, word in (("newly_blocked", "blocked"), ("newly_asked", "asked"), ("newly_allowed", "allowed")):
        if b.get(key):
            parts.append(f"{word} {b[key]}")
    if b.get("approved_now_blocked"):
        parts.append(f"[yellow]over-blocking {b['approved_now_blocked']}[/yellow]")
    if b.get("labelled_failures_caught"):
        parts.append(f"failures caught {b['labelled_failures_caught']}")
    return "[dim]" + ", ".join(parts) + "[/dim]"


@proposals_app.command("list")
def list_cmd(
    tenant: TenantOpt = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open, accepted, rejected or shadow.")
    ] = None,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines: one proposal per line.")] = False,
) -> None:
    """Proposals, open ones first, with their backtest in one line."""
    from railguard.diagnose.proposals import list_proposals

    with open_store_or_exit(db, create=False) as store:
        found = _run(lambda: list_proposals(store, tenant=tenant, status=status))
    if as_json:
        print_jsonl(p.to_json(full=False) for p in found)
        return
    if not found:
        out.print("No proposals. Run `railguard diagnose` then `railguard proposals generate`.")
        return
    table = Table("id", "status", "tenant", "kind", "title", "backtest")
    for p in found:
        style = STATUS_STYLE.get(p.status, "")
        table.add_row(
            p.id, f"[{style}]{p.status}[/{style}]", escape(p.tenant), p.kind, escape(p.title), _impact(p)
        )
    out.print(table)


@proposals_app.command("show")
def show_cmd(
    proposal_id: IdArg, tenant: TenantOpt = None, db: DbOpt = None, as_json: JsonOpt = False
) -> None:
    """One proposal: rationale, evidence, the YAML patch, its unit tests and its backtest."""
    from railguard.diagnose.proposals import get_proposal

    with open_store_or_exit(db, create=False) as store:
        p = _run(lambda: get_proposal(store, proposal_id, tenant=tenant))
    if as_json:
        print(json.dumps(p.to_json(), default=str))
        return
    style = STATUS_STYLE.get(p.status, "")
    out.print(f"[bold]{p.id}[/bold] [{style}]{p.status}[/{style}]  {escape(p.title)}")
    out.print(
        f"tenant {escape(p.tenant)} · source {p.kind} ({escape(p.source)}) · updated {when(p.updated_at)}"
    )
    if p.status_by:
        reason = f": {p.status_reason}" if p.status_reason else ""
        applied = f" -> {p.applied_to}" if p.applied_to else ""
        out.print(
            f"{p.status} by {escape(p.status_by)} at {when(p.status_at)}{escape(reason)}{escape(applied)}"
        )
    out.print(f"\n{escape(p.rationale)}\n")
    out.print("[bold]patch[/bold]")
    out.print(escape(p.patch))
    out.print("[bold]unit tests[/bold] (run with `railguard test`)")
    out.print(escape(p.cases))
    out.print(f"[bold]backtest[/bold] {_impact(p)}")
    if p.backtest.get("note"):
        out.print(f"  note: {escape(str(p.backtest['note']))}")
    out.print(f"[bold]evidence[/bold] ({p.evidence_count})")
    for e in p.evidence[:10]:
        out.print(
            f"  {escape(str(e.get('trace_id') or e.get('run') or '-'))}  {escape(str(e.get('tool') or ''))}  {escape(str(e.get('why') or ''))}"
        )


@proposals_app.command("backtest")
def backtest_cmd(
    proposal_id: IdArg,
    since: SinceOpt = "7d",
    tenant: TenantOpt = None,
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    db: DbOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object of counts, nothing else.")
    ] = False,
) -> None:
    """Replay the window through the current policy and the current policy + the proposal's patch,
    and report what changes (over-blocking: calls people approved that it would block)."""
    from railguard.cli._backtest import _print_report
    from railguard.diagnose.proposals import backtest_proposal, get_proposal

    now = time.time()
    with open_store_or_exit(db, create=False) as store:
        found = _run(lambda: get_proposal(store, proposal_id, tenant=tenant))
        base = _base(store, found.tenant, policy, pack)
        p, report = _run(lambda: backtest_proposal(store, found.id, tenant=found.tenant, base=base,
                                                   since=parse_since(since, now), until=now))  # fmt: skip
    if as_json:
        print(json.dumps(report.to_json()))
        return
    out.print(f"[bold]{p.id}[/bold] {escape(p.title)} — current policy: {escape(base.describe())}")
    _print_report(report)
    if report.approved_now_blocked:
        out.print("[yellow]over-blocking: this proposal would block calls people approved[/yellow]")


@proposals_app.command("accept")
def accept_cmd(
    proposal_id: IdArg,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Its rules in audit mode first (promote later).")
    ] = False,
    to: ToOpt = None,
    tenant: TenantOpt = None,
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    by: ByOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Accept a proposal: a new active policy revision of its tenant (the active revision + the patch;
    attached engines run it within a second) or, with --to FILE, the patch merged into that file."""
    from railguard.diagnose.proposals import BasePolicy, accept

    with open_store_or_exit(db, create=False) as store:
        base = (
            BasePolicy(paths=tuple(str(p) for p in policy or ()), packs=tuple(pack or ()))
            if policy or pack
            else None
        )
        p = _run(
            lambda: accept(
                store, proposal_id, tenant=tenant, actor=_who(by), base=base, shadow=shadow, to_file=to
            )
        )
    _decided(p, as_json)


@proposals_app.command("promote")
def promote_cmd(
    proposal_id: IdArg,
    to: ToOpt = None,
    tenant: TenantOpt = None,
    policy: PolicyOpt = None,
    by: ByOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enforce a proposal accepted with --shadow."""
    from railguard.diagnose.proposals import BasePolicy, promote

    with open_store_or_exit(db, create=False) as store:
        base = BasePolicy(paths=tuple(str(p) for p in policy)) if policy else None
        p = _run(lambda: promote(store, proposal_id, tenant=tenant, actor=_who(by), base=base, to_file=to))
    _decided(p, as_json)


@proposals_app.command("reject")
def reject_cmd(
    proposal_id: IdArg,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept with the proposal and in the audit log).")
    ] = "",
    tenant: TenantOpt = None,
    by: ByOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a proposal: it is not proposed again unless its evidence at least doubles."""
    from railguard.diagnose.proposals import reject

    with open_store_or_exit(db, create=False) as store:
        p = _run(lambda: reject(store, proposal_id, tenant=tenant, actor=_who(by), reason=reason))
    _decided(p, as_json)


def _decided(p: Proposal, as_json: bool) -> None:
    if as_json:
        print(json.dumps(p.to_json(full=False), default=str))
        return
    where = f" -> {p.applied_to}" if p.applied_to and p.status != "rejected" else ""
    out.print(f"{p.id} [bold]{p.status}[/bold]{escape(where)}: {escape(p.title)}")


__all__ = ["register"]
