"""SpanRow.from_otel: the three attribute conventions map onto the same columns."""

from __future__ import annotations

from typing import Any

import pytest

from railguard.store import SpanRow


def _row(attributes: dict[str, Any], *, parent: str | None = "p", **overrides: Any) -> SpanRow:
    fields: dict[str, Any] = {
        "trace_id": "t",
        "span_id": "s",
        "parent_span_id": parent,
        "name": "n",
        "kind": "internal",
        "start_ns": 1,
        "end_ns": 2,
        "status": "ok",
        "status_message": None,
        "attributes": attributes,
        "resource": {"service.name": "checkout", "service.version": "1.4.2"},
        "events": [],
    }
    return SpanRow.from_otel(**(fields | overrides))


def test_gen_ai_semantic_conventions() -> None:
    row = _row(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-x",
            "gen_ai.response.model": "claude-x-2025",
            "gen_ai.usage.input_tokens": 11,
            "gen_ai.usage.output_tokens": "7",  # OTLP JSON sends ints as strings
            "gen_ai.usage.cache_read.input_tokens": 3,
            "gen_ai.usage.reasoning.output_tokens": 2,
            "gen_ai.conversation.id": "conv-1",
            "gen_ai.agent.name": "support",
            "error.type": "RateLimitError",
            "railguard.tenant": "acme",
            "railguard.agent.version": "v9",
            "railguard.verdict": "ask",
            "railguard.decision_id": "d1",
            "railguard.rules": ("a", "b"),
            "railguard.cost.usd": 0.25,
            "railguard.price.version": "2025-06",
        }
    )
    assert (row.operation, row.provider, row.request_model, row.response_model) == (
        "chat",
        "anthropic",
        "claude-x",
        "claude-x-2025",
    )
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.reasoning_tokens) == (11, 7, 3, 2)
    assert (row.session, row.agent, row.tenant, row.agent_version) == ("conv-1", "support", "acme", "v9")
    assert (row.verdict, row.decision_id, row.rules, row.error_type) == ("ask", "d1", "a,b", "RateLimitError")
    assert (row.cost_usd, row.price_version, row.service) == (0.25, "2025-06", "checkout")


def test_legacy_gen_ai_system_and_tool_call() -> None:
    row = _row({"gen_ai.system": "openai", "gen_ai.tool.name": "search", "gen_ai.tool.call.id": "call_1"})
    assert (row.provider, row.tool_name, row.tool_call_id) == ("openai", "search", "call_1")
    assert row.agent_version == "1.4.2"  # from resource service.version when no explicit version


@pytest.mark.parametrize(
    ("kind", "parent", "operation"),
    [
        ("LLM", "p", "chat"),
        ("TOOL", "p", "execute_tool"),
        ("AGENT", "p", "invoke_agent"),
        ("CHAIN", None, "invoke_agent"),
        ("CHAIN", "p", None),
    ],
)
def test_openinference_span_kinds(kind: str, parent: str | None, operation: str | None) -> None:
    assert _row({"openinference.span.kind": kind}, parent=parent).operation == operation


def test_openinference_attributes() -> None:
    row = _row(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-x",
            "llm.provider": "openai",
            "llm.token_count.prompt": 40,
            "llm.token_count.completion": 9,
            "llm.token_count.total": 49,
            "session.id": "sess",
            "user.id": "ana",
        }
    )
    assert (row.request_model, row.response_model, row.provider) == ("gpt-x", "gpt-x", "openai")
    assert (row.input_tokens, row.output_tokens, row.session) == (40, 9, "sess")
    assert row.attributes["user.id"] == "ana"  # kept, though it has no column


def test_openllmetry_attributes() -> None:
    llm = _row(
        {"llm.request.type": "chat", "gen_ai.usage.prompt_tokens": 5, "gen_ai.usage.completion_tokens": 6}
    )
    assert (llm.operation, llm.input_tokens, llm.output_tokens) == ("chat", 5, 6)
    tool = _row({"traceloop.span.kind": "tool", "traceloop.entity.name": "lookup"})
    assert (tool.operation, tool.tool_name) == ("execute_tool", "lookup")
    workflow = _row({"traceloop.span.kind": "workflow", "traceloop.workflow.name": "triage"}, parent=None)
    assert (workflow.operation, workflow.agent) == ("invoke_agent", "triage")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [(3, "client"), ("SPAN_KIND_SERVER", "server"), ("INTERNAL", "internal"), (99, "unspecified")],
)
def test_kinds(kind: Any, expected: str) -> None:
    assert _row({}, kind=kind).kind == expected


@pytest.mark.parametrize(
    ("status", "expected"), [(2, "error"), ("STATUS_CODE_OK", "ok"), ("ERROR", "error"), (None, "unset")]
)
def test_statuses(status: Any, expected: str) -> None:
    assert _row({}, status=status).status == expected


def test_sdk_enums_are_accepted_by_name() -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    row = _row({}, kind=SpanKind.CLIENT, status=StatusCode.ERROR)
    assert (row.kind, row.status) == ("client", "error")


def test_malformed_numbers_are_ignored_not_fatal() -> None:
    row = _row({"gen_ai.usage.input_tokens": "many", "llm.token_count.prompt": 4, "railguard.cost.usd": "?"})
    assert (row.input_tokens, row.cost_usd) == (4, None)
