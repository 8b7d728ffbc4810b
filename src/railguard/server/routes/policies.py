"""`/v1/policies`: revisions of the caller's tenant. Upload (YAML body, validated with file:line
errors), list, show (with diff), activate (enforce or audit = shadow), roll back. Admin writes, viewer reads;
a key of every tenant names the tenant with `?tenant=`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from railguard.server import _policies
from railguard.server._auth import Principal, require
from railguard.server._engines import TenantEngines
from railguard.server.routes._params import Limit, Rev, SeqBefore
from railguard.store import RevisionNotFound

router = APIRouter(prefix="/v1/policies", tags=["policies"])
Admin = Annotated[Principal, Depends(require("admin"))]
Reader = Annotated[Principal, Depends(require("read"))]
YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


def _engines(request: Request) -> TenantEngines:
    engines: TenantEngines = request.app.state.engines
    return engines


@router.get("")
async def list_revisions(
    request: Request,
    principal: Reader,
    tenant: str | None = None,
    limit: Limit = 50,
    before: SeqBefore = None,
) -> dict[str, Any]:
    """Revisions newest first (no content; `before`: the last rev seen)."""
    scope = principal.tenant_for(tenant)
    found = await run_in_threadpool(
        _engines(request).revisions.list, tenant=scope, limit=limit, before=before
    )
    return {"tenant": scope, "revisions": [r.to_dict() for r in found]}


@router.post("", status_code=201, openapi_extra=YAML_BODY)
async def upload(request: Request, principal: Admin, tenant: str | None = None) -> dict[str, Any]:
    """Validate and store a new revision (not active until activated)."""
    scope = principal.tenant_for(tenant)
    raw = await request.body()
    try:
        content = raw.decode("utf-8")
        created = await run_in_threadpool(
            _policies.upload,
            _engines(request).revisions,
            tenant=scope,
            content=content,
            author=principal.actor,
        )
    except UnicodeDecodeError:
        raise HTTPException(400, "the policy must be UTF-8 text") from None
    except _policies.InvalidPolicy as err:
        raise HTTPException(400, str(err)) from None
    return created.to_dict()


@router.get("/active")
async def active(request: Request, principal: Reader, tenant: str | None = None) -> dict[str, Any]:
    scope = principal.tenant_for(tenant)
    found = await run_in_threadpool(_engines(request).revisions.active, tenant=scope)
    if found is None:
        return {"tenant": scope, "active": None}
    return {"tenant": scope, "active": found.to_dict(content=True)}


@router.post("/rollback")
async def rollback(request: Request, principal: Admin, tenant: str | None = None) -> dict[str, Any]:
    """Make the previously active revision active again (in its previous mode)."""
    scope = principal.tenant_for(tenant)
    try:
        back = await run_in_threadpool(
            lambda: _policies.rollback(_engines(request), tenant=scope, actor=principal.actor)
        )
    except RevisionNotFound as err:
        raise HTTPException(409, str(err)) from None
    return back.to_dict()


@router.get("/{rev}")
async def show(request: Request, principal: Reader, rev: Rev, tenant: str | None = None) -> dict[str, Any]:
    scope = principal.tenant_for(tenant)
    try:
        found = await run_in_threadpool(_engines(request).revisions.get, tenant=scope, rev=rev)
    except RevisionNotFound as err:
        raise HTTPException(404, str(err)) from None
    return found.to_dict(content=True)


@router.post("/{rev}/activate")
async def activate(
    request: Request,
    principal: Admin,
    rev: Rev,
    mode: Literal["enforce", "audit"] = "enforce",
    tenant: str | None = None,
) -> dict[str, Any]:
    """Make `rev` the tenant's policy: `mode=audit` records what it would do and never acts."""
    scope = principal.tenant_for(tenant)
    try:
        done = await run_in_threadpool(
            lambda: _policies.activate(
                _engines(request), tenant=scope, rev=rev, actor=principal.actor, mode=mode
            )
        )
    except RevisionNotFound as err:
        raise HTTPException(404, str(err)) from None
    return done.to_dict()
