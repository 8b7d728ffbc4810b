"""The dashboard's proposals page: each proposal with its backtest beside it, one-click accept
(or accept in shadow) and reject for admins, with the session's CSRF token like every form."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from railguard.diagnose.proposals import (
    ProposalError,
    generate_proposals,
    get_proposal,
    list_proposals,
    reject,
)
from railguard.errors import PolicyError
from railguard.server._auth import AuthError, Principal
from railguard.server.routes.proposals import accept_now, base_for, engines_of, promote_now
from railguard.server.routes.ui import DONE, _error, _render, _tenant_of, form_action, page

router = APIRouter(include_in_schema=False)
DONE.update(
    accepted="Accepted: a new policy revision is active; every engine runs it within a second.",
    shadowed="Accepted in shadow: its rules record what they would do until you promote it.",
    promoted="Promoted: its rules are enforced in a new active revision.",
    rejected="Rejected: it is not proposed again unless its evidence doubles.",
    generated="Proposals generated from the stored findings and decisions of the last 7 days.",
)
_WEEK_S = 7 * 86400


@router.get("/proposals")
@page("read")
async def proposals_page(request: Request, who: Principal) -> Response:
    status = request.query_params.get("status") or None
    try:
        scope = who.read_scope(request.query_params.get("tenant") or None)
        found = await run_in_threadpool(
            list_proposals, engines_of(request).store, tenant=scope, status=status if status else None
        )
    except AuthError as err:
        return _error(request, who, err.status, "Not allowed", err.message)
    except ProposalError as err:
        return _error(request, who, 400, "Bad filter", str(err))
    full = [
        await run_in_threadpool(get_proposal, engines_of(request).store, p.id, tenant=p.tenant) for p in found
    ]
    return _render(
        request, "proposals.html", who, title="Proposals", tenant=scope or "", proposals=[p.to_json() for p in full],
        can_admin=who.can("admin"), all_tenants=who.all_tenants, status=status or "",
    )  # fmt: skip


@router.post("/proposals/generate")
@form_action("admin")
async def generate(request: Request, who: Principal, form: dict[str, str]) -> Response:
    try:
        tenant = _tenant_of(who, form, request)
        engines = engines_of(request)
        now = time.time()
        await run_in_threadpool(
            lambda: generate_proposals(
                engines.store, tenant=tenant, base=base_for(engines, tenant), since=now - _WEEK_S, until=now
            )
        )
    except AuthError as err:
        return _error(request, who, err.status, "Not allowed", err.message)
    except PolicyError as err:
        return _error(request, who, 409, "The current policy does not load", str(err))
    return RedirectResponse(
        f"/proposals?{urlencode({'tenant': tenant, 'done': 'generated'})}", status_code=303
    )


@router.post("/proposals/{proposal_id}/{decision}")
@form_action("admin")
async def decide(
    request: Request, who: Principal, form: dict[str, str], proposal_id: str, decision: str
) -> Response:
    if decision not in ("accept", "shadow", "promote", "reject"):
        return _error(
            request, who, 404, "Not found", f"no action {decision!r}: accept, shadow, promote or reject"
        )
    try:
        scope = who.read_scope(form.get("tenant") or None)
        engines = engines_of(request)
        if decision == "reject":
            reason = form.get("reason", "")[:2000]
            done = await run_in_threadpool(
                lambda: reject(engines.store, proposal_id, tenant=scope, actor=who.actor, reason=reason)
            )
        elif decision == "promote":
            done = await run_in_threadpool(promote_now, engines, proposal_id, scope, who.actor)
        else:
            done = await run_in_threadpool(
                accept_now, engines, proposal_id, scope, who.actor, decision == "shadow"
            )
    except AuthError as err:
        return _error(request, who, err.status, "Not allowed", err.message)
    except ProposalError as err:
        status = 404 if str(err).startswith(("no proposal", "several")) else 409
        return _error(request, who, status, "Not done", str(err))
    except PolicyError as err:
        return _error(request, who, 409, "Not done", str(err))
    flag = {"accept": "accepted", "shadow": "shadowed", "promote": "promoted", "reject": "rejected"}[decision]
    return RedirectResponse(f"/proposals?{urlencode({'tenant': done.tenant, 'done': flag})}", status_code=303)
