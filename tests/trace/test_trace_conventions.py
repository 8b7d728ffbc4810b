"""Span names, attribute keys and nesting by the gen_ai conventions, and their mapping onto store columns."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from trace_fakes import BLOCKING_POLICY

from railguard._scope import run
from railguard.engine import Engine
from railguard.errors import GuardBlocked
from railguard.model import Action
from railguard.trace import Tracing, model_call, record_confidence, span_to_row, tool_call, trace_engine


def _finished(tracing: Tracing, memory: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    assert tracing.flush()
    return {span.name: span for span in memory.get_finished_spans()}


def test_run_model_and_tool_spans_follow_the_conventions(
    traced: Tracing, memory: InMemorySpanExporter, engine: Engine
) -> None:
    with run(agent="support", tenant="acme", user="u-17", session="conv-9", labels={"agent.version": "1.4"}):
        with model_call("openai", "gpt-4o", conversation_id="conv-9") as call:
            call.record_usage(
                input_tokens=1000,
                output_tokens=200,
                cache_read_tokens=400,
                reasoning_tokens=50,
                response_model="gpt-4o-2024-08-06",
            )
        with tool_call("send_email", call_id="call_1", args={"to": "x@corp.example.com"}):
            engine.check(Action("send_email", {"to": "x@corp.example.com"}, call_id="call_1"))
            record_confidence(0.75)
    spans = _finished(traced, memory)
    assert set(spans) == {"invoke_agent support", "chat gpt-4o", "execute_tool send_email"}
    root, chat, tool = spans["invoke_agent support"], spans["chat gpt-4o"], spans["execute_tool send_email"]
    assert root.parent is None
    assert root.context is not None and chat.parent is not None and tool.parent is not None
    assert chat.parent.span_id == root.context.span_id == tool.parent.span_id
    assert dict(root.attributes or {}) | {"railguard.run": "-"} == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "support",
        "gen_ai.conversation.id": "conv-9",
        "railguard.tenant": "acme",
        "railguard.session": "conv-9",
        "railguard.user": traced.policy.hash_identifier("u-17"),
        "railguard.agent.version": "1.4",
        "railguard.run": "-",
    }
    chat_attrs = dict(chat.attributes or {})
    assert {k: chat_attrs[k] for k in chat_attrs if k.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.conversation.id": "conv-9",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
        "gen_ai.usage.cache_read.input_tokens": 400,
        "gen_ai.usage.reasoning.output_tokens": 50,
    }
    assert isinstance(chat_attrs["railguard.cost.usd"], float) and chat_attrs["railguard.cost.usd"] > 0
    assert str(chat_attrs["railguard.price.version"]).startswith("genai-prices@")
    tool_attrs = dict(tool.attributes or {})
    assert tool_attrs["gen_ai.operation.name"] == "execute_tool"
    assert tool_attrs["gen_ai.tool.name"] == "send_email"
    assert tool_attrs["gen_ai.tool.call.id"] == "call_1"
    assert tool_attrs["railguard.verdict"] == "allow"
    assert tool_attrs["railguard.mode"] == "enforce"
    assert tool_attrs["railguard.policy.revision"] == engine.policy.revision
    assert tool_attrs["railguard.decision_id"]
    assert tool_attrs["railguard.confidence"] == 0.75
    assert [e.name for e in tool.events] == ["railguard.confidence"]
    assert "railguard.would_verdict" not in tool_attrs


def test_store_columns_are_filled_from_the_spans(
    traced: Tracing, memory: InMemorySpanExporter, engine: Engine
) -> None:
    with run(agent="support", tenant="acme", session="s1"):
        with model_call("anthropic", "claude-sonnet-4-5") as call:
            call.record_usage(input_tokens=500, output_tokens=40, cache_read_tokens=100)
        with pytest.raises(GuardBlocked):
            engine.guard(lambda to: "sent", name="send_email")(to="eve@evil.example.net")
    rows = {row.name: row for row in (span_to_row(s) for s in _finished(traced, memory).values())}
    chat, tool, root = (
        rows["chat claude-sonnet-4-5"],
        rows["execute_tool send_email"],
        rows["invoke_agent support"],
    )
    assert (root.operation, root.tenant, root.agent, root.session, root.parent_span_id) == (
        "invoke_agent",
        "acme",
        "support",
        "s1",
        None,
    )
    assert (chat.operation, chat.provider, chat.request_model, chat.input_tokens, chat.cache_read_tokens) == (
        "chat",
        "anthropic",
        "claude-sonnet-4-5",
        500,
        100,
    )
    assert chat.cost_usd is not None and chat.price_version is not None
    assert (tool.operation, tool.tool_name, tool.verdict, tool.rules, tool.error_type) == (
        "execute_tool",
        "send_email",
        "block",
        "mail/external",
        "GuardBlocked",
    )
    assert tool.status == "unset"  # a block is the guard working, not the step failing
    assert tool.decision_id and tool.end_ns >= tool.start_ns


def test_audit_mode_records_the_would_be_verdict(traced: Tracing, memory: InMemorySpanExporter) -> None:
    audit = Engine.from_yaml(BLOCKING_POLICY, mode="audit")
    trace_engine(audit)
    with tool_call("send_email"):
        decision = audit.check(Action("send_email", {"to": "eve@evil.example.net"}))
    assert decision.verdict.value == "allow"
    attrs = dict(_finished(traced, memory)["execute_tool send_email"].attributes or {})
    assert (attrs["railguard.verdict"], attrs["railguard.would_verdict"], attrs["railguard.mode"]) == (
        "allow",
        "block",
        "audit",
    )


def test_a_decision_outside_a_tool_span_gets_its_own_short_span(
    traced: Tracing, memory: InMemorySpanExporter, engine: Engine
) -> None:
    with tool_call("other_tool"):  # open, but for another tool: the decision must not land here
        engine.check(Action("send_email", {"to": "eve@evil.example.net"}, call_id="c9"))
    spans = _finished(traced, memory)
    assert "railguard.verdict" not in dict(spans["execute_tool other_tool"].attributes or {})
    short = dict(spans["execute_tool send_email"].attributes or {})
    assert (short["railguard.verdict"], short["gen_ai.tool.call.id"], short["railguard.rules"]) == (
        "block",
        "c9",
        ("mail/external",),
    )


def test_tool_errors_set_error_type_and_status(traced: Tracing, memory: InMemorySpanExporter) -> None:
    with pytest.raises(KeyError), tool_call("lookup"):
        raise KeyError("missing")
    span = _finished(traced, memory)["execute_tool lookup"]
    assert dict(span.attributes or {})["error.type"] == "KeyError"
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


def test_without_configuration_nothing_is_recorded(memory: InMemorySpanExporter) -> None:
    with run(agent="a"), model_call("openai", "gpt-4o") as call, tool_call("t") as tool:
        assert call.record_usage(input_tokens=10, output_tokens=1) is None
        tool.record_result("x")
        record_confidence(0.1)
    assert memory.get_finished_spans() == ()
