"""Model calls that arrive over OTLP unpriced are priced at ingest from the same price table as
Railguard's own spans; a call that cannot be priced stays unknown (shown as a dash, never $0)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id
from otlp_server import RunningServer
from typer.testing import CliRunner

from railguard.cli import app
from railguard.trace import model_call_cost


def _chat_spans(model: str, input_tokens: int, output_tokens: int) -> Sequence[ReadableSpan]:
    """What a plain OpenTelemetry SDK program following the gen_ai conventions sends."""
    collected = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "plain-otel-app"}))
    provider.add_span_processor(SimpleSpanProcessor(collected))
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
    }
    with provider.get_tracer("app").start_as_current_span(
        f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes
    ):
        pass
    provider.shutdown()
    return collected.get_finished_spans()


def _send(server: RunningServer, spans: Sequence[ReadableSpan]) -> str:
    exporter = OTLPSpanExporter(endpoint=server.traces_url, timeout=10, headers=server.agent_auth())
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    context = spans[0].context
    assert context is not None
    return format_trace_id(context.trace_id)


def test_an_unpriced_model_call_is_priced_at_ingest(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    trace_id = _send(server, _chat_spans("gpt-4o-mini", 1200, 300))
    expected = model_call_cost("gpt-4o-mini", provider="openai", input_tokens=1200, output_tokens=300)
    assert expected is not None and expected.usd > 0
    (row,) = server.store.get_trace(trace_id, tenant="acme")
    assert row.cost_usd is not None and abs(row.cost_usd - expected.usd) < 1e-12
    assert row.price_version == expected.price_version
    (run,) = server.store.list_runs(tenant=None)
    assert abs(run.cost_usd - expected.usd) < 1e-12


def test_an_unknown_model_stays_unknown_and_is_shown_as_a_dash(
    serve: Callable[..., RunningServer], store_url: str
) -> None:
    server = serve()
    trace_id = _send(server, _chat_spans("no-such-model-xyz", 1200, 300))
    (row,) = server.store.get_trace(trace_id, tenant=None)
    assert row.cost_usd is None
    result = CliRunner().invoke(app, ["traces", "list", "--db", store_url])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith(trace_id[:12])]
    assert line.rstrip().endswith("\u2013") and "0.0000" not in line
    shown = CliRunner().invoke(app, ["traces", "show", trace_id[:12], "--db", store_url])
    assert "$\u2013" in shown.output and "$0.0" not in shown.output
