"""Writing spans inside one transaction (the caller owns it); decisions: `_decision_writes`.

Spans are inserted idempotently (a re-sent span is ignored) and only the spans actually inserted
update the run aggregates, so retries and OTLP re-deliveries never double-count. Identity (tenant,
session, agent, version) is copied across a trace's spans: the root usually ends, and so arrives,
last, so spans stored earlier are back-filled when it does.

Before any write, every row is sanitized the same way on both backends (`sanitize_rows`): values
PostgreSQL cannot store — NUL and lone surrogates in text, NaN/Infinity in JSON, integers past 64
bits, nesting past MAX_VALUE_DEPTH — are replaced, and the row says where in `railguard.sanitized`.
One odd span must never poison its batch, and SQLite and PostgreSQL must store the same thing.
A row is first checked cheaply (`_span_params`); only a row that check does not clear takes this path.

The span statements go to the driver's cursor inside the caller's transaction (`_span_sql`); the
decision log still writes through SQLAlchemy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from railguard._limits import without_surrogates
from railguard.model import Verdict
from railguard.store._connect import json_dumps
from railguard.store._otel_map import AGENT_OPERATION, MODEL_OPERATIONS, TOOL_OPERATION
from railguard.store._rows import SpanRow
from railguard.store._schema import spans
from railguard.store._span_params import MAX_VALUE_DEPTH, span_params
from railguard.store._span_sql import COUNTERS, IDENTITY, RUN_COLUMNS, SpanSql

SANITIZED = "railguard.sanitized"  # attribute: where values were replaced (field paths, no values)
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
    params = span_params(rows, _sanitized, json_dumps)
    sql = SpanSql(conn)
    try:
        return _insert_span_params(sql, params, isolate_tenants=isolate_tenants)
    except sql.dbapi_error as exc:
        raise sql.driver_error(exc) from None
    finally:
        sql.close()


def _insert_span_params(sql: SpanSql, params: list[dict[str, Any]], *, isolate_tenants: bool) -> int:
    if isolate_tenants:
        _claim_traces(sql, params)
    # Keyed by (trace, span): a span repeated within one batch counts once.
    params = list({(p["trace_id"], p["span_id"]): p for p in params}.values())
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for p in params:
        by_trace.setdefault(p["trace_id"], []).append(p)
    stored_identity = sql.run_identities(sorted(by_trace))
    for trace_id, trace_params in by_trace.items():
        stored = stored_identity.get(trace_id)
        identity = _merge_identity(stored, trace_params)
        for p in trace_params:
            for key in IDENTITY:
                if p[key] is None:
                    p[key] = identity[key]
        if stored is not None:  # a trace seen before: fill what its earlier spans lacked
            for key in IDENTITY:
                if stored[key] is None and identity[key] is not None:
                    sql.backfill(trace_id, key, identity[key])

    stored_keys = sql.stored_span_keys(sorted(by_trace), sorted({p["span_id"] for p in params}))
    new_rows = [p for p in params if (p["trace_id"], p["span_id"]) not in stored_keys]
    if not new_rows:
        return 0
    try:
        sql.insert_spans([tuple(p.values()) for p in new_rows])  # dicts are in SPAN_FIELDS order
    except sql.dbapi_error as exc:
        error = sql.driver_error(exc)
        if isinstance(error, IntegrityError):
            # Usually another writer stored some of these spans since our check; a retry tells.
            raise ConcurrentDuplicate(str(exc).strip().splitlines()[0]) from None
        raise error from None
    _upsert_runs(sql, new_rows)
    return len(new_rows)


def tenant_trace_id(trace_id: str, tenant: str | None) -> str:
    """The id a trace gets under `tenant` when another tenant stored that trace id first."""
    digest = hashlib.sha256(f"{tenant or ''}\x00{trace_id}".encode()).hexdigest()[:16]
    return f"{trace_id[:40]}.{digest}"


def _claim_traces(sql: SpanSql, params: list[dict[str, Any]]) -> None:
    """A span joins only a trace whose stored run belongs to its own tenant. Trace ids travel in
    `traceparent` headers, so they are not secrets: a trace id first stored under tenant A is, for a
    span of tenant B, a different run, kept under a tenant-scoped id. Nothing of A's run is relabelled,
    back-filled or counted into; B's spans of that trace stay together in B's own run."""
    owners = sql.run_owners(sorted({p["trace_id"] for p in params}))
    for p in sorted(params, key=lambda p: p["parent_span_id"] is not None):  # a root claims a new trace
        trace_id = p["trace_id"]
        owner = owners.setdefault(trace_id, p["tenant"])
        if owner != p["tenant"]:
            p["trace_id"] = tenant_trace_id(trace_id, p["tenant"])


class ConcurrentDuplicate(Exception):
    """Another writer stored some of the same spans between our check and our insert: retry the batch
    (its check then sees them), so that run aggregates count every span exactly once."""


_KEY_CHUNK = 400  # bound parameters per lookup, well under SQLite's limit


def _merge_identity(stored: Mapping[str, Any] | None, trace_params: list[dict[str, Any]]) -> dict[str, Any]:
    """Stored values first (the first writer wins), then the root span's, then any span's."""
    identity: dict[str, Any] = dict(stored) if stored else dict.fromkeys(IDENTITY)
    ordered = sorted(trace_params, key=lambda p: p["parent_span_id"] is not None)
    for key in IDENTITY:
        if identity[key] is None:
            identity[key] = next((p[key] for p in ordered if p[key] is not None), None)
    return identity


def _upsert_runs(sql: SpanSql, new_rows: list[dict[str, Any]]) -> None:
    aggregates: dict[str, dict[str, Any]] = {}
    for p in new_rows:
        agg = aggregates.get(p["trace_id"])
        if agg is None:
            agg = aggregates[p["trace_id"]] = _empty_run(p)
        _fold(agg, p)
    # Sorted by key: concurrent PostgreSQL writers then lock run rows in the same order (no deadlock).
    sql.upsert_runs([tuple(aggregates[t][c] for c in RUN_COLUMNS) for t in sorted(aggregates)])


def _empty_run(p: Mapping[str, Any]) -> dict[str, Any]:
    run = {k: p[k] for k in ("trace_id", *IDENTITY, "service", "start_ns", "end_ns")}
    run.update(dict.fromkeys(COUNTERS, 0), root_name=None, input_tokens=0, output_tokens=0, cost_usd=0.0)
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
