"""`/v1/proposals`: the policy changes proposed for the caller's tenant. Viewers read them and run
their backtest; admins accept (a new active revision: this replica runs it at once, the others within
a second) or reject them. The tenant comes from the key (a key of every tenant may name it)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from railguard.diagnose.proposals import (
    BasePolicy,
    ProposalError,
    accept,
    backtest_proposal,
    get_proposal,
    list_proposals,
    promote,
    reject,
)
from railguard.errors import PolicyError
from railguard.server import _policies
from railguard.server._auth import Principal, require
from railguard.server._engines import TenantEngines
from railguard.server.routes._params import Limit

router = APIRouter(prefix="/v1/proposals", tags=["proposals"])
Admin = Annotated[Principal, Depends(require("admin"))]
Reader = Annotated[Principal, Depends(require("read"))]
ProposalId = Annotated[str, Path(min_length=3, max_length=32, pattern=r"^p-[0-9a-f]+$", description="p-...")]
Days = Annotated[float, Query(gt=0, le=90, description="Backtest window: the last N days.")]


def engines_of(request: Request) -> TenantEngines:
    engines: TenantEngines = request.app.state.engines
    return engines


def base_for(engines: TenantEngines, tenant: str) -> BasePolicy:
    """What a proposal of `tenant` changes: its active revision, else the server's default policy."""
    active = engines.revisions.active(tenant=tenant)
    if active is not None:
        return BasePolicy(text=active.content, revision=active.rev)
    default = engines._default()
    return BasePolicy(paths=tuple(default.source.files), label="the server's default policy")


def backtest_now(engines: TenantEngines, proposal_id: str, scope: str | None, days: float) -> dict[str, Any]:
    found = get_proposal(engines.store, proposal_id, tenant=scope)
    now = time.time()
    _, report = backtest_proposal(
        engines.store, found.id, tenant=found.tenant, base=base_for(engines, found.tenant),
        since=now - days * 86400, until=now,
    )  # fmt: skip
    return {"id": found.id, "tenant": found.tenant, **report.to_json(),
            "denied_now_allowed": report.denied_now_allowed, "over_blocking": report.approved_now_blocked > 0,
            "examples": [ex.to_dict() for ex in report.examples[:20]]}  # fmt: skip


def accept_now(engines: TenantEngines, proposal_id: str, scope: str | None, actor: str, shadow: bool) -> Any:
    found = get_proposal(engines.store, proposal_id, tenant=scope)
    done = accept(engines.store, found.id, tenant=found.tenant, actor=actor,
                  base=base_for(engines, found.tenant), shadow=shadow)  # fmt: skip
    _policies.apply_now(engines)
    return done


def promote_now(engines: TenantEngines, proposal_id: str, scope: str | None, actor: str) -> Any:
    found = get_proposal(engines.store, proposal_id, tenant=scope)
    done = promote(
        engines.store, found.id, tenant=found.tenant, actor=actor, base=base_for(engines, found.tenant)
    )
    _policies.apply_now(engines)
    return done


def _http(err: Exception) -> HTTPException:
    text = str(err)
    return HTTPException(404 if text.startswith(("no proposal", "several")) else 409, text)


@router.get("")
async def list_all(
    request: Request,
    principal: Reader,
    tenant: str | None = None,
    status: Literal["open", "accepted", "rejected", "shadow"] | None = None,
    limit: Limit = 200,
) -> dict[str, Any]:
    """Proposals, open first (no patch text: see one for it)."""
    scope = principal.read_scope(tenant)
    found = await run_in_threadpool(
        list_proposals, engines_of(request).store, tenant=scope, status=status, limit=limit
    )
    return {"tenant": scope, "proposals": [p.to_json(full=False) for p in found]}


@router.get("/{proposal_id}")
async def show(
    request: Request, principal: Reader, proposal_id: ProposalId, tenant: str | None = None
) -> dict[str, Any]:
    """One proposal with its rationale, evidence, patch (YAML), unit tests and stored backtest."""
    scope = principal.read_scope(tenant)
    try:
        found = await run_in_threadpool(get_proposal, engines_of(request).store, proposal_id, tenant=scope)
    except ProposalError as err:
        raise _http(err) from None
    return found.to_json()


@router.post("/{proposal_id}/backtest")
async def run_backtest(
    request: Request, principal: Reader, proposal_id: ProposalId, tenant: str | None = None, days: Days = 7
) -> dict[str, Any]:
    """Replay the last `days` of the tenant's history through its current policy and current + patch
    (nothing live is touched); `over_blocking` when it would block calls people approved."""
    scope = principal.read_scope(tenant)
    try:
        return await run_in_threadpool(backtest_now, engines_of(request), proposal_id, scope, days)
    except ProposalError as err:
        raise _http(err) from None
    except PolicyError as err:
        raise HTTPException(409, str(err)) from None


@router.post("/{proposal_id}/accept")
async def accept_one(
    request: Request, principal: Admin, proposal_id: ProposalId, tenant: str | None = None,
    shadow: Annotated[bool, Query(description="Its rules in audit mode first.")] = False,
) -> dict[str, Any]:  # fmt: skip
    """Accept: the tenant's active revision + the patch becomes a new active revision."""
    scope = principal.read_scope(tenant)
    try:
        done = await run_in_threadpool(
            accept_now, engines_of(request), proposal_id, scope, principal.actor, shadow
        )
    except ProposalError as err:
        raise _http(err) from None
    except PolicyError as err:
        raise HTTPException(409, str(err)) from None
    return done.to_json(full=False)


@router.post("/{proposal_id}/promote")
async def promote_one(
    request: Request, principal: Admin, proposal_id: ProposalId, tenant: str | None = None
) -> dict[str, Any]:
    """Enforce a proposal accepted in shadow: a new active revision with its rules enforced."""
    scope = principal.read_scope(tenant)
    try:
        done = await run_in_threadpool(promote_now, engines_of(request), proposal_id, scope, principal.actor)
    except ProposalError as err:
        raise _http(err) from None
    except PolicyError as err:
        raise HTTPException(409, str(err)) from None
    return done.to_json(full=False)


@router.post("/{proposal_id}/reject")
async def reject_one(
    request: Request, principal: Admin, proposal_id: ProposalId, tenant: str | None = None,
    body: Annotated[dict[str, str] | None, Body(description='{"reason": "..."}')] = None,
) -> dict[str, Any]:  # fmt: skip
    """Reject: not proposed again unless its evidence at least doubles."""
    scope = principal.read_scope(tenant)
    reason = str((body or {}).get("reason") or "")[:2000]
    try:
        done = await run_in_threadpool(
            lambda: reject(
                engines_of(request).store, proposal_id, tenant=scope, actor=principal.actor, reason=reason
            )
        )
    except ProposalError as err:
        raise _http(err) from None
    return done.to_json(full=False)
