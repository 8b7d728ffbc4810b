"""Railguard for the OpenAI SDK: trace every `chat.completions.create` and `responses.create` call
and guard the tool calls the model returns before your code runs them.

    client = railguard.integrations.openai.instrument(openai.OpenAI(), engine=engine)
    completion = client.chat.completions.create(model=..., messages=messages, tools=tools)
    if completion.choices[0].message.tool_calls:
        messages += [completion.choices[0].message, *run_tools(engine, completion, {"send_money": pay})]

Works the same with a Responses API `Response` (results come back as `function_call_output`
items). `guard_tool_calls(engine, response)` gives the decisions without running anything.

Streamed calls are traced too (`create(stream=True)` and the `.stream(...)` helpers, sync and
async; the span ends with the stream). Guard a streamed turn on the helpers' final object
(`get_final_completion()`, `get_final_response()`) or on `collect_stream(chunks_or_events)`."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from railguard.integrations import _openai_spans
from railguard.integrations._model_calls import patch, trace_engine_once
from railguard.integrations._model_spans import field
from railguard.integrations._openai_stream import ChatAccumulator, ResponsesAccumulator, accumulator_for
from railguard.integrations._toolcalls import (
    AllowedCall,
    BlockedCall,
    GuardedCalls,
    ResultFormatter,
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
    "chat_tool_messages",
    "collect_stream",
    "guard_tool_calls",
    "instrument",
    "responses_tool_items",
    "run_tools",
    "tool_requests",
]

ClientT = TypeVar("ClientT")


def instrument(client: ClientT, *, engine: Engine | None = None, agent: str | None = None) -> ClientT:
    """Trace `client.chat.completions.create` and `client.responses.create` (an `openai.OpenAI`,
    `AsyncOpenAI`, or the Azure clients) as `chat {model}` spans: tokens, cost, response model,
    finish reasons, errors; streamed calls too (also through the `.stream(...)` helpers), the span
    ending when the stream does. Chat streams report usage only when asked with
    `stream_options={"include_usage": True}`. Returns the same client. `engine`: its decisions are traced too
    (`trace_engine`, once per engine), and each request's system/developer text and new user words are
    recorded on it (`record_system_input` / `record_user_input`, in the enclosing `railguard.run`; tool
    results and resent history are not the user speaking). `agent` names the agent on the spans. Harmless when tracing
    is off; instrumenting twice changes nothing."""
    recorder = recorder_for(engine) if engine is not None else None
    patch(field(field(client, "chat"), "completions"), "create", _openai_spans.CHAT, agent, recorder)
    patch(field(client, "responses"), "create", _openai_spans.RESPONSES, agent, recorder)
    if engine is not None:
        trace_engine_once(engine)
    return client


# -- streams -------------------------------------------------------------------------------------


def collect_stream(events: Iterable[Any]) -> Any:
    """What a stream describes, to `guard_tool_calls` on a streamed turn: for the chunks of
    `chat.completions.create(stream=True)` a ChatCompletion-shaped dict (tool call fragments joined
    into whole calls); for the events of `responses.create(stream=True)` the final Response. Reads
    `events` to the end; pass a list you filled while showing the text to collect after the fact."""
    accumulator: ChatAccumulator | ResponsesAccumulator | None = None
    for event in events:
        accumulator = accumulator or accumulator_for(event)
        accumulator.add(event)
    return _collected(accumulator)


async def acollect_stream(events: AsyncIterable[Any]) -> Any:
    """`collect_stream` for an `AsyncOpenAI` stream."""
    accumulator: ChatAccumulator | ResponsesAccumulator | None = None
    async for event in events:
        accumulator = accumulator or accumulator_for(event)
        accumulator.add(event)
    return _collected(accumulator)


def _collected(accumulator: ChatAccumulator | ResponsesAccumulator | None) -> Any:
    result = accumulator.result() if accumulator is not None else None
    if result is None:
        raise ValueError(
            "the stream ended before its result: no chunks, or no response.completed/incomplete/failed "
            "event (a stream closed early, or events that are not a whole stream)"
        )
    return result


# -- reading tool calls --------------------------------------------------------------------------


def _chat_requests(completion: Any) -> list[ToolCallRequest]:
    choices = field(completion, "choices") or []
    message = field(choices[0], "message") if choices else None  # n>1: the first choice is the one used
    requests = []
    for call in field(message, "tool_calls") or []:
        call_id = str(field(call, "id"))
        if field(call, "type") == "custom":
            custom = field(call, "custom")
            requests.append(
                ToolCallRequest(
                    call_id, str(field(custom, "name")), {"input": field(custom, "input")}, "custom"
                )
            )
        else:
            function = field(call, "function")
            requests.append(
                parse_arguments(str(field(function, "name")), call_id, field(function, "arguments"))
            )
    return requests


def _responses_requests(response: Any) -> list[ToolCallRequest]:
    requests = []
    for item in field(response, "output") or []:
        kind = field(item, "type")
        call_id, name = str(field(item, "call_id")), str(field(item, "name"))
        if kind == "function_call":
            requests.append(parse_arguments(name, call_id, field(item, "arguments")))
        elif kind == "custom_tool_call":
            requests.append(ToolCallRequest(call_id, name, {"input": field(item, "input")}, "custom"))
    return requests


def _is_chat(response: Any) -> bool:
    if field(response, "choices") is not None:
        return True
    if field(response, "output") is not None:
        return False
    raise TypeError(
        f"expected a ChatCompletion or a Responses API Response, got {type(response).__name__}; "
        "pass the object `chat.completions.create` or `responses.create` returned"
    )


def tool_requests(response: Any) -> list[ToolCallRequest]:
    """The tool calls of a ChatCompletion (first choice) or of a Response (SDK objects or dicts)."""
    return _chat_requests(response) if _is_chat(response) else _responses_requests(response)


# -- writing tool results ------------------------------------------------------------------------


def chat_tool_messages(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """One `tool` message per call (Chat Completions has no error flag: the text says it)."""
    return [{"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results]


def responses_tool_items(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """One `function_call_output` (or `custom_tool_call_output`) input item per call."""
    return [
        {
            "type": f"{'custom_tool_call' if r.kind == 'custom' else 'function_call'}_output",
            "call_id": r.call_id,
            "output": r.content,
        }
        for r in results
    ]


def _formatter(response: Any) -> ResultFormatter:
    return chat_tool_messages if _is_chat(response) else responses_tool_items


# -- guarding ------------------------------------------------------------------------------------


def guard_tool_calls(engine: Engine, response: Any) -> GuardedCalls:
    """One decision per tool call (the call id is OpenAI's tool call id, so a retried call gets
    the same decision id; the context is the enclosing `railguard.run(...)`). Arguments that are
    not a valid JSON object are blocked with a message asking the model to resend them."""
    return guard_requests(engine, tool_requests(response), _formatter(response))


async def aguard_tool_calls(engine: Engine, response: Any) -> GuardedCalls:
    """`guard_tool_calls` with the engine's async approval handler."""
    return await aguard_requests(engine, tool_requests(response), _formatter(response))


def run_tools(engine: Engine, response: Any, tools: Mapping[str, Callable[..., Any]]) -> list[dict[str, Any]]:
    """Decide every tool call, run the allowed ones (`tools[name](**args)`, each in an
    `execute_tool` span) and return the result messages/items for all calls, blocked ones carrying
    the reason the model can read."""
    return run_requests(engine, tool_requests(response), tools, _formatter(response))


async def arun_tools(
    engine: Engine, response: Any, tools: Mapping[str, Callable[..., Any]]
) -> list[dict[str, Any]]:
    """`run_tools` for async agents: coroutine tools are awaited."""
    return await arun_requests(engine, tool_requests(response), tools, _formatter(response))
