"""Building realistic spans for store tests."""

from __future__ import annotations

from typing import Any

from railguard.store import SpanRow

SECOND = 1_000_000_000
BASE_NS = 1_700_000_000 * SECOND


def span(
    trace_id: str,
    span_id: str,
    parent: str | None = None,
    *,
    start_s: float = 0.0,
    duration_s: float = 1.0,
    status: str = "ok",
    **attributes: Any,
) -> SpanRow:
    """A span `start_s` seconds after BASE_NS; keyword attributes use '__' for '.'
    (gen_ai__operation__name='chat')."""
    start_ns = BASE_NS + int(start_s * SECOND)
    return SpanRow.from_otel(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=f"span {span_id}",
        kind="internal",
        start_ns=start_ns,
        end_ns=start_ns + int(duration_s * SECOND),
        status=status,
        status_message=None,
        attributes={k.replace("__", "."): v for k, v in attributes.items()},
        resource={"service.name": "svc"},
        events=[],
    )


def agent_run(
    trace_id: str, *, tenant: str, agent: str = "support", session: str | None = None, start_s: float = 0.0
) -> list[SpanRow]:
    """A root agent span with identity only on the root, one chat, one allowed and one blocked tool call."""
    root = span(
        trace_id,
        f"{trace_id}-root",
        start_s=start_s,
        duration_s=10,
        gen_ai__operation__name="invoke_agent",
        gen_ai__agent__name=agent,
        railguard__tenant=tenant,
        **({"railguard__session": session} if session else {}),
    )
    chat = span(
        trace_id,
        f"{trace_id}-chat",
        root.span_id,
        start_s=start_s + 1,
        gen_ai__operation__name="chat",
        gen_ai__usage__input_tokens=100,
        gen_ai__usage__output_tokens=20,
        railguard__cost__usd=0.01,
    )
    tool_ok = span(
        trace_id,
        f"{trace_id}-tool1",
        root.span_id,
        start_s=start_s + 2,
        duration_s=0.5,
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="search",
        railguard__verdict="allow",
    )
    tool_blocked = span(
        trace_id,
        f"{trace_id}-tool2",
        root.span_id,
        start_s=start_s + 3,
        duration_s=0.1,
        status="error",
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="shell",
        railguard__verdict="block",
        railguard__rules=["no-rm", "no-sudo"],
    )
    return [root, chat, tool_ok, tool_blocked]
