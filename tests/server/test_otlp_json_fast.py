"""The OTLP/JSON reader without json_format builds exactly the request json_format builds, and
leaves every document it cannot vouch for to json_format (so acceptance and errors do not change)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from railguard.server.routes import _otlp_decode as decode
from railguard.server.routes._otlp_json import NotPlain, request_from_json

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def _by_json_format(document: dict[str, Any]) -> ExportTraceServiceRequest:
    document = copy.deepcopy(document)
    decode._hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    json_format.ParseDict(document, request, ignore_unknown_fields=True)
    return request


def _document(span: dict[str, Any], **resource_spans: Any) -> dict[str, Any]:
    base = {
        "traceId": TRACE_ID,
        "spanId": "eee19b7ec3c1b174",
        "name": "chat",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": 1700000000250000000,
    }
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [{"scope": {"name": "lib", "version": "1"}, "spans": [{**base, **span}]}],
                **resource_spans,
            }
        ]
    }


def _kv(key: str, **value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


PLAIN: dict[str, dict[str, Any]] = {
    "every value type": _document(
        {
            "attributes": [
                _kv("s", stringValue="text ✓"),
                _kv("empty", stringValue=""),
                _kv("i", intValue="-42"),
                _kv("j", intValue=7),
                _kv("d", doubleValue=0.25),
                _kv("whole", doubleValue=3),
                _kv("b", boolValue=False),
                _kv("none"),
                _kv("arr", arrayValue={"values": [{"stringValue": "a"}, {"intValue": "1"}, {}]}),
                _kv(
                    "kv",
                    kvlistValue={
                        "values": [_kv("inner", kvlistValue={"values": [_kv("x", boolValue=True)]})]
                    },
                ),
            ],
            "kind": "SPAN_KIND_CLIENT",
            "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
            "events": [
                {"timeUnixNano": "1700000000100000000", "name": "e", "attributes": [_kv("k", intValue=1)]}
            ],
            "links": [{"traceId": TRACE_ID, "spanId": "eee19b7ec3c1b173", "attributes": []}],
            "droppedAttributesCount": 2,
            "flags": 257,
            "traceState": "a=b",
        },
        schemaUrl="https://example.test/schema",
    ),
    "proto field names": {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": TRACE_ID,
                                "span_id": "eee19b7ec3c1b174",
                                "parent_span_id": "01",
                                "start_time_unix_nano": 5,
                                "kind": 3,
                            }
                        ]
                    }
                ]
            }
        ]
    },
    "nulls and unknown fields": _document(
        {
            "parentSpanId": None,
            "status": None,
            "somethingNew": {"x": 1},
            "attributes": [_kv("n", stringValue=None)],
        }
    ),
    "ids that are not hex": _document({"traceId": "not-hex!", "spanId": "", "parentSpanId": "abc"}),
    "a numeric enum out of the known names": _document({"kind": 42}),
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_a_plain_document_builds_what_json_format_builds(name: str) -> None:
    document = PLAIN[name]
    fast = request_from_json(copy.deepcopy(document))
    assert fast == _by_json_format(document)
    assert fast.SerializeToString(deterministic=True) == _by_json_format(document).SerializeToString(
        deterministic=True
    )


NOT_PLAIN: dict[str, dict[str, Any]] = {
    "bytes value": _document({"attributes": [_kv("raw", bytesValue="aGVsbG8=")]}),
    "quoted NaN": _document({"attributes": [_kv("d", doubleValue="NaN")]}),
    "integer with a plus sign": _document({"startTimeUnixNano": "+5"}),
    "bool for an integer": _document({"startTimeUnixNano": True}),
    "float for an integer": _document({"startTimeUnixNano": 5.0}),
    "unknown enum name": _document({"kind": "SPAN_KIND_SIDEWAYS"}),
    "two oneof members": _document({"attributes": [_kv("x", stringValue="a", intValue=1)]}),
    "a field given twice": {**_document({}), "resource_spans": []},
    "null in a list": _document({"events": [None]}),
    "object for a list": _document({"attributes": {"key": "x"}}),
    "string for an object": _document({"status": "ok"}),
    "a bad value": _document({"startTimeUnixNano": "ghp_secretvalue"}),
    "out of range": _document({"droppedAttributesCount": -1}),
    "id that is not a string": _document({"spanId": 12}),
}


@pytest.mark.parametrize("name", sorted(NOT_PLAIN))
def test_anything_else_is_left_to_json_format(name: str) -> None:
    document = NOT_PLAIN[name]
    with pytest.raises(NotPlain):
        request_from_json(copy.deepcopy(document))
    try:
        expected: ExportTraceServiceRequest | None = _by_json_format(document)
    except json_format.ParseError:
        expected = None
    body = json.dumps(document).encode()
    if expected is None:
        with pytest.raises(decode.OtlpDecodeError):
            decode.parse_json(body)
    else:
        assert decode.parse_json(body) == expected


@pytest.mark.parametrize("levels", [20, 40, 60])
def test_nesting_is_bounded_as_json_format_bounds_it(levels: int) -> None:
    """json_format refuses messages nested 100 deep (an array level is two); past 64 the reader
    leaves the call to it."""
    value = '{"stringValue": "leaf"}'
    for _ in range(levels):
        value = '{"arrayValue": {"values": [' + value + "]}}"
    document = json.dumps(_document({"attributes": [{"key": "deep", "value": {}}]}))
    body = document.replace('"value": {}', f'"value": {value}').encode()
    if levels == 20:
        assert request_from_json(json.loads(body)) == _by_json_format(json.loads(body))
        return
    with pytest.raises(NotPlain):
        request_from_json(json.loads(body))
    if levels == 40:
        assert decode.parse_json(body) == _by_json_format(json.loads(body))
    else:
        with pytest.raises(decode.OtlpDecodeError):
            decode.parse_json(body)
