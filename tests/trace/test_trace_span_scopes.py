"""The span scopes the recorder opens on the agent's thread: the current span and the open tool call
are set for exactly the `with` block (also when it raises), and a decision's record reaches the store
(built and redacted on the decision-log thread) as the decision and its span say."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, format_trace_id
from trace_fakes import BLOCKING_POLICY

from railguard._scope import run
from railguard.engine import Engine
from railguard.model import Action
from railguard.store import open_store
from railguard.trace import Tracing, configure_tracing, model_call, tool_call, trace_engine
from railguard.trace._spans import current_tool_call


def test_the_current_span_and_tool_call_are_restored_after_each_block(
    traced: Tracing, memory: InMemorySpanExporter
) -> None:
    with run(agent="support"):
        outer = trace.get_current_span()
        with tool_call("lookup", call_id="c1") as call:
            assert trace.get_current_span() is call.span
            assert current_tool_call() is call
            with model_call("openai", "gpt-4o") as chat:
                assert trace.get_current_span() is chat.span
            assert trace.get_current_span() is call.span
        assert trace.get_current_span() is outer
        assert current_tool_call() is None
    assert traced.flush()
    spans = {s.name: s for s in memory.get_finished_spans()}
    tool, chat_span = spans["execute_tool lookup"], spans["chat gpt-4o"]
    assert tool.context is not None and chat_span.parent is not None
    assert chat_span.parent.span_id == tool.context.span_id
    assert tool.end_time is not None and chat_span.end_time is not None


def test_an_error_in_the_block_propagates_unchanged_and_leaves_no_span_current(
    traced: Tracing, memory: InMemorySpanExporter
) -> None:
    error = ValueError("bad input")
    with pytest.raises(ValueError) as raised, tool_call("parse"):
        raise error
    assert raised.value is error
    assert not trace.get_current_span().is_recording()
    assert current_tool_call() is None
    assert traced.flush()
    (span,) = memory.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "ValueError"


def test_an_interrupt_ends_the_span_without_marking_it_failed(
    traced: Tracing, memory: InMemorySpanExporter
) -> None:
    with pytest.raises(KeyboardInterrupt), tool_call("wait"):
        raise KeyboardInterrupt
    assert traced.flush()
    (span,) = memory.get_finished_spans()
    assert span.end_time is not None
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in dict(span.attributes or {})


def test_the_stored_decision_record_matches_the_decision_and_its_span(tmp_path: Path) -> None:
    engine = Engine.from_yaml(BLOCKING_POLICY)
    unsubscribe = trace_engine(engine)
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    tracing = configure_tracing(url, service_name="test-agent")
    try:
        with run(agent="support", tenant="acme"), tool_call("send_email", call_id="c9") as call:
            decision = engine.check(Action("send_email", {"to": "x@evil.example"}, call_id="c9"))
            assert call.span.is_recording()
        assert tracing.flush()
    finally:
        unsubscribe()
        tracing.shutdown()
    with open_store(url) as store:
        (record,) = store.list_decisions(tenant="acme")
        (tool_span,) = [
            s
            for s in store.get_trace(format_trace_id(call.span.get_span_context().trace_id), tenant="acme")
            if s.tool_name == "send_email"
        ]
    assert record["decision_id"] == decision.decision_id == tool_span.decision_id
    assert record["verdict"] == "block" == tool_span.verdict
    assert record["rules"] == ["mail/external"]
    # The record names the span it was recorded on, and is the first event of its decision.
    assert (record["trace_id"], record["span_id"]) == (tool_span.trace_id, tool_span.span_id)
    assert record["seq"] == 1
    assert len(record["event_id"]) == 32
    # the action's arguments are kept for backtests, redacted like the rest of the record
    assert record["action_args"] == {"to": "[redacted:email]"}
    assert record["masked"] == [
        {"path": "action_args.to", "kind": "email"}
    ]  # what was masked, never the value
    ids = ("context", "event_id", "seq", "trace_id", "span_id", "action_args", "masked")
    assert record == {**decision.to_record(), **{key: record[key] for key in ids}}
    assert record["context"]["tenant"] == "acme"
