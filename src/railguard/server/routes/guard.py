"""The guard API: `POST /v1/guard/evaluate` (a `railguard check` input line in, its `--json` line
out), `/v1/guard/evaluate-batch` and `/v1/guard/observe` (a tool's output, for provenance).

The two evaluate endpoints are the hot path: `answer_hot` serves them straight from the ASGI call,
before FastAPI's middleware stack and routing (those cost as much CPU as uvicorn itself per
request: see benchmarks/results/server.md). The FastAPI declarations below document them in
/openapi.json and answer through the same functions; the behaviour (auth, tenant, deadline, errors)
is one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Header, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from railguard.server._auth import AuthError, Principal, authenticate, require
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
    """The `check --json` line, without FastAPI's generic re-encoding of every value."""
    try:
        body = orjson.dumps(answer, default=str)
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits echoed in `args`
        body = json.dumps(answer, default=str).encode()
    return Response(body, media_type="application/json")


def _bad(err: BadAction) -> JSONResponse:
    return JSONResponse({"detail": str(err)}, status_code=400)


async def _evaluate_one(
    request: Request, principal: Principal, action: Any, deadline: str | None
) -> Response:
    try:
        answer = await _service(request).evaluate(principal, action, deadline_from(deadline))
    except BadAction as err:
        return _bad(err)
    return _json(answer)


async def _evaluate_many(request: Request, principal: Principal, body: Any, deadline: str | None) -> Response:
    actions = body.get("actions") if isinstance(body, dict) else None
    if not isinstance(actions, list):
        return _bad(BadAction('the body must be {"actions": [action, ...]}'))
    try:
        decisions = await _service(request).evaluate_batch(principal, actions, deadline_from(deadline))
    except BadAction as err:
        return _bad(err)
    return _json({"decisions": decisions})


@router.post("/evaluate", response_model=dict[str, Any])
async def evaluate(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    action: Annotated[Any, Body(examples=[ACTION_EXAMPLE])],
    deadline: DeadlineHeader = None,
) -> Any:
    """Decide one action: `{tool, args, id, context}` -> the `railguard check --json` line
    (verdict, rules, reason, decision_id, policy_revision, approval_id when a human must decide)."""
    return await _evaluate_one(request, principal, action, deadline)


@router.post("/evaluate-batch", response_model=dict[str, Any])
async def evaluate_batch(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    body: Annotated[dict[str, list[Any]], Body(examples=[{"actions": [ACTION_EXAMPLE]}])],
    deadline: DeadlineHeader = None,
) -> Any:
    """`{"actions": [...]}` -> `{"decisions": [...]}` in the same order; an invalid action gets
    `{"index", "error"}` in its place and does not fail the others."""
    return await _evaluate_many(request, principal, body, deadline)


Answer = Callable[[Request, Principal, Any, str | None], Awaitable[Response]]
HOT_PATHS: dict[str, Answer] = {
    "/v1/guard/evaluate": _evaluate_one,
    "/v1/guard/evaluate-batch": _evaluate_many,
}
_INTERNAL_ERROR = PlainTextResponse("Internal Server Error", status_code=500)


async def answer_hot(answer: Answer, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one of HOT_PATHS (a POST; `scope["app"]` set): the caller authenticated as for the
    FastAPI route, the body parsed with orjson, errors answered as FastAPI's stack answers them
    (an unexpected exception: a 500, then re-raised for the server's log)."""
    request = Request(scope, receive)
    response: Response
    try:
        try:
            principal = await authenticate(request, "evaluate")
            request.state.principal = principal
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError as err:
                response = _bad(BadAction(f"the body is not valid JSON ({err})"))
            else:
                response = await answer(
                    request, principal, body, request.headers.get("x-railguard-deadline-ms")
                )
        except AuthError as err:
            response = JSONResponse(
                {"detail": err.message}, status_code=err.status, headers=err.http().headers
            )
    except Exception:
        await _INTERNAL_ERROR(scope, receive, send)
        raise
    await response(scope, receive, send)


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


@router.post("/usage", response_model=dict[str, Any])
async def usage(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    body: Annotated[
        Any, Body(examples=[{"run": "run-42", "agent": "support", "tokens": 1200, "cost": 0.004}])
    ],
) -> Any:
    """Report what a model call of a run spent `{run, tokens, cost}` after it ran: charged to the
    policy's token and cost budgets, so a budget it uses up refuses the run's next call."""
    try:
        return await _service(request).usage(principal, body)
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
