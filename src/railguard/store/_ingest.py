"""Writing spans inside one transaction (the caller owns it); decisions: `_decision_writes`.

Spans are inserted idempotently (a re-sent span is ignored) and only the spans actually inserted
update the run aggregates, so retries and OTLP re-deliveries never double-count. Identity (tenant,
session, agent, version) is copied across a trace's spans: the root usually ends, and so arrives,
last, so spans stored earlier are back-filled when it does.

Before any write, every row is sanitized the same way on both backends (`sanitize_rows`): values
PostgreSQL cannot store — NUL and lone surrogates in text, NaN/Infinity in JSON, integers past 64
bits, nesting past MAX_VALUE_DEPTH — are replaced, and the row says where in `railguard.sanitized`.
One odd span must never poison its batch, and SQLite and PostgreSQL must store the same thing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, String, Table, and_, case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from railguard._limits import without_surrogates
from railguard.model import Verdict
from railguard.store._otel_map import AGENT_OPERATION, MODEL_OPERATIONS, TOOL_OPERATION
from railguard.store._rows import SpanRow
from railguard.store._schema import runs, spans

IDENTITY = ("tenant", "session", "agent", "agent_version", "prompt_version")
_SPAN_FIELDS = tuple(f.name for f in fields(SpanRow))
_COUNTERS = ("span_count", "tool_calls", "model_calls", "blocks", "asks", "errors")
_SUMMED_RUN_COLUMNS = (*_COUNTERS, "input_tokens", "output_tokens", "cost_usd")
SANITIZED = "railguard.sanitized"  # attribute: where values were replaced (field paths, no values)
MAX_VALUE_DEPTH = 64
_INT64 = (-(2**63), 2**63 - 1)
_NONFINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}  # OTLP/JSON's spelling; NaN below
_JSON_FIELDS = ("attributes", "events", "resource")
_SPAN_TEXT_FIELDS = tuple(f.name for f in fields(SpanRow) if f.name not in _JSON_FIELDS)
# VARCHAR(n) columns: PostgreSQL refuses a longer value (SQLite would keep it), so both get it cut.
_MAX_CHARS: dict[str, int] = {
    c.name: c.type.length for c in spans.columns if isinstance(c.type, String) and c.type.length
}


def sanitize_rows(rows: Sequence[SpanRow]) -> list[SpanRow]:
    """The rows with every value both backends can store (see the module docstring); a row that
    needed changes is a copy carrying `railguard.sanitized`, the others are returned as they are."""
    return [_sanitized(row) for row in rows]


def _sanitized(row: SpanRow) -> SpanRow:
    where: list[str] = []
    changes: dict[str, Any] = {}
    for name in _SPAN_TEXT_FIELDS:
        value = getattr(row, name)
        clean = _column_value(value, name, where)
        if clean is not value:
            changes[name] = clean
    for name in _JSON_FIELDS:
        value = getattr(row, name)
        before = len(where)
        clean = _json_value(value, name, where, 0)
        if len(where) != before:
            changes[name] = clean
    if not where:
        return row
    attributes = dict(changes.get("attributes", row.attributes))
    previous = attributes.get(SANITIZED)
    attributes[SANITIZED] = [*(previous if isinstance(previous, list) else ()), *dict.fromkeys(where)][:50]
    changes["attributes"] = attributes
    return dataclasses.replace(row, **changes)


def _column_value(value: Any, where: str, log: list[str]) -> Any:
    if isinstance(value, str):
        limit = _MAX_CHARS.get(where)
        if limit is not None and len(value) > limit:
            log.append(where)
            value = value[:limit]
        return _text(value, where, log)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return value
        log.append(where)
        return min(max(value, _INT64[0]), _INT64[1]) if where in ("start_ns", "end_ns") else None
    if isinstance(value, float) and not math.isfinite(value):
        log.append(where)
        return None
    return value


def _text(value: str, where: str, log: list[str]) -> str:
    if "\x00" not in value and value.isascii():
        return value
    clean = without_surrogates(value.replace("\x00", "\ufffd"))
    if "\x00" in value or clean != value:
        log.append(where)
    return clean


def _json_value(value: Any, where: str, log: list[str], depth: int) -> Any:
    if isinstance(value, str):
        return _text(value, where, log)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        log.append(where)
        return "NaN" if math.isnan(value) else _NONFINITE[value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return value
        log.append(where)
        return str(value)
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_VALUE_DEPTH:
        log.append(where)
        return "[nested too deep]"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _text(str(key), where, log)
            out[name] = _json_value(item, f"{where}.{name}" if depth == 0 else where, log, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_json_value(item, where, log, depth + 1) for item in value]
    if isinstance(value, bytes):
        return value
    return _text(str(value), where, log)  # what the JSON serializer would write (default=str)


def dialect_insert(conn: Connection, table: Table) -> Any:
    """INSERT with ON CONFLICT support (both dialects spell it the same way in SQLAlchemy)."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_spans(conn: Connection, rows: Sequence[SpanRow], *, isolate_tenants: bool = False) -> int:
    """Store the spans not yet stored and fold them into their runs; returns how many were new.
    `isolate_tenants` (spans from an untrusted sender, e.g. server ingest): see `_claim_traces`."""
    params = [{name: getattr(row, name) for name in _SPAN_FIELDS} for row in sanitize_rows(rows)]
    if isolate_tenants:
        _claim_traces(conn, params)
    # Keyed by (trace, span): a span repeated within one batch counts once.
    params = list({(p["trace_id"], p["span_id"]): p for p in params}.values())
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for p in params:
        by_trace.setdefault(p["trace_id"], []).append(p)
    stored_identity = _stored_identity(conn, sorted(by_trace))
    for trace_id, trace_params in by_trace.items():
        identity = _merge_identity(stored_identity.get(trace_id), trace_params)
        for p in trace_params:
            for key in IDENTITY:
                if p[key] is None:
                    p[key] = identity[key]
        _backfill_earlier_spans(conn, trace_id, stored_identity.get(trace_id), identity)

    stored_keys = _stored_span_keys(conn, by_trace, params)
    new_rows = [p for p in params if (p["trace_id"], p["span_id"]) not in stored_keys]
    if not new_rows:
        return 0
    # A plain executemany (no RETURNING) keeps one short statement text, which both drivers prepare
    # once; multi-row RETURNING statements were 3-4x slower on psycopg (re-parsed every batch).
    try:
        conn.execute(insert(spans), new_rows)
    except IntegrityError as exc:
        # Usually another writer stored some of these spans since our check; a retry tells.
        raise ConcurrentDuplicate(str(exc.orig).strip().splitlines()[0]) from None
    _upsert_runs(conn, new_rows)
    return len(new_rows)


def tenant_trace_id(trace_id: str, tenant: str | None) -> str:
    """The id a trace gets under `tenant` when another tenant stored that trace id first."""
    digest = hashlib.sha256(f"{tenant or ''}\x00{trace_id}".encode()).hexdigest()[:16]
    return f"{trace_id[:40]}.{digest}"


def _claim_traces(conn: Connection, params: list[dict[str, Any]]) -> None:
    """A span joins only a trace whose stored run belongs to its own tenant. Trace ids travel in
    `traceparent` headers, so they are not secrets: a trace id first stored under tenant A is, for a
    span of tenant B, a different run, kept under a tenant-scoped id. Nothing of A's run is relabelled,
    back-filled or counted into; B's spans of that trace stay together in B's own run."""
    owners = {row.trace_id: row.tenant for row in conn.execute(
        select(runs.c.trace_id, runs.c.tenant).where(runs.c.trace_id.in_(sorted({p["trace_id"] for p in params})))
    )}  # fmt: skip
    for p in sorted(params, key=lambda p: p["parent_span_id"] is not None):  # a root claims a new trace
        trace_id = p["trace_id"]
        owner = owners.setdefault(trace_id, p["tenant"])
        if owner != p["tenant"]:
            p["trace_id"] = tenant_trace_id(trace_id, p["tenant"])


class ConcurrentDuplicate(Exception):
    """Another writer stored some of the same spans between our check and our insert: retry the batch
    (its check then sees them), so that run aggregates count every span exactly once."""


_KEY_CHUNK = 400  # bound parameters per lookup, well under SQLite's limit


def _stored_span_keys(
    conn: Connection, by_trace: Mapping[str, list[dict[str, Any]]], params: list[dict[str, Any]]
) -> set[tuple[str, str]]:
    """Which of these (trace, span) keys are already stored; looked up through the primary key."""
    trace_ids = sorted(by_trace)
    span_ids = sorted({p["span_id"] for p in params})
    found: set[tuple[str, str]] = set()
    for t in range(0, len(trace_ids), _KEY_CHUNK):
        for s in range(0, len(span_ids), _KEY_CHUNK):
            rows = conn.execute(
                select(spans.c.trace_id, spans.c.span_id).where(
                    spans.c.trace_id.in_(trace_ids[t : t + _KEY_CHUNK]),
                    spans.c.span_id.in_(span_ids[s : s + _KEY_CHUNK]),
                )
            )
            found.update((trace_id, span_id) for trace_id, span_id in rows)
    return found


def _stored_identity(conn: Connection, trace_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not trace_ids:
        return {}
    cols = [runs.c.trace_id, *(runs.c[k] for k in IDENTITY)]
    found = conn.execute(select(*cols).where(runs.c.trace_id.in_(trace_ids)))
    return {row.trace_id: {k: getattr(row, k) for k in IDENTITY} for row in found}


def _merge_identity(stored: Mapping[str, Any] | None, trace_params: list[dict[str, Any]]) -> dict[str, Any]:
    """Stored values first (the first writer wins), then the root span's, then any span's."""
    identity: dict[str, Any] = dict(stored) if stored else dict.fromkeys(IDENTITY)
    ordered = sorted(trace_params, key=lambda p: p["parent_span_id"] is not None)
    for key in IDENTITY:
        if identity[key] is None:
            identity[key] = next((p[key] for p in ordered if p[key] is not None), None)
    return identity


def _backfill_earlier_spans(
    conn: Connection, trace_id: str, stored: Mapping[str, Any] | None, identity: Mapping[str, Any]
) -> None:
    if stored is None:
        return  # the trace is new: nothing stored earlier to fill
    for key in IDENTITY:
        if stored[key] is None and identity[key] is not None:
            column = spans.c[key]
            conn.execute(
                update(spans)
                .where(and_(spans.c.trace_id == trace_id, column.is_(None)))
                .values({key: identity[key]})
            )


def _upsert_runs(conn: Connection, new_rows: list[dict[str, Any]]) -> None:
    aggregates: dict[str, dict[str, Any]] = {}
    for p in new_rows:
        agg = aggregates.get(p["trace_id"])
        if agg is None:
            agg = aggregates[p["trace_id"]] = _empty_run(p)
        _fold(agg, p)
    stmt = dialect_insert(conn, runs)
    excluded = stmt.excluded
    set_: dict[str, Any] = {name: runs.c[name] + excluded[name] for name in _SUMMED_RUN_COLUMNS}
    set_["start_ns"] = case((excluded.start_ns < runs.c.start_ns, excluded.start_ns), else_=runs.c.start_ns)
    set_["end_ns"] = case((excluded.end_ns > runs.c.end_ns, excluded.end_ns), else_=runs.c.end_ns)
    for name in (*IDENTITY, "service", "root_name"):
        set_[name] = case((runs.c[name].is_(None), excluded[name]), else_=runs.c[name])
    # Sorted by key: concurrent PostgreSQL writers then lock run rows in the same order (no deadlock).
    ordered = [aggregates[t] for t in sorted(aggregates)]
    conn.execute(stmt.on_conflict_do_update(index_elements=["trace_id"], set_=set_), ordered)


def _empty_run(p: Mapping[str, Any]) -> dict[str, Any]:
    run = {k: p[k] for k in ("trace_id", *IDENTITY, "service", "start_ns", "end_ns")}
    run.update(dict.fromkeys(_COUNTERS, 0), root_name=None, input_tokens=0, output_tokens=0, cost_usd=0.0)
    return run


def _fold(run: dict[str, Any], p: Mapping[str, Any]) -> None:
    op = p["operation"]
    run["span_count"] += 1
    run["tool_calls"] += op == TOOL_OPERATION
    run["model_calls"] += op in MODEL_OPERATIONS
    run["blocks"] += p["verdict"] == Verdict.BLOCK
    run["asks"] += p["verdict"] == Verdict.ASK
    run["errors"] += p["status"] == "error"
    run["start_ns"] = min(run["start_ns"], p["start_ns"])
    run["end_ns"] = max(run["end_ns"], p["end_ns"])
    if p["parent_span_id"] is None:
        run["root_name"] = p["name"]
    if run["service"] is None:
        run["service"] = p["service"]
    if op != AGENT_OPERATION:  # agent spans often carry roll-ups of their children's usage
        run["input_tokens"] += p["input_tokens"] or 0
        run["output_tokens"] += p["output_tokens"] or 0
        run["cost_usd"] += p["cost_usd"] or 0.0
