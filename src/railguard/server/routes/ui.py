"""The dashboard: server-rendered pages over the same store queries and the same auth as the API.
A login form trades an API key for an HTTP-only session cookie; every form carries the session's
CSRF token. Pages: overview, runs (a run's replay is in ui_replay.py), decisions, approvals (live), policies, kill
switches, keys, audit log."""

from __future__ import annotations

import functools
import inspect
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from railguard.errors import ConfigurationError, DraftError, PolicyError
from railguard.server import _changes, _policies, _rules
from railguard.server._auth import SESSION_COOKIE, Authenticator, AuthError, Principal, authenticate
from railguard.server._changes import NotVisible
from railguard.server._engines import TenantEngines
from railguard.server.routes._params import Rev, SeqBefore
from railguard.server.ui._charts import stacked_bars
from railguard.state import ApprovalNotPending, Approvals, KillSwitch
from railguard.store import (
    ROLES,
    AuditLog,
    KeyNotFound,
    RevisionNotFound,
    RunSummary,
    Store,
)
from railguard.store._decision_pages import decision_page
from railguard.store._overview import dashboard_overview

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
STATIC_DIR = UI_DIR / "static"
LOGIN_COOKIE = "railguard_login"
DAY_S = 86_400

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(UI_DIR / "templates"))
templates.env.filters["when"] = lambda ts: (
    "—" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
)
templates.env.filters["usd"] = lambda value: _usd(float(value or 0))
templates.env.filters["when_ns"] = lambda ns: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9))


def _usd(value: float) -> str:
    """Dollars as a person reads them: cents from a dime up, else the fractions of a cent."""
    if value == 0 or value >= 0.1:
        return f"${value:,.2f}"
    return f"${value:.4f}" if value >= 0.0001 else "<$0.0001"


DONE = {  # the messages a redirect after a change may show (never text from the request)
    "approved": "Approved: the waiting agent proceeds.",
    "denied": "Denied.",
    "saved": "Revision saved (not active until you activate it).",
    "activated": "Activated: every engine runs it within a second.",
    "rolledback": "Rolled back to the previous revision.",
    "flipped": "Kill switch changed: every engine applies it within a second.",
    "revoked": "Key revoked.",
    "labelled": "Label saved: the diagnosis reads it.",
    "finding": "Finding status changed (recorded in the audit log).",
}


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _engines(request: Request) -> TenantEngines:
    engines: TenantEngines = request.app.state.engines
    return engines


async def _who(request: Request, permission: str, csrf: str | None = None) -> Principal | Response:
    try:
        return await authenticate(request, permission, csrf=csrf)
    except AuthError as err:
        if err.status == 401:
            return RedirectResponse("/login", status_code=303)
        return _error(request, None, err.status, "Not allowed", err.message)


def page(
    permission: str,
) -> Callable[[Callable[..., Awaitable[Response]]], Callable[..., Awaitable[Response]]]:
    """A page for callers holding `permission`: the handler gets the caller as `who`; anyone else
    is sent to the login form (no valid session) or shown why not (wrong role)."""

    def wrap(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(handler)
        async def route(request: Request, **params: Any) -> Response:
            who = await _who(request, permission)
            if isinstance(who, Response):
                return who
            return await handler(request, who, **params)

        _hide(route, handler, {"who"})
        return route

    return wrap


def form_action(
    permission: str,
) -> Callable[[Callable[..., Awaitable[Response]]], Callable[..., Awaitable[Response]]]:
    """A form post for callers holding `permission`, with the session's CSRF token in the form:
    the handler gets the caller as `who` and the fields as `form`."""

    def wrap(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(handler)
        async def route(request: Request, **params: Any) -> Response:
            form = await _form(request)
            who = await _who(request, permission, csrf=form.get("csrf", ""))
            if isinstance(who, Response):
                return who
            return await handler(request, who, form, **params)

        _hide(route, handler, {"who", "form"})
        return route

    return wrap


def _hide(route: Any, handler: Callable[..., Any], names: set[str]) -> None:
    """FastAPI reads the route's parameters from its signature: drop the ones the wrapper supplies."""
    signature = inspect.signature(handler)
    route.__signature__ = signature.replace(
        parameters=[p for n, p in signature.parameters.items() if n not in names]
    )


def _error(
    request: Request, principal: Principal | None, status: int, heading: str, message: str
) -> Response:
    return _render(
        request, "error.html", principal, status_code=status, title=heading, heading=heading, message=message
    )


def _render(
    request: Request, name: str, principal: Principal | None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    done = request.query_params.get("done")
    context.setdefault("flash", DONE.get(done or ""))
    context.setdefault("title", "Railguard")
    context.update(
        principal=principal,
        csrf=principal.session.csrf if principal and principal.session else "",
        active="/" + request.url.path.strip("/").split("/")[0] if request.url.path != "/" else "/",
    )
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _redirect(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


# -- login -----------------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, key: str | None = None) -> Response:
    if key:  # the link `railguard serve` printed on first start: log in once, drop the key from the URL
        return await _log_in(request, key)
    token = secrets.token_urlsafe(24)
    response = _render(request, "login.html", None, title="Log in", login_csrf=token)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, secure=True, samesite="strict", max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(form.get("csrf", ""), expected):
        return _error(
            request, None, 403, "Log in again", "The login form expired; reload the page and try again."
        )
    return await _log_in(request, form.get("key", "").strip())


async def _log_in(request: Request, key: str) -> Response:
    auth: Authenticator = request.app.state.auth
    try:
        principal = await auth.principal(key)
    except AuthError as err:
        token = secrets.token_urlsafe(24)
        response = _render(
            request, "login.html", None, status_code=err.status, title="Log in", login_csrf=token,
            flash=err.message, flash_kind="error",
        )  # fmt: skip
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, secure=True, samesite="strict", max_age=3600)
        return response
    session_id, _session = await run_in_threadpool(auth.sessions.create, principal.key.id)
    redirect = RedirectResponse("/", status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        secure=True,
        samesite="lax",
        max_age=int(auth.sessions.ttl_s),
    )
    redirect.delete_cookie(LOGIN_COOKIE)
    return redirect


@router.post("/logout")
@form_action("describe")
async def logout(request: Request, who: Principal, form: dict[str, str]) -> Response:
    auth: Authenticator = request.app.state.auth
    await run_in_threadpool(auth.sessions.end, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- overview --------------------------------------------------------------------------------------


@router.get("/")
@page("read")
async def overview(request: Request, who: Principal) -> Response:
    scope = who.read_scope(None)
    data = await run_in_threadpool(_overview_data, _store(request), scope)
    return _render(request, "overview.html", who, title="Overview", scope=scope, **data)


def _overview_data(store: Store, scope: str | None) -> dict[str, Any]:
    from railguard.alert.heartbeat import latest_beat

    now = time.time()
    since = now - DAY_S
    # One window for every number, on hour boundaries: the totals are the sums of the charts' bars.
    found = dashboard_overview(store, tenant=scope, since=since - since % 3600, until=now, bucket_s=3600)
    buckets = found.buckets
    # Blocks and asks from the decision log when the window has events in it, else (spans ingested
    # from elsewhere, no decision log) from the verdicts on the spans.
    logged = bool(found.verdicts)
    pending = Approvals(store).list_requests(status="pending", tenant=scope, limit=1000)
    return {
        "totals": {
            "runs": found.runs,
            "cost": sum(b["cost_usd"] for b in buckets),
            "tokens": sum(b["input_tokens"] + b["output_tokens"] for b in buckets),
            "blocks": found.verdicts.get("block", 0) if logged else sum(b["blocks"] for b in buckets),
            "asks": found.verdicts.get("ask", 0) if logged else sum(b["asks"] for b in buckets),
            "would_block": found.would_block,
        },
        "activity_chart": stacked_bars(
            buckets,
            [("calls", "s-calls"), ("blocks", "s-blocks"), ("asks", "s-asks")],
            title="calls per hour",
        ),
        "cost_chart": stacked_bars(buckets, [("cost_usd", "s-cost")], title="cost per hour"),
        "top_rules": found.rules.most_common(8),
        "top_agents": [(agent or "—", n, cost) for agent, n, cost in found.agents[:8]],
        "open_approvals": len(pending),
        "heartbeat": latest_beat(store, scope),
    }


# -- runs ------------------------------------------------------------------------------------------


@router.get("/runs")
@page("read")
async def runs_page(request: Request, who: Principal) -> Response:
    q = request.query_params
    filters = {k: (q.get(k) or None) for k in ("agent", "session", "status", "verdict", "before")}
    try:
        found: list[RunSummary] = await run_in_threadpool(
            lambda: _store(request).list_runs(
                tenant=who.read_scope(None), agent=filters["agent"], session=filters["session"],
                status=filters["status"], verdict=filters["verdict"], before=filters["before"], limit=50,
            )
        )  # fmt: skip
    except ValueError as err:
        return _error(request, who, 400, "Invalid filter", str(err))
    after = {k: v for k, v in filters.items() if v and k != "before"}
    next_page = urlencode({**after, "before": found[-1].cursor}) if len(found) == 50 else None
    return _render(request, "runs.html", who, title="Runs", runs=found, filters=filters, next=next_page)


# -- decisions -------------------------------------------------------------------------------------


@router.get("/decisions")
@page("read")
async def decisions_page(request: Request, who: Principal) -> Response:
    q = request.query_params
    filters = {k: (q.get(k) or None) for k in ("verdict", "rule", "tool", "agent", "before")}
    try:
        found, cursor = await run_in_threadpool(
            lambda: decision_page(
                _store(request), tenant=who.read_scope(None), verdict=filters["verdict"], rule=filters["rule"],
                tool=filters["tool"], agent=filters["agent"], before=filters["before"], limit=100,
            )
        )  # fmt: skip
    except ValueError as err:
        return _error(request, who, 400, "Invalid filter", str(err))
    after = {k: v for k, v in filters.items() if v and k != "before"}
    next_page = urlencode({**after, "before": cursor}) if cursor else None
    return _render(
        request, "decisions.html", who, title="Decisions", decisions=found, filters=filters, next=next_page
    )


# -- approvals -------------------------------------------------------------------------------------


def _approval_rows(store: Store, scope: str | None) -> list[dict[str, Any]]:
    approvals = Approvals(store)
    pending = approvals.list_requests(status="pending", tenant=scope, limit=200)
    recent = [a for a in approvals.list_requests(tenant=scope, limit=30) if a.status != "pending"]
    return [a.to_dict() for a in (*pending, *recent)]


@router.get("/approvals")
@page("read")
async def approvals_page(request: Request, who: Principal) -> Response:
    rows = await run_in_threadpool(_approval_rows, _store(request), who.read_scope(None))
    return _render(
        request, "approvals.html", who, title="Approvals", approvals=rows, can_approve=who.can("approve")
    )


@router.get("/approvals/fragment")
@page("read")
async def approvals_fragment(request: Request, who: Principal) -> Response:
    rows = await run_in_threadpool(_approval_rows, _store(request), who.read_scope(None))
    return _render(request, "_approvals_table.html", who, approvals=rows, can_approve=who.can("approve"))


@router.post("/approvals/{approval_id}/{decision}")
@form_action("approve")
async def decide(
    request: Request, who: Principal, form: dict[str, str], approval_id: str, decision: str
) -> Response:
    if decision not in ("approve", "deny"):
        return _error(request, who, 404, "Not found", "use approve or deny")
    try:
        await run_in_threadpool(_changes.decide_approval, who, _store(request), approval_id, decision)
    except ApprovalNotPending as err:
        return _error(request, who, 409, "Already decided", str(err))
    except NotVisible as err:
        return _error(request, who, 404, "Not found", str(err))
    return _redirect("/approvals", "approved" if decision == "approve" else "denied")


# -- policies --------------------------------------------------------------------------------------


def _tenant_of(who: Principal, form: Mapping[str, str] | None, request: Request) -> str:
    wanted = (form or {}).get("tenant") or request.query_params.get("tenant") or None
    return who.tenant_for(wanted)


@router.get("/policies")
@page("read")
async def policies_page(request: Request, who: Principal) -> Response:
    return await _policies_view(request, who, None)


async def _policies_view(
    request: Request, who: Principal, tenant: str | None, *, draft: str = "", error: str | None = None,
    **extra: Any,
) -> Response:  # fmt: skip
    if tenant is None:
        tenant = who.key.tenant if not who.all_tenants else (request.query_params.get("tenant") or "")
    revisions = []
    if tenant:
        revisions = await run_in_threadpool(lambda: _engines(request).revisions.list(tenant=tenant))
    return _render(
        request, "policies.html", who, status_code=400 if error else 200, title="Policies", tenant=tenant,
        revisions=[r.to_dict() for r in revisions], can_admin=who.can("admin"), all_tenants=who.all_tenants,
        draft=draft, flash=error, flash_kind="error" if error else None, **extra,
    )  # fmt: skip


@router.post("/policies")
@form_action("admin")
async def upload_policy(request: Request, who: Principal, form: dict[str, str]) -> Response:
    try:
        tenant = _tenant_of(who, form, request)
    except AuthError as err:
        return _error(request, who, err.status, "Not allowed", err.message)
    content = form.get("content", "").replace("\r\n", "\n")
    try:
        await run_in_threadpool(
            lambda: _policies.upload(
                _engines(request).revisions, tenant=tenant, content=content, author=who.actor
            )
        )
    except _policies.InvalidPolicy as err:
        return await _policies_view(request, who, tenant, draft=content, error=str(err))
    return RedirectResponse(f"/policies?{urlencode({'tenant': tenant, 'done': 'saved'})}", status_code=303)


@router.post("/policies/draft")
@form_action("admin")
async def draft_rule(request: Request, who: Principal, form: dict[str, str]) -> Response:
    """A rule in plain English drafted, checked and backtested for review (see server/_rules.py);
    shown on the page, never saved or activated."""
    try:
        tenant = _tenant_of(who, form, request)
    except AuthError as err:
        return _error(request, who, err.status, "Not allowed", err.message)
    asked = form.get("request", "").strip()
    state = request.app.state
    try:
        result = await run_in_threadpool(
            lambda: _rules.draft_for(
                state.store, state.engines.revisions, state.settings, tenant=tenant, request=asked
            )
        )
    except (DraftError, PolicyError) as err:
        return await _policies_view(request, who, tenant, error=str(err), asked=asked)
    return await _policies_view(request, who, tenant, asked=asked, rule_draft=result.to_json())


@router.post("/policies/{rev}/activate")
@form_action("admin")
async def activate_policy(request: Request, who: Principal, form: dict[str, str], rev: Rev) -> Response:
    mode = "audit" if form.get("mode") == "audit" else "enforce"
    return await _policy_change(
        request, who, form, "activated",
        lambda engines, tenant: _policies.activate(engines, tenant=tenant, rev=rev, actor=who.actor, mode=mode),
    )  # fmt: skip


@router.post("/policies/rollback")
@form_action("admin")
async def rollback_policy(request: Request, who: Principal, form: dict[str, str]) -> Response:
    return await _policy_change(
        request, who, form, "rolledback",
        lambda engines, tenant: _policies.rollback(engines, tenant=tenant, actor=who.actor),
    )  # fmt: skip


async def _policy_change(
    request: Request, who: Principal, form: Mapping[str, str], done: str,
    change: Callable[[TenantEngines, str], object],
) -> Response:  # fmt: skip
    try:
        tenant = _tenant_of(who, form, request)
        await run_in_threadpool(change, _engines(request), tenant)
    except AuthError as err:
        return _error(request, who, err.status, "Not allowed", err.message)
    except RevisionNotFound as err:
        return _error(request, who, 404, "Not found", str(err))
    return RedirectResponse(f"/policies?{urlencode({'tenant': tenant, 'done': done})}", status_code=303)


# -- kill switches ---------------------------------------------------------------------------------


@router.get("/killswitch")
@page("read")
async def killswitch_page(request: Request, who: Principal) -> Response:
    scope = who.read_scope(None)
    switches = await run_in_threadpool(KillSwitch(_store(request)).status)
    shown = [
        s.to_dict() | {"scope": s.scope} for s in switches if scope is None or (s.tenant or "") in (scope, "")
    ]
    return _render(
        request, "killswitch.html", who, title="Kill switches", switches=shown, can_admin=who.can("admin"),
        all_tenants=who.all_tenants,
    )  # fmt: skip


@router.post("/killswitch")
@form_action("admin")
async def flip(request: Request, who: Principal, form: dict[str, str]) -> Response:
    wanted = form.get("tenant") or None
    try:
        tenant = "" if wanted is None and who.all_tenants else who.tenant_for(wanted)
    except AuthError as err:
        return _error(request, who, err.status, "Not allowed", err.message)
    await run_in_threadpool(
        lambda: _changes.flip_switch(
            who, _store(request), tenant=tenant, engaged=form.get("engaged") == "1", agent=form.get("agent") or None,
            tool=form.get("tool") or None, reason=form.get("reason", "")[:2000],
        )
    )  # fmt: skip
    return _redirect("/killswitch", "flipped")


# -- keys ------------------------------------------------------------------------------------------


@router.get("/keys")
@page("admin")
async def keys_page(request: Request, who: Principal) -> Response:
    return await _keys_view(request, who)


async def _keys_view(
    request: Request, who: Principal, *, new_key: dict[str, Any] | None = None, error: str = ""
) -> Response:
    auth: Authenticator = request.app.state.auth
    found = await run_in_threadpool(auth.keys.list, tenant=who.read_scope(None))
    return _render(
        request, "keys.html", who, status_code=400 if error else 200, title="Keys", keys=[k.to_dict() for k in found],
        roles=ROLES, all_tenants=who.all_tenants, new_key=new_key, flash=error or None,
        flash_kind="error" if error else None,
    )  # fmt: skip


@router.post("/keys")
@form_action("admin")
async def create_key(request: Request, who: Principal, form: dict[str, str]) -> Response:
    auth: Authenticator = request.app.state.auth
    try:
        tenant = form.get("tenant") or who.key.tenant
        if tenant != "*" or not who.all_tenants:
            tenant = who.tenant_for(tenant)
        created = await run_in_threadpool(
            lambda: auth.keys.create(
                tenant=tenant, role=form.get("role", ""), name=form.get("name"), actor=who.actor
            )
        )
    except AuthError as err:
        return _error(request, who, err.status, "Not allowed", err.message)
    except ConfigurationError as err:
        return await _keys_view(request, who, error=str(err))
    return await _keys_view(request, who, new_key={**created.info.to_dict(), "key": created.key})


@router.post("/keys/{key_id}/revoke")
@form_action("admin")
async def revoke_key(request: Request, who: Principal, form: dict[str, str], key_id: str) -> Response:
    auth: Authenticator = request.app.state.auth
    try:
        await run_in_threadpool(
            lambda: auth.keys.revoke(key_id, tenant=who.read_scope(None), actor=who.actor)
        )
    except KeyNotFound as err:
        return _error(request, who, 404, "Not found", str(err))
    auth.forget()
    return _redirect("/keys", "revoked")


# -- audit -----------------------------------------------------------------------------------------


@router.get("/audit")
@page("read")
async def audit_page(request: Request, who: Principal, before: SeqBefore = None) -> Response:
    log = AuditLog(_store(request))
    records = await run_in_threadpool(lambda: log.list(tenant=who.read_scope(None), limit=100, before=before))
    chain = await run_in_threadpool(log.verify)
    return _render(
        request, "audit.html", who, title="Audit log", records=[r.to_dict() for r in records], chain=chain,
        next=records[-1].seq if len(records) == 100 else None,
    )  # fmt: skip
