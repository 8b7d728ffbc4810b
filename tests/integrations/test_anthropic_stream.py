"""Streamed Anthropic calls with the real `anthropic` client against a local server speaking the
Messages API's Server-Sent Events: the span stays open while the caller reads, rebuilds usage and
output from the events, and ends on exhaustion, close, context exit, a dropped stream, or an error."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from typing import Any

import anthropic
import pytest

import railguard as rg
from railguard.engine import Engine
from railguard.integrations import anthropic as rg_anthropic
from railguard.store import SpanRow
from railguard.trace import model_call_cost

from .fake_providers import (
    TENANT,
    FakeProvider,
    TracedStore,
    anthropic_message,
    anthropic_stream,
    anthropic_stream_error,
    error_body,
    text_block,
    tool_use,
)

MODEL = "claude-sonnet-4-6"
POLICY = """
rules:
  - rule: shell/no-root-wipe
    tools: [Bash]
    when: args.command.contains("rm -rf /")
    verdict: block
    message: wiping the filesystem root is never allowed
"""
PROMPT: list[Any] = [{"role": "user", "content": "clean up the build"}]
TOOL_TURN = anthropic_message(
    [
        text_block("Listing first, then cleaning."),
        tool_use("toolu_ls", "Bash", {"command": "ls build"}),
        tool_use("toolu_rm", "Bash", {"command": "rm -rf / --no-preserve-root"}),
    ],
    stop_reason="tool_use",
    input_tokens=100,
    output_tokens=40,
    cache_read=1000,
    cache_write=50,
)


def sdk(fake: FakeProvider) -> anthropic.Anthropic:
    return rg_anthropic.instrument(anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0))


def async_sdk(fake: FakeProvider) -> anthropic.AsyncAnthropic:
    return rg_anthropic.instrument(anthropic.AsyncAnthropic(api_key="k", base_url=fake.url, max_retries=0))


def the_chat(store: TracedStore) -> SpanRow:
    [chat] = [s for s in store.spans() if s.operation == "chat"]
    return chat


def assert_full_tool_turn(chat: SpanRow) -> None:
    # message_start's usage (100 uncached + 1000 read + 50 written) + message_delta's cumulative output
    assert (chat.input_tokens, chat.output_tokens, chat.cache_read_tokens) == (1150, 40, 1000)
    assert chat.attributes["gen_ai.usage.cache_creation.input_tokens"] == 50
    assert chat.response_model == MODEL and chat.name == f"chat {MODEL}"
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["tool_use"]
    assert chat.attributes["railguard.stream.end"] == "completed"
    expected = model_call_cost(
        MODEL, provider="anthropic", input_tokens=1150, output_tokens=40, cache_read_tokens=1000
    )
    assert expected is not None and chat.cost_usd == pytest.approx(expected.usd)
    [output] = json.loads(chat.attributes["gen_ai.output.messages"])
    assert output["content"] == TOOL_TURN["content"]  # text joined, tool input JSON reassembled


def test_create_stream_passes_events_live_and_traces_the_whole_turn(
    provider: FakeProvider, traced: TracedStore
) -> None:
    answer = anthropic_stream(TOOL_TURN)
    answer.hold_after = 2  # the server waits until the client has seen the first events
    provider.script(lambda body: (200, answer))
    engine = Engine.from_yaml(POLICY)
    events: list[Any] = []
    with rg.run(agent="coder", tenant=TENANT):
        stream = sdk(provider).messages.create(model=MODEL, max_tokens=64, messages=PROMPT, stream=True)
        assert isinstance(stream, anthropic.Stream)  # the SDK's own object, not a proxy
        for event in stream:
            answer.resume.set()
            events.append(event)
        guarded = rg_anthropic.guard_tool_calls(engine, rg_anthropic.collect_stream(events))

    sent = [name for name, _ in answer.events if name != "ping"]
    assert [e.type for e in events] == sent  # every event, unchanged and in order
    assert isinstance(events[0], anthropic.types.RawMessageStartEvent)
    assert [c.args for c in guarded.allowed] == [{"command": "ls build"}]
    assert [c.call_id for c in guarded.blocked] == ["toolu_rm"]
    chat = the_chat(traced)
    assert_full_tool_turn(chat)
    assert chat.parent_span_id is not None  # inside the run's invoke_agent span


def test_closing_early_ends_the_span_with_what_was_read(provider: FakeProvider, traced: TracedStore) -> None:
    provider.script(lambda body: (200, anthropic_stream(TOOL_TURN)))
    with rg.run(agent="coder", tenant=TENANT):
        with sdk(provider).messages.create(
            model=MODEL, max_tokens=64, messages=PROMPT, stream=True
        ) as stream:
            for event in stream:
                if event.type == "content_block_delta":
                    break
        left_block_ns = time.time_ns()

    chat = the_chat(traced)
    assert chat.end_ns <= left_block_ns  # ended by the `with` block, not later by the run or the GC
    assert chat.attributes["railguard.stream.end"] == "closed"
    assert chat.input_tokens == 1150 and chat.output_tokens == 1  # message_start's counts so far
    assert "gen_ai.response.finish_reasons" not in chat.attributes
    assert chat.status != "error"


def test_a_dropped_stream_does_not_leak_its_span(provider: FakeProvider, traced: TracedStore) -> None:
    provider.script(
        lambda body: (200, anthropic_stream(TOOL_TURN)), lambda body: (200, anthropic_stream(TOOL_TURN))
    )
    client = sdk(provider)
    with rg.run(agent="coder", tenant=TENANT):
        unread = client.messages.create(model=MODEL, max_tokens=64, messages=PROMPT, stream=True)
        half_read = client.messages.create(model=MODEL, max_tokens=64, messages=PROMPT, stream=True)
        next(iter(half_read))
        del unread, half_read
        gc.collect()

    chats = [s for s in traced.spans() if s.operation == "chat"]
    assert [c.attributes["railguard.stream.end"] for c in chats] == ["abandoned", "abandoned"]
    assert chats[0].input_tokens is None and chats[1].input_tokens == 1150


def test_stream_helper_final_message_is_guarded_and_traced(
    provider: FakeProvider, traced: TracedStore
) -> None:
    provider.script(lambda body: (200, anthropic_stream(TOOL_TURN)))
    engine = Engine.from_yaml(POLICY)
    with rg.run(agent="coder", tenant=TENANT):
        with sdk(provider).messages.stream(model=MODEL, max_tokens=64, messages=PROMPT) as stream:
            texts = list(stream.text_stream)
            message = stream.get_final_message()
        guarded = rg_anthropic.guard_tool_calls(engine, message)

    assert "".join(texts) == "Listing first, then cleaning."
    assert [c.call_id for c in guarded.allowed] == ["toolu_ls"]
    assert [c.call_id for c in guarded.blocked] == ["toolu_rm"]
    assert_full_tool_turn(the_chat(traced))


def test_error_event_mid_stream_propagates_and_marks_the_span(
    provider: FakeProvider, traced: TracedStore
) -> None:
    provider.script(lambda body: (200, anthropic_stream_error(TOOL_TURN, after=4)))
    received: list[str] = []
    with rg.run(agent="coder", tenant=TENANT), pytest.raises(anthropic.APIStatusError) as raised:
        for event in sdk(provider).messages.create(model=MODEL, max_tokens=64, messages=PROMPT, stream=True):
            received.append(event.type)
    assert "overloaded_error" in str(raised.value)
    assert received == ["message_start", "content_block_start", "content_block_delta"]

    chat = the_chat(traced)
    assert chat.status == "error" and chat.error_type == type(raised.value).__qualname__
    assert chat.attributes["railguard.stream.end"] == "error"
    assert chat.input_tokens == 1150  # what the stream said before failing


def test_an_http_error_before_the_stream_marks_the_span(provider: FakeProvider, traced: TracedStore) -> None:
    provider.script(lambda body: (529, error_body("overloaded", "overloaded_error")))
    with rg.run(agent="coder", tenant=TENANT), pytest.raises(anthropic.APIStatusError):
        sdk(provider).messages.create(model=MODEL, max_tokens=64, messages=PROMPT, stream=True)
    chat = the_chat(traced)
    assert chat.status == "error" and chat.attributes["http.response.status_code"] == 529


def test_async_create_stream_and_stream_helper(provider: FakeProvider, traced: TracedStore) -> None:
    provider.script(
        lambda body: (200, anthropic_stream(TOOL_TURN)),
        lambda body: (200, anthropic_stream(TOOL_TURN)),
    )

    async def agent() -> tuple[dict[str, Any], list[str]]:
        client = async_sdk(provider)
        with rg.run(agent="coder", tenant=TENANT):
            stream = await client.messages.create(model=MODEL, max_tokens=64, messages=PROMPT, stream=True)
            collected = await rg_anthropic.acollect_stream(stream)
            seen: list[str] = []
            async with client.messages.stream(model=MODEL, max_tokens=64, messages=PROMPT) as helper:
                async for event in helper:
                    seen.append(event.type)
                    if event.type == "text":
                        break  # leave the block early: the span ends with it
            return collected, seen

    collected, seen = asyncio.run(agent())
    assert collected["content"] == TOOL_TURN["content"] and collected["stop_reason"] == "tool_use"
    assert seen[-1] == "text"
    first, second = [s for s in traced.spans() if s.operation == "chat"]
    assert_full_tool_turn(first)
    assert second.attributes["railguard.stream.end"] == "closed" and second.input_tokens == 1150


def test_streams_without_tracing_are_untouched(provider: FakeProvider) -> None:
    provider.script(lambda body: (200, anthropic_stream(TOOL_TURN)))
    stream = sdk(provider).messages.create(model=MODEL, max_tokens=64, messages=PROMPT, stream=True)
    assert "close" not in vars(stream.response)  # no hook when there is no span to end
    message = rg_anthropic.collect_stream(stream)
    assert message["usage"]["output_tokens"] == 40 and message["content"][1]["input"] == {
        "command": "ls build"
    }
