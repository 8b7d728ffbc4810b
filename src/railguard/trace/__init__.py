"""railguard.trace: OpenTelemetry tracing of agent runs, model calls, tool calls and decisions,
by the gen_ai semantic conventions, redacted before anything leaves the process.

    tracing = configure_tracing("sqlite:///traces.db", otlp_endpoint="http://localhost:4318")
    trace_engine(engine)
    with railguard.run(agent="support", user="ana"):          # the invoke_agent span
        with model_call("openai", "gpt-4o", input_messages=msgs) as call:
            call.record_usage(input_tokens=1200, output_tokens=80, cache_read_tokens=1000)
        with tool_call("send_email", call_id="call_1", args=args):
            engine.check(Action("send_email", args))            # decision lands on this span
"""

# The API half (what the engine and integrations need to create spans and record decisions) is
# imported here and loads only the OpenTelemetry API. The SDK half (the TracerProvider, the redaction
# processor, exporters, the store) loads on first use of one of its names, like OpenTelemetry's own
# opentelemetry-api / opentelemetry-sdk split: a hook process that traces nothing never pays for it.
from typing import TYPE_CHECKING, Any

from railguard._lazy import load_lazy as _load_lazy
from railguard.trace._cost import Cost, model_call_cost
from railguard.trace._decision_log import DecisionEvent, DecisionLog
from railguard.trace._engine_sink import record_decision, trace_engine
from railguard.trace._redaction import RedactionPolicy, redact_decision_record
from railguard.trace._spans import ModelCall, ToolCall, model_call, record_confidence, tool_call
from railguard.trace._state import active_tracing

if TYPE_CHECKING:
    from railguard.trace._processor import RedactingSpanProcessor, redact_span
    from railguard.trace._setup import Tracing, configure_tracing
    from railguard.trace._store_export import StoreSpanExporter, span_to_row

_SDK = {
    "RedactingSpanProcessor": "railguard.trace._processor",
    "redact_span": "railguard.trace._processor",
    "Tracing": "railguard.trace._setup",
    "configure_tracing": "railguard.trace._setup",
    "StoreSpanExporter": "railguard.trace._store_export",
    "span_to_row": "railguard.trace._store_export",
}


def __getattr__(name: str) -> Any:
    return _load_lazy(globals(), _SDK, __name__, name)


__all__ = [
    "Cost",
    "DecisionEvent",
    "DecisionLog",
    "ModelCall",
    "RedactingSpanProcessor",
    "RedactionPolicy",
    "StoreSpanExporter",
    "ToolCall",
    "Tracing",
    "active_tracing",
    "configure_tracing",
    "model_call",
    "model_call_cost",
    "record_confidence",
    "record_decision",
    "redact_decision_record",
    "redact_span",
    "span_to_row",
    "tool_call",
    "trace_engine",
]
