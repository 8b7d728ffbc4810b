"""Stored spans back out as OTLP/JSON (the `ExportTraceServiceRequest` shape any OTLP/HTTP collector
accepts with Content-Type application/json): one resourceSpans entry per distinct resource."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from railguard.store import SpanRow

_KINDS = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_STATUS = {"unset": 0, "ok": 1, "error": 2}


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in OTLP/JSON
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value)}}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": "" if value is None else str(value)}


def key_values(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": any_value(v)} for k, v in attributes.items()]


def _span(row: SpanRow) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": row.trace_id,
        "spanId": row.span_id,
        "name": row.name,
        "kind": _KINDS.get(row.kind, 0),
        "startTimeUnixNano": str(row.start_ns),
        "endTimeUnixNano": str(row.end_ns),
        "attributes": key_values(row.attributes),
        "events": [
            {
                "name": str(e.get("name", "")),
                "timeUnixNano": str(e.get("timestamp_ns") or 0),
                "attributes": key_values(e.get("attributes") or {}),
            }
            for e in row.events
        ],
        "status": {"code": _STATUS.get(row.status, 0), "message": row.status_message or ""},
    }
    if row.parent_span_id:
        span["parentSpanId"] = row.parent_span_id
    return span


def to_otlp_json(rows: Sequence[SpanRow]) -> dict[str, Any]:
    by_resource: dict[str, tuple[Mapping[str, Any], list[dict[str, Any]]]] = {}
    for row in rows:
        key = json.dumps(row.resource, sort_keys=True, default=str)
        by_resource.setdefault(key, (row.resource, []))[1].append(_span(row))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(resource)},
                "scopeSpans": [{"scope": {"name": "railguard"}, "spans": spans}],
            }
            for resource, spans in by_resource.values()
        ]
    }
