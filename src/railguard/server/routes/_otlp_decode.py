"""OTLP trace export requests (protobuf or OTLP/JSON) -> redacted `SpanRow`s.

OTLP/JSON is protobuf's JSON mapping with one difference that matters: trace and span ids are hex
strings, not base64. A plain document is read by `_otlp_json` (no per-field reflection); any other is
parsed by `json_format` after its ids are rewritten to base64. Both encodings end in the same
`ExportTraceServiceRequest` and share one mapping to rows. Enums may come
as numbers or names and 64-bit integers as strings or numbers: `json_format` accepts all of these.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from railguard.server.routes._otlp_json import NotPlain, request_from_json
from railguard.store import SpanRow
from railguard.trace._keys import REDACTED, TENANT
from railguard.trace._redaction import RedactionPolicy, Redactor

# Linear: one literal prefix, a bounded word class, a literal suffix; no nested quantifiers.
_PARSE_FIELD = re.compile(r"Failed to parse (\w{1,100}) field")
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_MAX_REJECT_REASONS = 5  # the partialSuccess message names a few causes, not one line per span


class OtlpDecodeError(ValueError):
    """The body is not an ExportTraceServiceRequest in the declared encoding (HTTP 400)."""


@dataclass(slots=True)
class DecodedBatch:
    rows: list[SpanRow] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if reason not in self.reasons and len(self.reasons) < _MAX_REJECT_REASONS:
            self.reasons.append(reason)


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RuntimeError) as exc:
        raise OtlpDecodeError(
            f"body is not a protobuf ExportTraceServiceRequest ({type(exc).__name__})"
        ) from None
    return request


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise OtlpDecodeError(f"body is not JSON ({type(exc).__name__} at {_position(exc)})") from None
    if not isinstance(document, dict):
        raise OtlpDecodeError("OTLP/JSON body must be an object with 'resourceSpans'")
    try:
        return request_from_json(document)
    except NotPlain:
        pass  # json_format decides (and words any error): the exact, slower path
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise OtlpDecodeError(f"not an OTLP/JSON ExportTraceServiceRequest: {_field_path(exc)}") from None
    return request


def _field_path(exc: BaseException) -> str:
    """Where parsing failed, by field names only: ParseError messages quote the offending value,
    which may be a secret, so none of the message text beyond the field names is echoed."""
    fields = _PARSE_FIELD.findall(str(exc))
    return f"bad value or type at {'.'.join(fields)}" if fields else "top-level fields have the wrong types"


def _position(exc: BaseException) -> str:
    return f"char {exc.pos}" if isinstance(exc, json.JSONDecodeError) else "?"


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """In place: span and link ids from OTLP hex to protobuf-JSON base64. An id that is not hex
    becomes empty, so the span is rejected as malformed (partial success) instead of the whole body."""
    for resource_spans in _dicts(document.get("resourceSpans") or document.get("resource_spans")):
        for scope_spans in _dicts(resource_spans.get("scopeSpans") or resource_spans.get("scope_spans")):
            for span in _dicts(scope_spans.get("spans")):
                _convert_ids(span)
                for link in _dicts(span.get("links")):
                    _convert_ids(link)


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _convert_ids(obj: dict[str, Any]) -> None:
    for key in _ID_FIELDS:
        value = obj.get(key)
        if isinstance(value, str):
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raw = b""
            obj[key] = base64.b64encode(raw).decode("ascii")


def response_body(batch: DecodedBatch, *, as_json: bool) -> bytes:
    response = ExportTraceServiceResponse()
    if batch.rejected:
        response.partial_success.rejected_spans = batch.rejected
        response.partial_success.error_message = "; ".join(batch.reasons)
    if as_json:
        return json_format.MessageToJson(response, indent=None).encode()
    return response.SerializeToString()


def to_rows(
    request: ExportTraceServiceRequest, *, policy: RedactionPolicy, tenant: str | None
) -> DecodedBatch:
    """Valid spans as rows with every string redacted; malformed spans counted as rejected.
    Tenant: `tenant` (the request header) wins over a span's or resource's `railguard.tenant`."""
    batch = DecodedBatch()
    for resource_spans in request.resource_spans:
        cleaned = Redactor(policy).attributes(_attributes(resource_spans.resource.attributes), "resource/")
        resource_tenant = cleaned.get(TENANT)
        resource = _json_ready_attributes(cleaned)  # once per resource: its spans' rows share it
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                problem = _malformed(span)
                if problem:
                    batch.reject(problem)
                    continue
                row = _row(span, resource, policy)
                row.tenant = tenant or row.tenant or (str(resource_tenant) if resource_tenant else None)
                batch.rows.append(row)
    return batch


def _malformed(span: Span) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return "invalid trace id (want 16 bytes, 32 hex chars, not all zero)"
    if len(span.span_id) != 8 or not any(span.span_id):
        return "invalid span id (want 8 bytes, 16 hex chars, not all zero)"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "invalid parent span id (want 8 bytes or empty)"
    if span.end_time_unix_nano and span.end_time_unix_nano < span.start_time_unix_nano:
        return "span ends before it starts"
    return None


def _row(span: Span, resource: dict[str, Any], policy: RedactionPolicy) -> SpanRow:
    # The same cleaning as the in-process redaction processor (railguard.trace.redact_span).
    redactor = Redactor(policy)
    attributes = redactor.attributes(_attributes(span.attributes))
    events = [
        {
            "name": redactor.text(event.name, "event.name"),
            "timestamp_ns": event.time_unix_nano,
            "attributes": _json_ready_attributes(
                redactor.attributes(_attributes(event.attributes), f"event:{event.name}/")
            ),
        }
        for event in span.events
    ]
    status_message = redactor.text(span.status.message, "status") if span.status.message else None
    name = redactor.text(span.name, "span.name")
    if redactor.hits:
        attributes[REDACTED] = list(redactor.record())
    end_ns = span.end_time_unix_nano or span.start_time_unix_nano
    return SpanRow.from_otel(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() or None,
        name=name,
        kind=span.kind,
        start_ns=span.start_time_unix_nano,
        end_ns=end_ns,
        status=span.status.code,
        status_message=status_message,
        attributes=_json_ready_attributes(attributes),
        resource=resource,
        events=events,
        copy=False,  # every dict here was built for this row (the resource's for its spans)
    )


def _attributes(key_values: Iterable[KeyValue]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in key_values:  # strings inline: most attributes are strings, and this runs per attribute
        value = kv.value
        which = value.WhichOneof("value")
        out[kv.key] = value.string_value if which == "string_value" else _value(value, which)
    return out


def _value(value: AnyValue, which: str | None = None) -> Any:
    if which is None:
        which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if which == "bytes_value":
        # Stored as OTLP/JSON shows bytes; the redactor still reads UTF-8 payloads first (below).
        return value.bytes_value
    if which is None:
        return None
    return getattr(value, which)


_CONTAINERS_AND_BYTES = (dict, list, tuple, bytes)
_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})


def _json_ready_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """In place: only containers and bytes need `_json_ready` (most values are plain scalars, and
    most spans have no other: their values' types are checked together first)."""
    if _PLAIN_SCALARS.issuperset(map(type, attributes.values())):
        return attributes
    for key, value in attributes.items():
        if isinstance(value, _CONTAINERS_AND_BYTES):
            attributes[key] = _json_ready(value)
    return attributes


def _json_ready(value: Any) -> Any:
    """Tuples (from the redactor) as lists and leftover binary as base64 text: the store writes JSON."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, bytes):
        return binascii.b2a_base64(value, newline=False).decode("ascii")
    return value
