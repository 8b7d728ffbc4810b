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
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from railguard.server._auth import AuthError, Principal, authenticate, bearer_of, permitted, require
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


def _encoded(answer: Any) -> bytes:
    """The `check --json` line, without FastAPI's generic re-encoding of every value."""
    try:
        return orjson.dumps(answer, default=str)
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits echoed in `args`
        return json.dumps(answer, default=str).encode()


def _json(answer: Any) -> Response:
    return Response(_encoded(answer), media_type="application/json")


def _bad(err: BadAction) -> JSONResponse:
    return JSONResponse({"detail": str(err)}, status_code=400)


async def _evaluate_one(
    service: GuardService, principal: Principal, action: Any, deadline: str | None
) -> Any:
    """The answer's JSON value, or the 400 for a bad action or deadline header."""
    try:
        return await service.evaluate(principal, action, deadline_from(deadline))
    except BadAction as err:
        return _bad(err)


async def _evaluate_many(service: GuardService, principal: Principal, body: Any, deadline: str | None) -> Any:
    actions = body.get("actions") if isinstance(body, dict) else None
    if not isinstance(actions, list):
        return _bad(BadAction('the body must be {"actions": [action, ...]}'))
    try:
        decisions = await service.evaluate_batch(principal, actions, deadline_from(deadline))
    except BadAction as err:
        return _bad(err)
    return {"decisions": decisions}


def _response(answer: Any) -> Response:
    return answer if isinstance(answer, Response) else _json(answer)


@router.post("/evaluate", response_model=dict[str, Any])
async def evaluate(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    action: Annotated[Any, Body(examples=[ACTION_EXAMPLE])],
    deadline: DeadlineHeader = None,
) -> Any:
    """Decide one action: `{tool, args, id, context}` -> the `railguard check --json` line
    (verdict, rules, reason, decision_id, policy_revision, approval_id when a human must decide)."""
    return _response(await _evaluate_one(_service(request), principal, action, deadline))


@router.post("/evaluate-batch", response_model=dict[str, Any])
async def evaluate_batch(
    request: Request,
    principal: Annotated[Principal, Depends(require("evaluate"))],
    body: Annotated[dict[str, list[Any]], Body(examples=[{"actions": [ACTION_EXAMPLE]}])],
    deadline: DeadlineHeader = None,
) -> Any:
    """`{"actions": [...]}` -> `{"decisions": [...]}` in the same order; an invalid action gets
    `{"index", "error"}` in its place and does not fail the others."""
    return _response(await _evaluate_many(_service(request), principal, body, deadline))


Answer = Callable[[GuardService, Principal, Any, str | None], Awaitable[Any]]
HOT_PATHS: dict[str, Answer] = {
    "/v1/guard/evaluate": _evaluate_one,
    "/v1/guard/evaluate-batch": _evaluate_many,
}
_INTERNAL_ERROR = PlainTextResponse("Internal Server Error", status_code=500)
_JSON = b"application/json"


async def answer_hot(answer: Answer, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one of HOT_PATHS (a POST; `scope["app"]` set): the caller authenticated as for the
    FastAPI route, the body parsed with orjson, errors answered as FastAPI's stack answers them
    (an unexpected exception: a 500, then re-raised for the server's log). A bearer key's request
    reads its two headers straight from the scope and answers with two bare ASGI messages: no
    Request, Headers or Response objects per call."""
    app = scope["app"]
    result: Any
    try:
        try:
            authorization = deadline = None
            for name, value in scope["headers"]:  # lower-case names (ASGI); the first one counts
                if name == b"authorization" and authorization is None:
                    authorization = value
                elif name == b"x-railguard-deadline-ms" and deadline is None:
                    deadline = value.decode("latin-1")
            secret = None if authorization is None else bearer_of(authorization.decode("latin-1"))
            if secret is None:  # no key: the dashboard's session cookie (or the 401)
                principal = await authenticate(Request(scope, receive), "evaluate")
            else:
                principal = permitted(await app.state.auth.principal(secret), "evaluate")
            try:
                body = orjson.loads(await _read_body(receive))
            except orjson.JSONDecodeError as err:
                result = _bad(BadAction(f"the body is not valid JSON ({err})"))
            else:
                result = await answer(app.state.guard, principal, body, deadline)
        except AuthError as err:
            result = JSONResponse({"detail": err.message}, status_code=err.status, headers=err.http().headers)
    except Exception:
        await _INTERNAL_ERROR(scope, receive, send)
        raise
    if isinstance(result, Response):
        await result(scope, receive, send)
        return
    encoded = _encoded(result)
    headers = [(b"content-length", str(len(encoded)).encode()), (b"content-type", _JSON)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": encoded})


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (as `Request.body()`: a client that left is a ClientDisconnect)."""
    message = await receive()
    chunks: list[bytes] = []
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        message = await receive()


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
