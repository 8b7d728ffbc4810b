"""Agents SDK traces as Railguard spans: a `TracingProcessor` that maps the SDK's agent,
generation/response and function spans to `invoke_agent`, `chat` and `execute_tool` spans (gen_ai
conventions), redacted and exported by `configure_tracing` like every other Railguard span."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping
from typing import Any

from agents.tracing import (
    AgentSpanData,
    FunctionSpanData,
    GenerationSpanData,
    ResponseSpanData,
    Span,
    Trace,
    TracingProcessor,
)
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind

from railguard._internal import internal_error, reported
from railguard.integrations.generic import CallbackSpans
from railguard.trace import ModelCall, ToolCall, active_tracing, tool_call
from railguard.trace import _keys as k

PROVIDER = "openai"  # the SDK's own models speak the OpenAI APIs; other providers come via LiteLLM


def _json_text(value: Any) -> str:
    try:
        return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    except Exception as err:
        internal_error("tracing.content", err, expected=True)
        return '"<unserializable>"'


def _int(mapping: Mapping[str, Any] | None, *path: str) -> int | None:
    value: Any = mapping
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if isinstance(value, int) else None


class RailguardTracingProcessor(TracingProcessor):
    """Register with `agents.add_trace_processor(RailguardTracingProcessor())` (keeps the SDK's own
    exporter) or `agents.set_trace_processors([...])` (Railguard only). Spans go wherever
    `configure_tracing` sends them; while tracing is off this does nothing.

    A function span becomes the current `execute_tool` span while the tool runs, so the decision of
    a traced engine (`trace_engine(engine)`, taken by `railguard_tool_guardrail`) lands on it."""

    def __init__(self) -> None:
        self._spans = CallbackSpans()
        # function span id -> (the open tool_call context manager, the parent-context token)
        self._tools: dict[str, tuple[contextlib.AbstractContextManager[ToolCall], object]] = {}
        self._lock = threading.Lock()

    # -- traces ----------------------------------------------------------------------------------

    def on_trace_start(self, trace: Trace) -> None:
        try:
            key = ("trace", trace.trace_id)
            outer = otel_trace.get_current_span()
            if outer.is_recording():  # inside railguard.run(...): the SDK's spans nest in that run
                self._spans.adopt(key, outer)
                return
            attributes: dict[str, Any] = {"railguard.workflow": trace.name}
            group = getattr(trace, "group_id", None)
            if group:
                attributes[k.CONVERSATION_ID] = str(group)
            self._spans.start(key, f"workflow {trace.name}", attributes)
        except Exception as err:
            internal_error("integrations.agents_tracing", err)

    def on_trace_end(self, trace: Trace) -> None:
        with reported("integrations.agents_tracing"):
            self._spans.end(("trace", trace.trace_id))

    # -- spans -----------------------------------------------------------------------------------

    def on_span_start(self, span: Span[Any]) -> None:
        with reported("integrations.agents_tracing"):
            self._start(span)

    def _start(self, span: Span[Any]) -> None:
        data = span.span_data
        parent = span.parent_id or ("trace", span.trace_id)
        if isinstance(data, AgentSpanData):
            attributes = {k.OPERATION: k.OP_AGENT, k.AGENT_NAME: data.name}
            self._spans.start(span.span_id, f"{k.OP_AGENT} {data.name}", attributes, parent=parent)
        elif isinstance(data, GenerationSpanData | ResponseSpanData):
            model = getattr(data, "model", None) or ""
            attributes = {k.OPERATION: k.OP_CHAT, k.PROVIDER: PROVIDER}
            if model:
                attributes[k.REQUEST_MODEL] = model
            name = f"{k.OP_CHAT} {model}" if model else k.OP_CHAT
            self._spans.start(span.span_id, name, attributes, parent=parent, kind=SpanKind.CLIENT)
        elif isinstance(data, FunctionSpanData):
            self._start_tool(span.span_id, data.name, parent)
        else:  # task, turn, handoff, guardrail, custom...: not traced, their children pass through
            self._spans.alias(span.span_id, parent)

    def _start_tool(self, span_id: str, name: str, parent: Any) -> None:
        # The SDK opens function spans in a `with` block around the guardrails and the tool, so the
        # contextvars set here are current for exactly that block and reset in the same context.
        parent_span = self._spans.get_resolved(parent)
        token = otel_context.attach(otel_trace.set_span_in_context(parent_span)) if parent_span else None
        manager = tool_call(name)
        call = manager.__enter__()
        self._spans.adopt(span_id, call.span)
        with self._lock:
            self._tools[span_id] = (manager, token)

    def on_span_end(self, span: Span[Any]) -> None:
        with reported("integrations.agents_tracing"):
            self._end(span)

    def _end(self, span: Span[Any]) -> None:
        data = span.span_data
        otel_span = self._spans.get(span.span_id)
        error = span.error
        if otel_span is not None:
            if isinstance(data, GenerationSpanData):
                self._record_generation(otel_span, data)
            elif isinstance(data, ResponseSpanData):
                self._record_response(otel_span, data)
            elif isinstance(data, FunctionSpanData):
                self._record_function(otel_span, data)
        self._spans.end(span.span_id, error_type="AgentsSpanError" if error else None)
        if isinstance(data, FunctionSpanData):
            self._close_tool(span.span_id)

    def _close_tool(self, span_id: str) -> None:
        with self._lock:
            opened = self._tools.pop(span_id, None)
        if opened is None:
            return
        manager, token = opened
        with reported("integrations.agents_tracing"):
            manager.__exit__(None, None, None)
        if token is not None:
            with reported("integrations.agents_tracing"):
                otel_context.detach(token)  # type: ignore[arg-type]

    def _capture(self) -> bool:
        return self._spans.capture_content

    def _record_generation(self, otel_span: otel_trace.Span, data: GenerationSpanData) -> None:
        call = ModelCall(otel_span, PROVIDER, data.model or "", self._capture())
        usage = data.usage or {}
        call.record_usage(
            input_tokens=_int(usage, "input_tokens"),
            output_tokens=_int(usage, "output_tokens"),
            cache_read_tokens=_int(usage, "input_tokens_details", "cached_tokens"),
            reasoning_tokens=_int(usage, "output_tokens_details", "reasoning_tokens"),
        )
        if data.output is not None:
            call.record_output(list(data.output))
        if data.input is not None and self._capture():
            otel_span.set_attribute(k.INPUT_MESSAGES, _json_text(list(data.input)))

    def _record_response(self, otel_span: otel_trace.Span, data: ResponseSpanData) -> None:
        response = data.response
        if response is None:
            return
        model = str(response.model or "")
        if model:
            otel_span.update_name(f"{k.OP_CHAT} {model}")
            otel_span.set_attribute(k.REQUEST_MODEL, model)
        usage = response.usage
        call = ModelCall(otel_span, PROVIDER, model, self._capture())
        if usage is not None:
            call.record_usage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=getattr(usage.input_tokens_details, "cached_tokens", None),
                reasoning_tokens=getattr(usage.output_tokens_details, "reasoning_tokens", None),
                response_model=model or None,
            )
        call.record_output([item.model_dump(exclude_none=True) for item in response.output])

    def _record_function(self, otel_span: otel_trace.Span, data: FunctionSpanData) -> None:
        if not self._capture():
            return
        if data.input is not None:
            otel_span.set_attribute(k.TOOL_ARGUMENTS, _json_text(data.input))
        if data.output is not None:
            otel_span.set_attribute(k.TOOL_RESULT, _json_text(str(data.output)))

    # -- lifecycle -------------------------------------------------------------------------------

    def force_flush(self) -> None:
        tracing = active_tracing()
        if tracing is not None:
            tracing.flush()

    def shutdown(self) -> None:
        self.force_flush()
