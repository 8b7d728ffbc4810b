"""`/v1/approvals` and `/v1/killswitch`: human approvals (list, decide, long-poll wait) and kill
switches, in the caller's tenant. Deciding and flipping are appended to the audit log with the key's
name as the actor."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from railguard.server import _changes
from railguard.server._auth import AuthError, Principal, authenticate, require
from railguard.server._changes import NotVisible, visible_approval
from railguard.server.routes._params import Limit, WaitSeconds
from railguard.state import ApprovalNotPending, Approvals, KillSwitch
from railguard.state._approvals_repo import STATUSES
from railguard.store import Store

router = APIRouter(tags=["approvals"])
Reader = Annotated[Principal, Depends(require("read"))]
Approver = Annotated[Principal, Depends(require("approve"))]
Admin = Annotated[Principal, Depends(require("admin"))]
MAX_WAIT_S = 60.0


class Verdict(BaseModel):
    note: str | None = Field(None, max_length=2000, description="Why (recorded with the decision).")


class SwitchChange(BaseModel):
    engaged: bool
    tenant: str | None = Field(
        None, description="Default: the caller's; a key of every tenant may omit it (global)."
    )
    agent: str | None = None
    tool: str | None = None
    reason: str = Field("", max_length=2000)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.get("/v1/approvals")
async def list_approvals(
    request: Request,
    principal: Reader,
    status: str | None = None,
    tenant: str | None = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise HTTPException(400, f"unknown status {status[:20]!r}; use one of {', '.join(STATUSES)}")
    scope = principal.read_scope(tenant)
    found = await run_in_threadpool(
        Approvals(_store(request)).list_requests, status=status, tenant=scope, limit=max(1, min(limit, 1000))
    )
    return {"approvals": [a.to_dict() for a in found]}


async def _waiter(request: Request) -> Principal:
    """Agents wait on their approvals; people with read access may watch them too."""
    try:
        return await authenticate(request, "wait")
    except AuthError as err:
        if err.status != 403:
            raise err.http() from None
    try:
        return await authenticate(request, "read")
    except AuthError as err:
        raise err.http() from None


@router.get("/v1/approvals/{approval_id}")
async def get_approval(request: Request, approval_id: str, principal: Reader) -> dict[str, Any]:
    try:
        found = await run_in_threadpool(visible_approval, principal, _store(request), approval_id)
    except NotVisible as err:
        raise HTTPException(404, str(err)) from None
    return found.to_dict()


@router.get("/v1/approvals/{approval_id}/wait")
async def wait_for_approval(
    request: Request,
    approval_id: str,
    principal: Annotated[Principal, Depends(_waiter)],
    timeout_s: WaitSeconds = 30.0,
) -> dict[str, Any]:
    """Long-poll: answers as soon as the request is decided (or expired), else after `timeout_s`
    (at most 60) with its pending state. Decisions made on any replica are seen."""
    store = _store(request)
    deadline = time.monotonic() + max(0.0, min(timeout_s, MAX_WAIT_S))
    delay = 0.05
    while True:
        try:
            found = await run_in_threadpool(visible_approval, principal, store, approval_id)
        except NotVisible as err:
            raise HTTPException(404, str(err)) from None
        if found.status != "pending" or time.monotonic() >= deadline or await request.is_disconnected():
            return found.to_dict()
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.5)


@router.post("/v1/approvals/{approval_id}/{decision}")
async def decide_route(
    request: Request,
    approval_id: str,
    decision: Literal["approve", "deny"],
    principal: Approver,
    body: Verdict | None = None,
) -> dict[str, Any]:
    """Approve or deny (approver or admin). 409 when it was already decided or has expired."""
    note = body.note if body else None
    try:
        done = await run_in_threadpool(
            _changes.decide_approval, principal, _store(request), approval_id, decision, note
        )
    except NotVisible as err:
        raise HTTPException(404, str(err)) from None
    except ApprovalNotPending as err:
        raise HTTPException(409, str(err)) from None
    return done.to_dict()


@router.get("/v1/killswitch", tags=["killswitch"])
async def list_switches(request: Request, principal: Reader, tenant: str | None = None) -> dict[str, Any]:
    """Switches of the caller's tenant, and the global ones that also stop it."""
    scope = principal.read_scope(tenant)
    found = await run_in_threadpool(KillSwitch(_store(request)).status)
    shown = [s for s in found if scope is None or (s.tenant or "") in (scope, "")]
    return {"switches": [s.to_dict() for s in shown]}


@router.post("/v1/killswitch", tags=["killswitch"])
async def flip_route(request: Request, principal: Admin, body: SwitchChange) -> dict[str, Any]:
    """Engage or release a switch for the tenant, one agent and/or one tool (admin). Every engine
    on every replica stops matching calls within a second."""
    # No tenant from a key of every tenant: a global switch (only such a key can stop everyone).
    tenant = "" if body.tenant is None and principal.all_tenants else principal.tenant_for(body.tenant)
    switch = await run_in_threadpool(
        lambda: _changes.flip_switch(
            principal, _store(request), tenant=tenant, engaged=body.engaged, agent=body.agent, tool=body.tool,
            reason=body.reason,
        )
    )  # fmt: skip
    return switch.to_dict()
