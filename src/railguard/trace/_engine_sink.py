"""`trace_engine(engine)`: every decision the engine takes lands on the open `execute_tool` span of
the same tool (or on a new short one) and, when a store is configured, in the decision log."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from railguard.model import Action, Decision
from railguard.trace import _keys as k
from railguard.trace import _state
from railguard.trace._decision_log import DecisionEvent
from railguard.trace._spans import current_tool_call, identity_attributes, set_decision_attributes

if TYPE_CHECKING:
    from railguard.engine import Engine


def record_decision(decision: Decision, action: Action) -> None:
    """The engine sink (also usable on its own for decisions made elsewhere)."""
    recorder = _state.current()
    if not recorder.enabled:
        return
    open_call = current_tool_call()
    if open_call is not None and open_call.name == decision.tool and open_call.span.is_recording():
        span = open_call.span
        open_call.record_decision(decision)
    else:
        attributes = {k.OPERATION: k.OP_TOOL, k.TOOL_NAME: decision.tool}
        if not trace.get_current_span().is_recording():  # a trace of its own: say who acted
            attributes.update(identity_attributes(decision.context))
        if action.call_id:
            attributes[k.TOOL_CALL_ID] = action.call_id
        now = recorder.clock() if recorder.clock is not None else None
        span = recorder.tracer.start_span(
            f"{k.OP_TOOL} {decision.tool}", kind=SpanKind.INTERNAL, attributes=attributes, start_time=now
        )
        set_decision_attributes(span, decision)
        span.end(end_time=now)
    if recorder.submit_decision is not None:
        # The Decision itself is queued (it is immutable): its DecisionV1 record is built, and
        # redacted, and the span's ids spelled in hex, on the decision-log thread, not the agent's.
        ids = span.get_span_context()
        if ids.is_valid:
            recorder.submit_decision(DecisionEvent(decision, ids.trace_id, ids.span_id))
        else:
            recorder.submit_decision(DecisionEvent(decision))


def trace_engine(engine: Engine) -> Callable[[], None]:
    """Subscribe the tracing sink to `engine`; returns the unsubscribe function. The engine already
    swallows and counts sink errors, so tracing can never change a decision."""
    return engine.subscribe(record_decision)
