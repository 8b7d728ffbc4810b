"""OTLP/JSON built by hand per the OTLP/HTTP spec, partial success, and every rejection path."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from otlp_server import RunningServer

from railguard.server.routes.otlp import OtlpSettings

TRACE_ID = "5b8efff798038103d269b633813fc60c"
ROOT_ID = "eee19b7ec3c1b174"
CHILD_ID = "eee19b7ec3c1b173"
JSON_HEADERS = {"Content-Type": "application/json"}


def _span(
    span_id: str, name: str, *, trace_id: str = TRACE_ID, parent: str = "", **extra: Any
) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 3,  # SPAN_KIND_CLIENT, as an integer per OTLP/JSON
        "startTimeUnixNano": "1700000000000000000",  # 64-bit integers as decimal strings
        "endTimeUnixNano": "1700000000250000000",
        **extra,
    }


def _request(*spans: dict[str, Any], resource: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": resource or [{"key": "service.name", "value": {"stringValue": "ts-agent"}}]
                },
                "scopeSpans": [{"scope": {"name": "@opentelemetry/sdk-trace"}, "spans": list(spans)}],
            }
        ]
    }


def _kv(key: str, **value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


def test_hand_built_json_gzip_is_decoded_per_the_otlp_json_rules(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    root = _span(
        ROOT_ID, "invoke_agent planner", attributes=[_kv("gen_ai.operation.name", stringValue="invoke_agent")]
    )
    child = _span(
        CHILD_ID,
        "chat claude",
        parent=ROOT_ID,
        attributes=[
            _kv("gen_ai.operation.name", stringValue="chat"),
            _kv("gen_ai.request.model", stringValue="claude-sonnet-4"),
            _kv("gen_ai.usage.input_tokens", intValue="1200"),
            _kv("gen_ai.usage.output_tokens", intValue=80),
            _kv("gen_ai.request.temperature", doubleValue=0.2),
            _kv("gen_ai.response.finish_reasons", arrayValue={"values": [{"stringValue": "stop"}]}),
            _kv(
                "app.meta",
                kvlistValue={"values": [_kv("retries", intValue="2"), _kv("cached", boolValue=True)]},
            ),
        ],
        events=[{"timeUnixNano": "1700000000100000000", "name": "first_token", "attributes": []}],
        status={"code": 2, "message": "rate limited"},
    )
    body = gzip.compress(json.dumps(_request(root, child)).encode())
    response = server.post(
        server.traces_url, content=body, headers={**JSON_HEADERS, "Content-Encoding": "gzip"}
    )

    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {}  # a full success has no partialSuccess
    rows = {row.span_id: row for row in server.store.get_trace(TRACE_ID, tenant=None)}
    chat = rows[CHILD_ID]
    assert chat.parent_span_id == ROOT_ID and chat.kind == "client" and chat.status == "error"
    assert (chat.input_tokens, chat.output_tokens, chat.request_model) == (1200, 80, "claude-sonnet-4")
    assert (chat.start_ns, chat.end_ns, chat.status_message) == (
        1700000000000000000,
        1700000000250000000,
        "rate limited",
    )
    assert chat.attributes["gen_ai.request.temperature"] == 0.2
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert chat.attributes["app.meta"] == {"retries": 2, "cached": True}
    assert chat.events == [{"name": "first_token", "timestamp_ns": 1700000000100000000, "attributes": {}}]
    assert rows[ROOT_ID].service == "ts-agent" and rows[ROOT_ID].operation == "invoke_agent"


def test_malformed_spans_are_rejected_by_partial_success_and_the_rest_stored(
    serve: Callable[..., RunningServer],
) -> None:
    server = serve()
    payload = _request(
        _span(ROOT_ID, "good"),
        _span("not-hex!", "bad span id"),
        _span(CHILD_ID, "zero trace id", trace_id="0" * 32),
        _span("eee19b7ec3c1b172", "backwards", endTimeUnixNano="1"),
    )
    response = server.post(server.traces_url, json=payload)

    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "3"  # int64 in OTLP/JSON is a string
    assert "invalid span id" in partial["errorMessage"] and "invalid trace id" in partial["errorMessage"]
    assert "ends before it starts" in partial["errorMessage"]
    assert [row.name for row in server.store.get_trace(TRACE_ID, tenant=None)] == ["good"]


def test_protobuf_partial_success_is_a_protobuf_response(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    good, bad = spans.add(), spans.add()
    good.trace_id, good.span_id, good.name = bytes.fromhex(TRACE_ID), bytes.fromhex(ROOT_ID), "good"
    good.start_time_unix_nano = good.end_time_unix_nano = 1700000000000000000
    bad.trace_id, bad.span_id, bad.name = bytes.fromhex(TRACE_ID), b"\x01\x02", "short id"
    response = server.post(
        server.traces_url,
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )

    assert response.status_code == 200 and response.headers["content-type"] == "application/x-protobuf"
    decoded = ExportTraceServiceResponse.FromString(response.content)
    assert decoded.partial_success.rejected_spans == 1
    assert [row.name for row in server.store.get_trace(TRACE_ID, tenant=None)] == ["good"]


def test_undecodable_bodies_get_400_with_a_status_in_the_request_encoding(
    serve: Callable[..., RunningServer],
) -> None:
    server = serve()
    bad_proto = server.post(
        server.traces_url, content=b"\xff\xff\xff", headers={"Content-Type": "application/x-protobuf"}
    )
    assert bad_proto.status_code == 400
    assert (
        "not a protobuf ExportTraceServiceRequest" in status_pb2.Status.FromString(bad_proto.content).message
    )

    not_json = server.post(server.traces_url, content=b"{oops", headers=JSON_HEADERS)
    assert not_json.status_code == 400 and "body is not JSON" in not_json.json()["message"]

    wrong_type = _request(_span(ROOT_ID, "x", startTimeUnixNano="ghp_secretvalue"))
    typed = server.post(server.traces_url, json=wrong_type)
    assert typed.status_code == 400
    assert typed.json()["message"].endswith("resourceSpans.scopeSpans.spans.startTimeUnixNano")
    assert "ghp_secretvalue" not in typed.text  # a bad value is never echoed back

    bad_gzip = server.post(
        server.traces_url, content=b"not gzip", headers={**JSON_HEADERS, "Content-Encoding": "gzip"}
    )
    assert bad_gzip.status_code == 400 and "gzip" in bad_gzip.json()["message"]


def test_unknown_content_type_and_encoding_get_415(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    assert (
        server.post(server.traces_url, content=b"{}", headers={"Content-Type": "text/plain"}).status_code
        == 415
    )
    brotli = server.post(server.traces_url, content=b"{}", headers={**JSON_HEADERS, "Content-Encoding": "br"})
    assert brotli.status_code == 415


def test_bodies_over_the_limit_get_413_before_and_after_gzip(serve: Callable[..., RunningServer]) -> None:
    server = serve(OtlpSettings(max_body_bytes=10_000))
    big = json.dumps(_request(*[_span(f"{i + 1:016x}", "x" * 100) for i in range(100)])).encode()
    assert server.post(server.traces_url, content=big, headers=JSON_HEADERS).status_code == 413
    bomb = gzip.compress(b" " * 1_000_000)  # a few kB that inflate to 1 MB
    assert len(bomb) < 10_000
    response = server.post(
        server.traces_url, content=bomb, headers={**JSON_HEADERS, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413 and "decompressed" in response.json()["message"]
    assert server.store.get_trace(TRACE_ID, tenant=None) == []


def test_json_auth_failure_is_401(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    payload = _request(_span(ROOT_ID, "x"))
    denied = httpx.post(server.traces_url, json=payload, headers={"Authorization": f"Basic {server.key}"})
    assert denied.status_code == 401 and "Bearer" in denied.json()["message"]
    assert server.post(server.traces_url, json=payload).status_code == 200


def test_health_and_readiness(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/readyz")
    assert ready.status_code == 200 and ready.json()["store"] == server.store.dialect


def test_concurrent_exports_are_all_committed(serve: Callable[..., RunningServer]) -> None:
    """Many clients at once: every batch acknowledged is stored, none fails (the scanner is shared)."""
    server = serve()
    secret = "sk-proj-" + "Xy12" * 12
    bodies = [
        json.dumps(
            _request(*[_span(f"{b:08x}{i + 1:08x}", f"op {i}", trace_id=f"{b + 1:032x}", attributes=[
                _kv("input.value", stringValue=f"call {i} with {secret} and mail ana{i}@example.com")
            ]) for i in range(20)])
        ).encode()
        for b in range(24)
    ]  # fmt: skip

    def post(body: bytes) -> int:
        return server.post(server.traces_url, content=body, headers=JSON_HEADERS, timeout=60).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, bodies))
    assert statuses == [200] * len(bodies)
    for b in range(24):
        rows = server.store.get_trace(f"{b + 1:032x}", tenant=None)
        assert len(rows) == 20 and all(secret not in r.attributes["input.value"] for r in rows)
