"""The diagnosis API, in the caller's tenant: `GET /v1/runs/{trace_id}/why` (root cause of a run),
`GET /v1/findings` (filters, keyset pages), `GET /v1/findings/{id}`, `POST /v1/findings/{id}/status`
(approver or admin; audited), `POST /v1/diagnose` (admin: run the detectors now) and
`GET /v1/heartbeat` (the latest beat)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from railguard.diagnose import run_detectors
from railguard.diagnose.findings import finding_page, get_finding, set_status
from railguard.diagnose.why import stored_why, why
from railguard.server._auth import Principal, require
from railguard.server.routes._params import Limit, UnixTime
from railguard.server.routes.runs import _store

router = APIRouter(tags=["diagnose"])
Reader = Annotated[Principal, Depends(require("read"))]
Reviewer = Annotated[Principal, Depends(require("approve"))]  # approvers and admins
Admin = Annotated[Principal, Depends(require("admin"))]
MAX_WINDOW_S = 90 * 86_400.0


@router.get("/v1/runs/{trace_id}/why")
async def run_why(
    request: Request,
    trace_id: str,
    principal: Reader,
    tenant: str | None = None,
    refresh: Annotated[bool, Query(description="Compute again even when an answer is stored.")] = False,
    llm: Annotated[bool, Query(description="Escalate to the configured LLM when unsure.")] = True,
) -> dict[str, Any]:
    """The root cause of the run: the step where it went wrong, an explanation, the evidence steps, a
    suggested fix, tags and a confidence. The deterministic answer comes first; under 0.85 confidence,
    with RAILGUARD_LLM configured on the server, the redacted run goes to the LLM and its validated
    answer replaces it. The answer is stored; later calls return it (`stored: true`) unless `refresh`."""
    scope = principal.read_scope(tenant)
    store = _store(request)
    if not refresh:
        saved = await run_in_threadpool(stored_why, store, trace_id, tenant=scope)
        if saved is not None:
            return {**saved, "stored": True}
    try:
        answer = await run_in_threadpool(lambda: why(store, trace_id, tenant=scope, escalate=llm))
    except ValueError:
        raise HTTPException(404, f"no run {trace_id[:80]!r}") from None
    return {**answer.to_json(), "stored": False}


@router.get("/v1/findings")
async def list_findings_route(
    request: Request,
    principal: Reader,
    tenant: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    agent: str | None = None,
    severity: Annotated[str | None, Query(description="This severity or worse.")] = None,
    since: UnixTime = None,
    limit: Limit = 100,
    before: str | None = None,
) -> dict[str, Any]:
    """Stored findings, most recently seen first; `before`: the previous page's `next`."""
    scope = principal.read_scope(tenant)
    try:
        found, cursor = await run_in_threadpool(
            lambda: finding_page(
                _store(request), tenant=scope, status=status, kind=kind, agent=agent, severity=severity,
                since=since, before=before, limit=limit,
            )
        )  # fmt: skip
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    return {"findings": [f.to_full_json() for f in found], "next": cursor}


@router.get("/v1/findings/{finding_id}")
async def get_finding_route(
    request: Request, finding_id: str, principal: Reader, tenant: str | None = None
) -> dict[str, Any]:
    scope = principal.read_scope(tenant)
    try:
        found = await run_in_threadpool(get_finding, _store(request), finding_id, tenant=scope)
    except ValueError:
        raise HTTPException(404, f"no finding {finding_id[:64]!r}") from None
    return found.to_full_json()


class StatusChange(BaseModel):
    status: Literal["open", "acknowledged", "resolved", "muted"]
    note: str | None = Field(None, max_length=2000, description="Why (recorded with the change).")


@router.post("/v1/findings/{finding_id}/status")
async def set_finding_status(
    request: Request, finding_id: str, principal: Reviewer, body: StatusChange, tenant: str | None = None
) -> dict[str, Any]:
    """Acknowledge, resolve, mute or re-open a finding (approver or admin); appended to the audit log."""
    scope = principal.read_scope(tenant)
    try:
        done = await run_in_threadpool(
            lambda: set_status(
                _store(request), finding_id, body.status, by=principal.actor, note=body.note, tenant=scope
            )
        )
    except ValueError:
        raise HTTPException(404, f"no finding {finding_id[:64]!r}") from None
    return done.to_full_json()


class DiagnoseRequest(BaseModel):
    since_s: float = Field(
        default=7 * 86_400.0, ge=60, le=MAX_WINDOW_S, description="Window: this many seconds back."
    )
    agent: str | None = Field(default=None, max_length=256)
    incremental: bool = Field(
        default=False, description="Only agents with runs since the previous diagnosis."
    )


@router.post("/v1/diagnose")
async def diagnose_now(
    request: Request, principal: Admin, body: DiagnoseRequest | None = None, tenant: str | None = None
) -> dict[str, Any]:
    """Run every detector now over the tenant's window (admin); findings are stored, deduplicated."""
    settings = body or DiagnoseRequest()
    scope = principal.read_scope(tenant)
    now = time.time()
    try:
        result = await run_in_threadpool(
            lambda: run_detectors(
                _store(request), since=now - settings.since_s, until=now, tenant=scope, agent=settings.agent,
                incremental=settings.incremental, now=now,
            )
        )  # fmt: skip
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    return {
        "findings": [f.to_full_json() for f in result.findings],
        "changes": [{"id": c.finding.id, "change": c.change} for c in result.changes],
        "agents_examined": result.agents_examined,
    }


@router.get("/v1/heartbeat")
async def heartbeat_status(request: Request, principal: Reader, tenant: str | None = None) -> dict[str, Any]:
    """The tenant's latest heartbeat: HEARTBEAT_OK, ATTENTION (with its items) or ERROR (the beat
    could not run); NEVER when no beat ran yet (`railguard serve --heartbeat-every 15m`)."""
    from railguard.alert.heartbeat import latest_beat

    scope = principal.read_scope(tenant)
    found = await run_in_threadpool(latest_beat, _store(request), scope)
    if found is None:
        return {
            "status": "NEVER",
            "tenant": scope if scope is not None else "*",
            "items": [],
            "message": "no heartbeat ran for this tenant yet: start the server with --heartbeat-every 15m",
        }
    scheduler = getattr(request.app.state, "heartbeat", None)
    return {**found, "every_s": scheduler.schedule.every_s if scheduler is not None else None}
