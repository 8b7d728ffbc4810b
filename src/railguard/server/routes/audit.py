"""`/v1/audit`: the caller's tenant's audit records (keyset pages) and the chain's verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from railguard.server._auth import Principal, require
from railguard.server.routes._params import Limit, SeqBefore
from railguard.store import AuditLog

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Reader = Annotated[Principal, Depends(require("read"))]


def _log(request: Request) -> AuditLog:
    return AuditLog(request.app.state.store)


@router.get("")
async def list_records(
    request: Request,
    principal: Reader,
    tenant: str | None = None,
    action: str | None = None,
    limit: Limit = 100,
    before: SeqBefore = None,
) -> dict[str, Any]:
    """Newest first; `before`: the last seq seen. A key of every tenant sees every tenant's records."""
    scope = principal.read_scope(tenant)
    found = await run_in_threadpool(
        _log(request).list, tenant=scope, limit=limit, before=before, action=action
    )
    return {"records": [r.to_dict() for r in found], "next": found[-1].seq if found else None}


@router.get("/verify")
async def verify(request: Request, _principal: Reader) -> dict[str, Any]:
    """Recompute the whole chain: ok, records checked, and the first broken record's seq."""
    status = await run_in_threadpool(_log(request).verify)
    return {
        "ok": status.ok,
        "records": status.records,
        "broken_seq": status.broken_seq,
        "problem": status.problem,
        "head": status.head,
    }
