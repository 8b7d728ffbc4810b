"""`/v1/runs` (keyset pages, filters), `/v1/runs/{trace_id}` (the span tree with its decisions) and
`/v1/decisions` (filters, keyset pages): reads of the caller's tenant."""

from __future__ import annotations

import dataclasses
import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from railguard.server._auth import Principal, require
from railguard.server.routes._params import Limit, UnixTime
from railguard.store import Store
from railguard.store._decision_pages import decision_page

router = APIRouter(tags=["runs"])
Reader = Annotated[Principal, Depends(require("read"))]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.get("/v1/runs")
async def list_runs(
    request: Request,
    principal: Reader,
    tenant: str | None = None,
    agent: str | None = None,
    session: str | None = None,
    status: str | None = None,
    verdict: str | None = None,
    since: UnixTime = None,
    until: UnixTime = None,
    limit: Limit = 50,
    before: str | None = None,
) -> dict[str, Any]:
    """Newest runs first. `since`/`until`: Unix seconds; `before`: the previous page's `next`."""
    scope = principal.read_scope(tenant)
    try:
        found = await run_in_threadpool(
            _store(request).list_runs, tenant=scope, agent=agent, session=session, status=status, verdict=verdict,
            since=since, until=until, limit=limit, before=before,
        )  # fmt: skip
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    page = max(1, min(limit, 1000))
    return {
        "runs": [dataclasses.asdict(run) for run in found],
        "next": found[-1].cursor if len(found) == page else None,
    }


@router.get("/v1/runs/{trace_id}")
async def get_run(
    request: Request, trace_id: str, principal: Reader, tenant: str | None = None
) -> dict[str, Any]:
    """Every span of the run in start order (parent ids give the tree) and the run's decisions."""
    scope = principal.read_scope(tenant)
    store = _store(request)
    spans = await run_in_threadpool(store.get_trace, trace_id, tenant=scope)
    if not spans:
        raise HTTPException(404, f"no run {trace_id[:80]!r}")
    # Decisions recorded with this trace as their run (the guard API's `context.run`).
    decisions, _next = await run_in_threadpool(
        functools.partial(decision_page, store, tenant=scope, run=trace_id, limit=1000)
    )
    return {"trace_id": trace_id, "spans": [dataclasses.asdict(s) for s in spans], "decisions": decisions}


@router.get("/v1/decisions")
async def list_decisions(
    request: Request,
    principal: Reader,
    tenant: str | None = None,
    verdict: str | None = None,
    rule: str | None = None,
    tool: str | None = None,
    agent: str | None = None,
    run: str | None = None,
    since: UnixTime = None,
    until: UnixTime = None,
    limit: Limit = 100,
    before: str | None = None,
) -> dict[str, Any]:
    """Decision records (DecisionV1), newest first; `before`: the previous page's `next`."""
    scope = principal.read_scope(tenant)
    try:
        found, cursor = await run_in_threadpool(
            lambda: decision_page(
                _store(request), tenant=scope, verdict=verdict, rule=rule, tool=tool, agent=agent, run=run,
                since=since, until=until, before=before, limit=limit,
            )
        )  # fmt: skip
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    return {"decisions": found, "next": cursor}
