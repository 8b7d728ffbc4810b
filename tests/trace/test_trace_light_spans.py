"""Tool-call spans are light on the agent's thread (plain values kept aside, a light span when the
sampler is the default one) and leave the process exactly as the SDK's span would: same attributes,
events, status, parentage, resource and scope, redacted the same way, sampled the same way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from trace_fakes import BLOCKING_POLICY

from railguard._scope import run
from railguard.engine import Engine
from railguard.model import Action
from railguard.trace import configure_tracing, model_call, tool_call, trace_engine
from railguard.trace._lite_span import LiteSpan

TOKEN = "ghp_" + "k3Y9mQ2xV7bN1cR5tW8zL4pD6fH0jS2aE8uI"


def _record(engine: Engine) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()  # shut down with the setup: one per recording
    tracing = configure_tracing(exporters=[memory], service_name="light-test", service_version="1.2")
    unsubscribe = trace_engine(engine)
    try:
        with run(agent="support", session="s-1"):
            args = {"to": "eve@elsewhere.example", "token": TOKEN}
            with pytest.raises(KeyError), tool_call("send_email", call_id="c-7", args=args) as call:
                engine.check(Action("send_email", args, call_id="c-7"))
                with model_call("openai", "gpt-4o") as chat:
                    chat.record_usage(input_tokens=3, output_tokens=2)
                call.span.add_event("retry", {"attempt": 2})
                call.record_result({"status": "queued", "token": TOKEN})
                raise KeyError("missing")
        assert tracing.flush()
    finally:
        unsubscribe()
        tracing.shutdown()
    return list(memory.get_finished_spans())


def _shape(spans: list[ReadableSpan]) -> dict[str, Any]:
    """Everything about the spans but ids (span, decision, run), times and the stack trace."""
    by_id = {s.context.span_id: s.name for s in spans if s.context is not None}
    out: dict[str, Any] = {}
    for span in spans:
        events = [
            (e.name, {key: v for key, v in (e.attributes or {}).items() if key != "exception.stacktrace"})
            for e in span.events
        ]
        attributes = {
            key: value
            for key, value in (span.attributes or {}).items()
            if key not in ("railguard.decision_id", "railguard.run")
        }
        out[span.name] = {
            "attributes": attributes,
            "events": events,
            "kind": span.kind,
            "status": (span.status.status_code, span.status.description),
            "parent": by_id.get(span.parent.span_id) if span.parent is not None else None,
            "resource": dict(span.resource.attributes),
            "scope": span.instrumentation_scope,
        }
    return out


@pytest.fixture
def engine() -> Iterator[Engine]:
    yield Engine.from_yaml(BLOCKING_POLICY)


def test_a_light_tool_span_leaves_the_process_as_the_sdk_span_would(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    light = _record(engine)
    # The same sampler, named in the environment: the light spans step aside for the SDK's.
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    sdk = _record(engine)
    assert _shape(light) == _shape(sdk)
    tool = _shape(light)["execute_tool send_email"]
    assert tool["parent"] == "invoke_agent support"
    assert _shape(light)["chat gpt-4o"]["parent"] == "execute_tool send_email"
    assert tool["attributes"]["railguard.verdict"] == "block"
    assert tool["attributes"]["error.type"] == "KeyError"
    assert ("retry", {"attempt": 2}) in tool["events"]
    for span in light + sdk:  # redacted on the way out, both ways
        assert TOKEN not in str(span.attributes) and TOKEN not in str(span.events)
        assert "eve@elsewhere.example" not in str(span.attributes)


def test_an_unsampled_parent_keeps_its_children_out_and_nothing_is_left_pending() -> None:
    memory = InMemorySpanExporter()
    tracing = configure_tracing(exporters=[memory])
    try:
        unsampled = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
        with trace.use_span(NonRecordingSpan(unsampled)), tool_call("lookup", args={"q": 1}) as call:
            assert not call.span.is_recording()
            call.record_result("x")
        with tool_call("lookup", args={"q": 2}) as call:
            assert isinstance(call.span, LiteSpan) and call.span.is_recording()
        assert tracing.flush()
        assert [s.name for s in memory.get_finished_spans()] == ["execute_tool lookup"]
        assert tracing.processor.pending == {}
    finally:
        tracing.shutdown()


def test_a_sampler_from_the_environment_is_obeyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    memory = InMemorySpanExporter()
    tracing = configure_tracing(exporters=[memory])
    try:
        with tool_call("lookup", args={"q": 1}) as call:
            assert not isinstance(call.span, LiteSpan)
            assert not call.span.is_recording()
        assert tracing.flush()
        assert memory.get_finished_spans() == ()
        assert tracing.processor.pending == {}
    finally:
        tracing.shutdown()


def test_sdk_tool_spans_take_their_kept_aside_attributes_out_of_the_pending_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    memory = InMemorySpanExporter()
    tracing = configure_tracing(exporters=[memory])
    try:
        with tool_call("lookup", call_id="c-2", args={"q": 1}) as call:
            assert not isinstance(call.span, LiteSpan)
            assert len(tracing.processor.pending) == 1
            call.record_result([1, 2])
        assert tracing.processor.pending == {}
        assert tracing.flush()
        (span,) = memory.get_finished_spans()
        attributes = dict(span.attributes or {})
        assert attributes["gen_ai.tool.call.arguments"] == '{"q": 1}'
        assert attributes["gen_ai.tool.call.result"] == "[1, 2]"
        assert attributes["gen_ai.tool.call.id"] == "c-2"
    finally:
        tracing.shutdown()


def test_light_spans_are_only_for_railguards_own_provider() -> None:
    # A foreign provider's tracer still makes the SDK's spans, parented on a light span.
    foreign = TracerProvider()
    memory = InMemorySpanExporter()
    tracing = configure_tracing(exporters=[memory])
    try:
        with tool_call("lookup") as call, foreign.get_tracer("x").start_as_current_span("inner") as inner:
            assert isinstance(call.span, LiteSpan)
            assert inner.parent is not None
            assert inner.parent.span_id == call.span.get_span_context().span_id
            assert inner.get_span_context().trace_id == call.span.get_span_context().trace_id
    finally:
        tracing.shutdown()
