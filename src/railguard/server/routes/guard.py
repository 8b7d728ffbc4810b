"""The guard API: `POST /v1/guard/evaluate` (a `railguard check` input line in, its `--json` line
out), `/v1/guard/evaluate-batch` and `/v1/guard/observe` (a tool's output, for provenance)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from railguard.server._auth import Principal, require
from railguard.server._guard import BadAction, GuardService, deadline_from

router = APIRouter(prefix="/v1/guard", tags=["guard"])

DeadlineHeader = Annotated[
    str | None,
    Header(
        alias="X-Railguard-Deadline-Ms",
        description="Answer within this many milliseconds; past it the answer is the policy's on_error.",
    ),
]
ACTION_EXAMPLE = {
    "tool": "bash",
    "args": {"command": "rm -rf /"},
    "id": "call_1",
    "context": {"agent": "support", "run": "run-42"},
}


def _service(request: Request) -> GuardService:
    service: GuardService = request.app.state.guard
    return service


def _json(answer: Any) -> Response:
    """The `check --json` line as the CLI prints it (json.dumps), without FastAPI's generic
    re-encoding of every value: the hot path of the guard API."""
    return Response(json.dumps(answer, default=str), media_type="application/json")


def _bad(err: BadAction) -> JSONResponse:
    return JSONResponse({"detail": str(err)}, status_code=400)


@router.post("/evaluate", response_model=dict[str, Any])
async def evaluate(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    action: Annotated[Any, Body(examples=[ACTION_EXAMPLE])],
    deadline: DeadlineHeader = None,
) -> Any:
    """Decide one action: `{tool, args, id, context}` -> the `railguard check --json` line
    (verdict, rules, reason, decision_id, policy_revision, approval_id when a human must decide)."""
    try:
        answer = await _service(request).evaluate(principal, action, deadline_from(deadline))
    except BadAction as err:
        return _bad(err)
    return _json(answer)


@router.post("/evaluate-batch", response_model=dict[str, Any])
async def evaluate_batch(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    body: Annotated[dict[str, list[Any]], Body(examples=[{"actions": [ACTION_EXAMPLE]}])],
    deadline: DeadlineHeader = None,
) -> Any:
    """`{"actions": [...]}` -> `{"decisions": [...]}` in the same order; an invalid action gets
    `{"index", "error"}` in its place and does not fail the others."""
    actions = body.get("actions")
    if actions is None:
        return _bad(BadAction('the body must be {"actions": [action, ...]}'))
    try:
        return {
            "decisions": await _service(request).evaluate_batch(principal, actions, deadline_from(deadline))
        }
    except BadAction as err:
        return _bad(err)


@router.post("/observe", response_model=dict[str, Any])
async def observe(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    body: Annotated[
        Any, Body(examples=[{"run": "run-42", "id": "call_1", "tool": "fetch", "content": "..."}])
    ],
) -> Any:
    """Report a tool's output `{run, id, tool, content}` so later calls of the run are checked for
    values that came from untrusted output (provenance)."""
    try:
        return await _service(request).observe(principal, body)
    except BadAction as err:
        return _bad(err)


@router.get("/policy", response_model=dict[str, Any])
async def active_policy(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    known: str | None = None,
    tenant: str | None = None,
) -> Any:
    """What a remote or attached engine needs: the tenant's active revision (its content unless
    `known` is already its content hash), its mode and on_error, and the engaged kill switches that
    stop this tenant (for the client's local cache)."""
    scope = principal.tenant_for(tenant)
    return await run_in_threadpool(_service(request).policy_state, scope, known)
