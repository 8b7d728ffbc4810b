"""`/v1/keys`: list, create and revoke API keys (admin). A tenant's admin manages its tenant's keys;
a "*" admin manages every tenant's. The new key is in the creation answer only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from railguard.errors import ConfigurationError
from railguard.server._auth import Authenticator, Principal, require
from railguard.store import ALL_TENANTS, ROLES, KeyNotFound

router = APIRouter(prefix="/v1/keys", tags=["keys"])
Admin = Annotated[Principal, Depends(require("admin"))]


class NewKey(BaseModel):
    tenant: str | None = Field(None, description="Default: the caller's tenant. '*' only for '*' admins.")
    role: str = Field(description=f"One of {', '.join(ROLES)}.")
    name: str | None = Field(None, max_length=256)
    rate_per_s: float | None = Field(None, gt=0)


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


@router.get("")
async def list_keys(request: Request, principal: Admin, tenant: str | None = None) -> dict[str, Any]:
    scope = principal.read_scope(tenant)
    found = await run_in_threadpool(_auth(request).keys.list, tenant=scope)
    return {"keys": [k.to_dict() for k in found]}


@router.post("", status_code=201)
async def create_key(request: Request, principal: Admin, body: NewKey) -> dict[str, Any]:
    tenant = body.tenant or principal.key.tenant
    if tenant == ALL_TENANTS and not principal.all_tenants:
        raise HTTPException(403, "only a '*' admin key can create keys for every tenant")
    if tenant != ALL_TENANTS:
        tenant = principal.tenant_for(tenant)
    try:
        created = await run_in_threadpool(
            lambda: _auth(request).keys.create(
                tenant=tenant,
                role=body.role,
                name=body.name,
                actor=principal.actor,
                rate_per_s=body.rate_per_s,
            )
        )
    except ConfigurationError as err:
        raise HTTPException(400, str(err)) from None
    return {**created.info.to_dict(), "key": created.key}


@router.delete("/{key_id}")
async def revoke_key(request: Request, principal: Admin, key_id: str) -> dict[str, Any]:
    scope = principal.read_scope(None)
    try:
        revoked = await run_in_threadpool(
            lambda: _auth(request).keys.revoke(key_id, tenant=scope, actor=principal.actor)
        )
    except KeyNotFound as err:
        raise HTTPException(404, str(err)) from None
    _auth(request).forget()  # at once on this replica; others within key_cache_s
    return revoked.to_dict()
