"""`POST /v1/rules/draft`: a rule in plain English, drafted by the server's configured LLM
($RAILGUARD_LLM), checked by the compiler and its unit tests, backtested on the tenant's history and
returned for review. Admin only (it spends model calls and reads the tenant's history); nothing is
stored or activated: accepting is uploading a revision (`POST /v1/policies`) and activating it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from railguard.diagnose.draft import DEFAULT_RETRIES, MAX_REQUEST, MAX_RETRIES
from railguard.errors import DraftError, PolicyError
from railguard.server import _rules
from railguard.server._auth import Principal, require

router = APIRouter(prefix="/v1/rules", tags=["rules"])
Admin = Annotated[Principal, Depends(require("admin"))]


class DraftRequest(BaseModel):
    request: str = Field(min_length=1, max_length=MAX_REQUEST, description="The rule, in a sentence.")
    window_s: float = Field(
        _rules.DEFAULT_WINDOW_S,
        gt=0,
        le=_rules.MAX_WINDOW_S,
        description="History to backtest on, in seconds.",
    )
    retries: int = Field(DEFAULT_RETRIES, ge=0, le=MAX_RETRIES, description="Corrections the model may make.")


@router.post("/draft")
async def draft(
    request: Request, principal: Admin, body: DraftRequest, tenant: str | None = None
) -> dict[str, Any]:
    """The draft (YAML rule, its unit tests and their results), the backtest against the tenant's
    current policy and what a reviewer must look at. 422 when the model gave no valid draft within
    the retries (with its last problems), 409 when no LLM is configured, 502 when it is unreachable."""
    scope = principal.tenant_for(tenant)
    app = request.app
    try:
        result = await run_in_threadpool(
            lambda: _rules.draft_for(
                app.state.store, app.state.engines.revisions, app.state.settings, tenant=scope,
                request=body.request, window_s=body.window_s, retries=body.retries,
            )
        )  # fmt: skip
    except DraftError as err:
        raise HTTPException(409 if err.usage else 502, str(err)) from None
    except PolicyError as err:
        raise HTTPException(409, f"the current policy does not load: {err}") from None
    answer = {"tenant": scope, **result.to_json()}
    if not result.valid:
        raise HTTPException(422, {"message": f"no valid draft after {result.attempts} attempt(s)", **answer})
    return answer
