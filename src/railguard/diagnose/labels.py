"""Run labels: a person marks a run (or one step of it) as a failure or as fine, with a note. The
`regression` detector prefers labelled failure rates when runs on both sides of a change are labelled."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from railguard.diagnose._tables import labels as table
from railguard.store import Store

LABELS = ("failure", "ok")


@dataclass(frozen=True, slots=True)
class RunLabel:
    id: str
    tenant: str
    trace_id: str
    span_id: str | None
    label: str
    note: str
    created_by: str
    created_at: float


def label_run(
    store: Store,
    trace_id: str,
    *,
    label: str = "failure",
    note: str = "",
    by: str = "",
    tenant: str | None = None,
    span_id: str | None = None,
    now: float | None = None,
) -> RunLabel:
    """Label a run (or, with span_id, one step of it). The tenant is the run's own: a caller scoped to
    a tenant can only label that tenant's runs."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; use one of {', '.join(LABELS)}")
    spans = store.get_trace(trace_id, tenant=tenant)
    if not spans:
        raise ValueError(f"no run {trace_id!r}" + (f" in tenant {tenant!r}" if tenant else ""))
    if span_id and all(s.span_id != span_id for s in spans):
        raise ValueError(f"run {trace_id} has no step (span) {span_id!r}")
    owner = next((s.tenant for s in spans if s.tenant), "") or ""
    row = RunLabel(
        id=str(uuid.uuid4()),
        tenant=owner,
        trace_id=trace_id,
        span_id=span_id or None,
        label=label,
        note=note,
        created_by=by,
        created_at=time.time() if now is None else now,
    )
    store.migrate()
    with store.write_transaction() as conn:
        conn.execute(
            table.insert().values(
                id=row.id,
                tenant=row.tenant,
                trace_id=trace_id,
                span_id=span_id or "",
                label=label,
                note=note,
                created_by=by,
                created_at=row.created_at,
            )
        )
    return row


def list_labels(store: Store, *, trace_id: str | None = None, tenant: str | None = None) -> list[RunLabel]:
    store.migrate()
    query = select(table).order_by(table.c.created_at)
    if trace_id is not None:
        query = query.where(table.c.trace_id == trace_id)
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    with store.read_connection() as conn:
        rows = conn.execute(query).all()
    return [
        RunLabel(r.id, r.tenant, r.trace_id, r.span_id or None, r.label, r.note, r.created_by, r.created_at)
        for r in rows
    ]
