"""A run's replay in the dashboard: its steps a page at a time (links to a step, a decision or a
page land on the page holding it), each step's decisions inline, its arguments and output expanded
on demand, and one form to label a step or the whole run. Same auth and rendering as ui.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from railguard.server._auth import Principal
from railguard.server.routes.ui import _error, _render, _store, form_action, page
from railguard.server.ui import _replay
from railguard.store import LABELS, RunLabels, Store
from railguard.store._replay_pages import (
    decision_records,
    get_span,
    run_decision_keys,
    trace_outline,
    trace_window,
)

router = APIRouter(include_in_schema=False)
LOOSE_SHOWN = 200  # decisions of the run tied to none of its spans, listed under the steps


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a replay link asks for: a step, a decision, a page (see _replay.place), a step to label."""

    at: str | None = None
    decision: str | None = None
    page: str | None = None
    label: str | None = None


def _wanted(request: Request, why: dict[str, Any] | None) -> Wanted:
    q = request.query_params
    at = q.get("at") or None
    if at is None and not q.get("page") and not q.get("decision") and why and why.get("step"):
        at = why["step"].get("span_id")  # the root-cause answer opens on its step's page
    return Wanted(at=at, decision=q.get("decision") or None, page=q.get("page"), label=q.get("label") or None)


def replay_data(store: Store, trace_id: str, *, tenant: str | None, wanted: Wanted) -> dict[str, Any] | None:
    """The replay page's context; None when the run has no span in the caller's tenant."""
    outline = trace_outline(store, trace_id, tenant=tenant)
    if not outline:
        return None
    keys = run_decision_keys(store, trace_id, tenant=tenant)
    placed = _replay.place(outline, keys, at=wanted.at, decision=wanted.decision, page=wanted.page)
    first = placed.page * _replay.PAGE_STEPS
    window = trace_window(
        store, trace_id, tenant=tenant, first=(outline[first].start_ns, outline[first].span_id),
        limit=_replay.PAGE_STEPS,
    )  # fmt: skip
    on_page = {span.span_id: placed.by_span.get(span.span_id, []) for span in window}
    loose = placed.loose[:LOOSE_SHOWN]
    wanted_events = {event for events in on_page.values() for event in events} | set(loose)
    records = {r.get("event_id"): r for r in decision_records(store, wanted_events, tenant=tenant)}
    attached = {span: [records[e] for e in events if e in records] for span, events in on_page.items()}
    shown_loose = [records[e] for e in loose if e in records]
    steps = _replay.steps(
        window, first_number=first + 1, run_start_ns=outline[0].start_ns, depth=_replay.depths(outline),
        decisions=attached,
    )  # fmt: skip
    who_ran = next((span for span in window if span.agent or span.session), window[0] if window else None)
    label_step = (
        next((step for step in outline if step.span_id == wanted.label), None) if wanted.label else None
    )
    return {
        "total": len(outline),
        "page": placed.page + 1,
        "pages": placed.pages,
        "pager": _replay.pager(placed.page + 1, placed.pages),
        "first": first + 1,
        "anchors": _replay.first_events(attached, shown_loose),
        "steps": steps,
        "marks": _replay.marks(outline),
        "marks_shown": _replay.MARKS_SHOWN,
        "loose": shown_loose,
        "loose_more": len(placed.loose) - len(loose),
        "agent": who_ran.agent if who_ran else None,
        "session": who_ran.session if who_ran else None,
        "labels": [label.to_dict() for label in RunLabels(store).for_run(trace_id, tenant=tenant)],
        "label_step": label_step,
        "label_offset_ms": round((label_step.start_ns - outline[0].start_ns) / 1e6) if label_step else 0,
    }


@router.get("/runs/{trace_id}")
@page("read")
async def run_page(request: Request, who: Principal, trace_id: str) -> Response:
    return await run_view(request, who, trace_id)


async def run_view(request: Request, who: Principal, trace_id: str, **extra: Any) -> Response:
    """The replay page; `extra` adds to its context (e.g. the root-cause answer, see ui_diagnose.py)."""
    wanted = _wanted(request, extra.get("why"))
    data = await run_in_threadpool(
        lambda: replay_data(_store(request), trace_id, tenant=who.read_scope(None), wanted=wanted)
    )
    if data is None:
        return _error(request, who, 404, "No such run", f"no run {trace_id[:80]!r} in your tenant")
    return _render(
        request, "run.html", who, title=f"Run {trace_id[:12]}", trace_id=trace_id, label_kinds=LABELS,
        can_label=who.can("approve"), **data, **extra,
    )  # fmt: skip


@router.get("/runs/{trace_id}/steps/{span_id}")
@page("read")
async def step_detail(request: Request, who: Principal, trace_id: str, span_id: str) -> Response:
    """One step's arguments, output and attributes: `?fragment=1` for the replay's in-place expand,
    else a page of its own (the link works without script)."""
    span = await run_in_threadpool(
        lambda: get_span(_store(request), trace_id, span_id, tenant=who.read_scope(None))
    )
    if span is None:
        return _error(request, who, 404, "No such step", f"no step {span_id[:40]!r} in run {trace_id[:80]!r}")
    shown, rest = _replay.detail(span)
    fragment = request.query_params.get("fragment") == "1"
    return _render(
        request, "_step_detail.html" if fragment else "step.html", who, title=f"Step {span_id[:16]}",
        trace_id=trace_id, span=span, shown=shown, rest=rest,
    )  # fmt: skip


@router.post("/runs/{trace_id}/labels")
@form_action("approve")
async def label_run(request: Request, who: Principal, form: dict[str, str], trace_id: str) -> Response:
    store = _store(request)
    scope = who.read_scope(None)
    span_id = form.get("span_id") or None
    outline = await run_in_threadpool(trace_outline, store, trace_id, tenant=scope)
    if not outline:
        return _error(request, who, 404, "No such run", f"no run {trace_id[:80]!r} in your tenant")
    if span_id is not None and all(step.span_id != span_id for step in outline):
        return _error(
            request, who, 400, "Invalid label", f"run {trace_id[:80]!r} has no step {span_id[:40]!r}"
        )
    tenant = await run_in_threadpool(lambda: _tenant_of_run(store, trace_id, outline[0].span_id, scope))
    try:
        await run_in_threadpool(
            lambda: RunLabels(store).add(
                tenant=tenant or who.key.tenant, trace_id=trace_id, span_id=span_id, label=form.get("label", ""),
                note=form.get("note", ""), by=who.actor,
            )
        )  # fmt: skip
    except ValueError as err:
        return _error(request, who, 400, "Invalid label", str(err))
    back = f"/runs/{quote(trace_id)}?done=labelled"
    anchor = f"&at={quote(span_id)}#span-{quote(span_id)}" if span_id else "#labels"
    return RedirectResponse(back + anchor, status_code=303)


def _tenant_of_run(store: Store, trace_id: str, span_id: str, scope: str | None) -> str | None:
    span = get_span(store, trace_id, span_id, tenant=scope)
    return span.tenant if span else None
