"""The OpenTelemetry SDK's own OTLP/HTTP exporter (protobuf, gzip) sending to the receiver."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, format_trace_id
from otlp_server import RunningServer

from railguard.store import KeyRing

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
OPENAI_KEY = "sk-proj-" + "Xy12" * 12


def _agent_spans(resource: dict[str, str] | None = None) -> Sequence[ReadableSpan]:
    """An OpenInference-instrumented agent run: a CHAIN root, an LLM call and a TOOL call."""
    collected = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot", **(resource or {})}))
    provider.add_span_processor(SimpleSpanProcessor(collected))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "agent", attributes={"openinference.span.kind": "CHAIN", "session.id": "s-1"}
    ):
        with tracer.start_as_current_span(
            "ChatCompletion",
            kind=SpanKind.CLIENT,
            attributes={
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.provider": "openai",
                "llm.token_count.prompt": 120,
                "llm.token_count.completion": 30,
                "input.value": f"use the key {OPENAI_KEY} to call the API",
            },
        ):
            pass
        with tracer.start_as_current_span(
            "lookup", attributes={"openinference.span.kind": "TOOL", "tool.name": "lookup_order"}
        ) as tool:
            tool.add_event("retry", {"note": f"token {GITHUB_TOKEN} expired"})
            tool.set_status(Status(StatusCode.ERROR, f"auth failed with {GITHUB_TOKEN}"))
    provider.shutdown()
    return collected.get_finished_spans()


def _trace_id(spans: Sequence[ReadableSpan]) -> str:
    context = spans[0].context
    assert context is not None
    return format_trace_id(context.trace_id)


def _exporter(server: RunningServer, headers: dict[str, str] | None = None) -> OTLPSpanExporter:
    """An exporter sending the server's admin key unless `headers` says otherwise."""
    return OTLPSpanExporter(
        endpoint=server.traces_url,
        compression=Compression.Gzip,
        timeout=10,
        headers=server.auth() if headers is None else headers,
    )


def test_sdk_exporter_spans_are_stored_with_openinference_columns(
    serve: Callable[..., RunningServer],
) -> None:
    server = serve()
    spans = _agent_spans()
    assert _exporter(server).export(spans) is SpanExportResult.SUCCESS

    trace_id = _trace_id(spans)
    # The 200 was only sent after the write committed: the rows are there now, without waiting.
    rows = {row.name: row for row in server.store.get_trace(trace_id, tenant=None)}
    assert set(rows) == {"agent", "ChatCompletion", "lookup"}
    llm, tool, root = rows["ChatCompletion"], rows["lookup"], rows["agent"]
    assert (llm.operation, llm.request_model, llm.provider) == ("chat", "gpt-4o-mini", "openai")
    assert (llm.input_tokens, llm.output_tokens, llm.kind) == (120, 30, "client")
    assert (tool.operation, tool.tool_name, tool.status) == ("execute_tool", "lookup_order", "error")
    assert root.operation == "invoke_agent" and root.session == "s-1" and root.parent_span_id is None
    assert tool.parent_span_id == root.span_id and llm.service == "support-bot"


def test_secrets_in_attributes_events_and_status_are_redacted_before_storage(
    serve: Callable[..., RunningServer],
) -> None:
    server = serve()
    spans = _agent_spans(resource={"deploy.note": f"built with {GITHUB_TOKEN}"})
    assert _exporter(server).export(spans) is SpanExportResult.SUCCESS

    rows = server.store.get_trace(_trace_id(spans), tenant=None)
    stored = json.dumps([[r.attributes, r.events, r.resource, r.status_message] for r in rows])
    assert GITHUB_TOKEN not in stored and OPENAI_KEY not in stored
    by_name = {row.name: row for row in rows}
    assert (
        by_name["ChatCompletion"].attributes["input.value"]
        == "use the key [redacted:openai_key] to call the API"
    )
    assert by_name["lookup"].status_message == "auth failed with [redacted:github_token]"
    assert by_name["lookup"].events[0]["attributes"]["note"] == "token [redacted:github_token] expired"
    assert by_name["lookup"].resource["deploy.note"] == "built with [redacted:github_token]"
    assert "input.value:openai_key" in by_name["ChatCompletion"].attributes["railguard.redacted"]


def test_a_valid_key_is_required(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    viewer = KeyRing(server.store).create(tenant="acme", role="viewer", actor="test").key
    revoked = KeyRing(server.store).create(tenant="acme", role="agent", actor="test")
    KeyRing(server.store).revoke(revoked.info.id, tenant=None, actor="test")
    spans = _agent_spans()
    for headers in (
        {},
        {"Authorization": "Bearer rg_wrong"},
        server.auth(key=viewer),
        server.auth(key=revoked.key),
    ):
        assert _exporter(server, headers=headers).export(spans) is SpanExportResult.FAILURE
    assert server.store.get_trace(_trace_id(spans), tenant=None) == []

    agent = KeyRing(server.store).create(tenant="acme", role="agent", actor="test").key
    assert _exporter(server, headers=server.auth(key=agent)).export(spans) is SpanExportResult.SUCCESS
    assert len(server.store.get_trace(_trace_id(spans), tenant="acme")) == 3


def test_tenant_comes_from_the_key_and_a_header_cannot_change_it(
    serve: Callable[..., RunningServer],
) -> None:
    server = serve()
    acme = KeyRing(server.store).create(tenant="acme", role="agent", actor="test").key
    spans = _agent_spans()
    headers = server.auth({"X-Railguard-Tenant": "globex"}, key=acme)
    assert _exporter(server, headers=headers).export(spans) is SpanExportResult.SUCCESS
    assert len(server.store.get_trace(_trace_id(spans), tenant="acme")) == 3
    assert server.store.get_trace(_trace_id(spans), tenant="globex") == []

    # A span naming another tenant is refused (not relabelled): nothing of the batch is stored.
    other = _agent_spans(resource={"railguard.tenant": "globex"})
    assert _exporter(server, headers=server.auth(key=acme)).export(other) is SpanExportResult.FAILURE
    assert server.store.get_trace(_trace_id(other), tenant=None) == []
