"""What a run's replay page reads, in pieces sized for a long run: the trace's outline (a few narrow
columns of every span: the tree, the page boundaries, the blocked steps), one window of whole spans,
and the run's decisions keyed by the spans they belong to. A 1,000-span run is then shown a page of
steps at a time without reading or decoding every span's attributes. Scoped by tenant like every read
(None: every tenant, for global admins only)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_

from railguard.store._rows import SpanRow
from railguard.store._schema import decisions, spans
from railguard.store._store import Store

_SPAN_COLUMNS = [spans.c[f.name] for f in fields(SpanRow)]


@dataclass(frozen=True, slots=True)
class StepKey:
    """One span of the outline: enough to place it in the tree and on a page, and to link to it."""

    span_id: str
    parent_span_id: str | None
    start_ns: int
    title: str  # the tool's name, else the span's
    verdict: str | None
    status: str
    decision_id: str | None


@dataclass(frozen=True, slots=True)
class DecisionKey:
    """One decision event of a run, without its record: which span it belongs to."""

    event_id: str
    decision_id: str
    span_id: str | None
    verdict: str


def _span_tenant(tenant: str | None) -> list[ColumnElement[bool]]:
    # `tenant || ''` (same value): the trace's rows come in through the primary key and only then is
    # their tenant checked, as in get_trace (SQLite without statistics otherwise walks the tenant index).
    return [] if tenant is None else [spans.c.tenant.concat("") == tenant]


def trace_outline(store: Store, trace_id: str, *, tenant: str | None) -> list[StepKey]:
    """Every span of the trace, narrow, in replay order (start time, then span id)."""
    columns = (
        "span_id",
        "parent_span_id",
        "start_ns",
        "tool_name",
        "name",
        "verdict",
        "status",
        "decision_id",
    )
    query = (
        select(*(spans.c[name] for name in columns))
        .where(spans.c.trace_id == trace_id, *_span_tenant(tenant))
        .order_by(spans.c.start_ns, spans.c.span_id)
    )
    with store.read_connection() as conn:
        rows = conn.execute(query).all()
    return [
        StepKey(s, p, start, tool or name, v, status, d) for s, p, start, tool, name, v, status, d in rows
    ]


def trace_window(
    store: Store, trace_id: str, *, tenant: str | None, first: tuple[int, str], limit: int
) -> list[SpanRow]:
    """Up to `limit` whole spans of the trace in replay order, from the span keyed `first`
    (start_ns, span_id) on: a keyset page, as deep as the first."""
    query = (
        select(*_SPAN_COLUMNS)
        .where(spans.c.trace_id == trace_id, *_span_tenant(tenant))
        .where(tuple_(spans.c.start_ns, spans.c.span_id) >= first)
        .order_by(spans.c.start_ns, spans.c.span_id)
        .limit(max(1, int(limit)))
    )
    with store.read_connection() as conn:
        return [SpanRow(*row) for row in conn.execute(query).all()]  # positional: SpanRow's field order


def get_span(store: Store, trace_id: str, span_id: str, *, tenant: str | None) -> SpanRow | None:
    query = select(*_SPAN_COLUMNS).where(
        spans.c.trace_id == trace_id, spans.c.span_id == span_id, *_span_tenant(tenant)
    )
    with store.read_connection() as conn:
        row = conn.execute(query).first()
    return None if row is None else SpanRow(*row)


def _decision_tenant(tenant: str | None) -> list[ColumnElement[bool]]:
    # A run's decisions come through the run index and only then is their tenant checked.
    return [] if tenant is None else [decisions.c.tenant.concat("") == tenant]


def run_decision_keys(
    store: Store, run: str, *, tenant: str | None, limit: int = 10_000
) -> list[DecisionKey]:
    """The run's decision events, oldest first, without their records."""
    query = (
        select(decisions.c.event_id, decisions.c.decision_id, decisions.c.span_id, decisions.c.verdict)
        .where(decisions.c.run == run, *_decision_tenant(tenant))
        .order_by(decisions.c.ts, decisions.c.event_id)
        .limit(limit)
    )
    with store.read_connection() as conn:
        return [DecisionKey(*row) for row in conn.execute(query).all()]


def decision_records(store: Store, event_ids: Collection[str], *, tenant: str | None) -> list[dict[str, Any]]:
    """The records of the given decision events, oldest first."""
    if not event_ids:
        return []
    query = (
        select(decisions.c.record)
        .where(decisions.c.event_id.in_(sorted(event_ids)), *_decision_tenant(tenant))
        .order_by(decisions.c.ts, decisions.c.event_id)
    )
    with store.read_connection() as conn:
        return [dict(record) for (record,) in conn.execute(query).all()]
