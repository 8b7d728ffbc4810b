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

from railguard.server.routes.otlp import OtlpSettings

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
    return OTLPSpanExporter(
        endpoint=server.traces_url, compression=Compression.Gzip, timeout=10, headers=headers
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


def test_bearer_token_is_required_when_configured(serve: Callable[..., RunningServer]) -> None:
    server = serve(OtlpSettings(token="s3cret-ingest"))
    spans = _agent_spans()
    assert _exporter(server).export(spans) is SpanExportResult.FAILURE
    assert (
        _exporter(server, headers={"Authorization": "Bearer wrong"}).export(spans) is SpanExportResult.FAILURE
    )
    assert server.store.get_trace(_trace_id(spans), tenant=None) == []

    authorized = _exporter(server, headers={"Authorization": "Bearer s3cret-ingest"})
    assert authorized.export(spans) is SpanExportResult.SUCCESS
    assert len(server.store.get_trace(_trace_id(spans), tenant=None)) == 3


def test_tenant_comes_from_the_header_over_the_resource_attribute(
    serve: Callable[..., RunningServer],
) -> None:
    server = serve()
    from_resource = _agent_spans(resource={"railguard.tenant": "acme"})
    assert _exporter(server).export(from_resource) is SpanExportResult.SUCCESS
    from_header = _agent_spans(resource={"railguard.tenant": "acme"})
    assert (
        _exporter(server, headers={"X-Railguard-Tenant": "globex"}).export(from_header)
        is SpanExportResult.SUCCESS
    )

    acme = server.store.get_trace(_trace_id(from_resource), tenant="acme")
    globex = server.store.get_trace(_trace_id(from_header), tenant="globex")
    assert len(acme) == 3 and len(globex) == 3
    assert server.store.get_trace(_trace_id(from_header), tenant="acme") == []
