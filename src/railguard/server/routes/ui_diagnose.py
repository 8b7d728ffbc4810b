"""Dashboard pages of the diagnosis: "Why did this run go wrong?" on the run replay (inline, with the
step highlighted), the findings list (filters, status changes with the session's CSRF token, evidence
linked to its run step) and one finding. Same auth, store queries and rendering as ui.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from railguard.diagnose.findings import KINDS, SEVERITIES, STATUSES, finding_page, get_finding, set_status
from railguard.diagnose.why import stored_why, why
from railguard.server._auth import Principal
from railguard.server.routes.ui import _error, _render, _store, form_action, page
from railguard.server.routes.ui_replay import run_view

router = APIRouter(include_in_schema=False)
PAGE = 50


def _answer(request: Request, who: Principal, trace_id: str, refresh: bool) -> dict[str, Any] | None:
    """The stored answer, else a fresh one (stored); None when the run is not in the caller's tenant."""
    store = _store(request)
    scope = who.read_scope(None)
    if not refresh:
        saved = stored_why(store, trace_id, tenant=scope)
        if saved is not None:
            return saved
    try:
        return why(store, trace_id, tenant=scope).to_json()
    except ValueError:
        return None


@router.get("/runs/{trace_id}/why")
@page("read")
async def why_page(request: Request, who: Principal, trace_id: str) -> Response:
    """The replay with the answer inline (no script needed); `?fragment=1` returns the answer alone, for
    the button's in-place update."""
    refresh = request.query_params.get("refresh") == "1"
    answer = await run_in_threadpool(_answer, request, who, trace_id, refresh)
    if answer is None:
        return _error(request, who, 404, "No such run", f"no run {trace_id[:80]!r} in your tenant")
    if request.query_params.get("fragment") == "1":
        return _render(request, "_why.html", who, why=answer, trace_id=trace_id)
    return await run_view(request, who, trace_id, why=answer)


def _filters(request: Request) -> dict[str, str | None]:
    q = request.query_params
    return {k: (q.get(k) or None) for k in ("status", "kind", "agent", "severity", "before")}


@router.get("/findings")
@page("read")
async def findings_page(request: Request, who: Principal) -> Response:
    filters = _filters(request)
    try:
        found, cursor = await run_in_threadpool(
            lambda: finding_page(
                _store(request), tenant=who.read_scope(None), status=filters["status"], kind=filters["kind"],
                agent=filters["agent"], severity=filters["severity"], before=filters["before"], limit=PAGE,
            )
        )  # fmt: skip
    except ValueError as err:
        return _error(request, who, 400, "Invalid filter", str(err))
    after = {k: v for k, v in filters.items() if v and k != "before"}
    return _render(
        request, "findings.html", who, title="Findings", findings=[f.to_full_json() for f in found],
        filters=filters, next=urlencode({**after, "before": cursor}) if cursor else None, kinds=KINDS,
        severities=SEVERITIES, statuses=STATUSES, can_change=who.can("approve"), back=urlencode(after),
    )  # fmt: skip


@router.get("/findings/{finding_id}")
@page("read")
async def finding_detail(request: Request, who: Principal, finding_id: str) -> Response:
    try:
        found = await run_in_threadpool(get_finding, _store(request), finding_id, tenant=who.read_scope(None))
    except ValueError:
        return _error(request, who, 404, "No such finding", f"no finding {finding_id[:64]!r} in your tenant")
    return _render(
        request, "findings.html", who, title=f"Finding {found.id}", findings=[found.to_full_json()],
        filters={}, next=None, kinds=KINDS, severities=SEVERITIES, statuses=STATUSES,
        can_change=who.can("approve"), back="", single=True,
    )  # fmt: skip


@router.post("/findings/{finding_id}/status")
@form_action("approve")
async def change_status(request: Request, who: Principal, form: dict[str, str], finding_id: str) -> Response:
    status = form.get("status", "")
    if status not in STATUSES:
        return _error(request, who, 400, "Invalid status", f"use one of {', '.join(STATUSES)}")
    try:
        await run_in_threadpool(
            lambda: set_status(
                _store(request), finding_id, status, by=who.actor, note=form.get("note", "")[:2000] or None,
                tenant=who.read_scope(None),
            )
        )  # fmt: skip
    except ValueError:
        return _error(request, who, 404, "No such finding", f"no finding {finding_id[:64]!r} in your tenant")
    # Back to the list as it was filtered (only the known filters are carried over).
    kept = {k: v for k, v in parse_qsl(form.get("back", "")) if k in ("status", "kind", "agent", "severity")}
    return RedirectResponse(f"/findings?{urlencode({**kept, 'done': 'finding'})}", status_code=303)
