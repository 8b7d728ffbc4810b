"""Railguard for the Anthropic SDK: trace every `messages.create` call and guard the tool calls
Claude returns before your code runs them.

    client = railguard.integrations.anthropic.instrument(anthropic.Anthropic(), engine=engine)
    response = client.messages.create(model=..., messages=messages, tools=tools, max_tokens=1024)
    if response.stop_reason == "tool_use":
        messages += [{"role": "assistant", "content": response.content},
                     *run_tools(engine, response, {"Bash": bash, "read_file": read_file})]

`guard_tool_calls(engine, response)` gives the decisions without running anything
(`.allowed`, `.blocked`, `.tool_results({call_id: result})`).

Streamed calls are traced too: `messages.create(stream=True)` and `messages.stream(...)`, sync and
async; the span ends with the stream. Guard a streamed turn on `stream.get_final_message()`, or on
`collect_stream(events)` for the raw events of `create(stream=True)`."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from railguard.integrations import _anthropic_spans
from railguard.integrations._anthropic_stream import MessageAccumulator
from railguard.integrations._model_calls import patch, patch_stream_helper, trace_engine_once
from railguard.integrations._model_spans import field
from railguard.integrations._toolcalls import (
    AllowedCall,
    BlockedCall,
    GuardedCalls,
    ToolCallRequest,
    ToolResult,
    aguard_requests,
    arun_requests,
    guard_requests,
    parse_arguments,
    run_requests,
)
from railguard.integrations._user_words import recorder_for

if TYPE_CHECKING:
    from railguard.engine import Engine

__all__ = [
    "AllowedCall",
    "BlockedCall",
    "GuardedCalls",
    "acollect_stream",
    "aguard_tool_calls",
    "arun_tools",
    "collect_stream",
    "guard_tool_calls",
    "instrument",
    "run_tools",
    "tool_requests",
    "tool_result_messages",
]

ClientT = TypeVar("ClientT")


def instrument(client: ClientT, *, engine: Engine | None = None, agent: str | None = None) -> ClientT:
    """Trace `client.messages.create` and `client.messages.stream` (an `anthropic.Anthropic` or
    `AsyncAnthropic`) as `chat {model}` spans: tokens, cost, response model, stop reason, errors.
    A streamed call's span ends when its stream does (read to the end, closed, dropped, or failed).
    Returns the same client. `engine`: its decisions are traced too (`trace_engine`, once per
    engine), and each request's system prompt and new user words are recorded on it
    (`record_system_input` / `record_user_input`, in the enclosing `railguard.run`; tool results and
    resent history are not the user speaking). `agent` names the agent on the spans. Harmless when tracing is off; instrumenting twice
    changes nothing."""
    messages = field(client, "messages")
    recorder = recorder_for(engine) if engine is not None else None
    patch(messages, "create", _anthropic_spans.MESSAGES, agent, recorder)
    patch_stream_helper(messages, "stream", _anthropic_spans.MESSAGES, agent, recorder)
    if engine is not None:
        trace_engine_once(engine)
    return client


def tool_requests(response: Any) -> list[ToolCallRequest]:
    """The `tool_use` blocks of a Message (an SDK object or its JSON as a dict)."""
    requests = []
    for block in field(response, "content") or []:
        if field(block, "type") == "tool_use":
            requests.append(
                parse_arguments(str(field(block, "name")), str(field(block, "id")), field(block, "input"))
            )
    return requests


def collect_stream(events: Iterable[Any]) -> dict[str, Any]:
    """The Message (as a dict, the shape `messages.create` returns) that the raw events of
    `messages.create(stream=True)` describe, e.g. to `guard_tool_calls` on a streamed turn. Reads
    `events` to the end; pass a list you filled while showing the text to collect after the fact."""
    accumulator = MessageAccumulator()
    for event in events:
        accumulator.add(event)
    return _collected(accumulator)


async def acollect_stream(events: AsyncIterable[Any]) -> dict[str, Any]:
    """`collect_stream` for an `AsyncAnthropic` stream."""
    accumulator = MessageAccumulator()
    async for event in events:
        accumulator.add(event)
    return _collected(accumulator)


def _collected(accumulator: MessageAccumulator) -> dict[str, Any]:
    message = accumulator.result()
    if message is None:
        raise ValueError(
            "the stream had no message_start event: pass the events of `messages.create(stream=True)`"
        )
    return message


def tool_result_messages(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """All results in ONE user message: Anthropic expects every tool_result of a turn together."""
    if not results:
        return []
    blocks: list[dict[str, Any]] = []
    for result in results:
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": result.call_id,
            "content": result.content,
        }
        if result.is_error:
            block["is_error"] = True
        blocks.append(block)
    return [{"role": "user", "content": blocks}]


def guard_tool_calls(engine: Engine, response: Any) -> GuardedCalls:
    """One decision per tool call of `response` (the call id is Claude's `tool_use` id, so a retried
    call gets the same decision id; the context is the enclosing `railguard.run(...)`)."""
    return guard_requests(engine, tool_requests(response), tool_result_messages)


async def aguard_tool_calls(engine: Engine, response: Any) -> GuardedCalls:
    """`guard_tool_calls` with the engine's async approval handler."""
    return await aguard_requests(engine, tool_requests(response), tool_result_messages)


def run_tools(engine: Engine, response: Any, tools: Mapping[str, Callable[..., Any]]) -> list[dict[str, Any]]:
    """Decide every tool call, run the allowed ones (`tools[name](**args)`, each in an
    `execute_tool` span) and return the user message with all tool results, blocked ones as
    `is_error` results the model can read."""
    return run_requests(engine, tool_requests(response), tools, tool_result_messages)


async def arun_tools(
    engine: Engine, response: Any, tools: Mapping[str, Callable[..., Any]]
) -> list[dict[str, Any]]:
    """`run_tools` for async agents: coroutine tools are awaited."""
    return await arun_requests(engine, tool_requests(response), tools, tool_result_messages)
