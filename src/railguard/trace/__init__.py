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

from railguard.trace._cost import Cost, model_call_cost
from railguard.trace._engine_sink import record_decision, trace_engine
from railguard.trace._processor import RedactingSpanProcessor, redact_span
from railguard.trace._redaction import RedactionPolicy, redact_decision_record
from railguard.trace._setup import Tracing, active_tracing, configure_tracing
from railguard.trace._spans import ModelCall, ToolCall, model_call, record_confidence, tool_call
from railguard.trace._store_export import StoreSpanExporter, span_to_row

__all__ = [
    "Cost",
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
