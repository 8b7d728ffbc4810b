"""Streamed OpenAI calls with the real `openai` client against a local server speaking the Chat
Completions and Responses Server-Sent Events: usage from the final chunk (only with
`stream_options.include_usage`) or the response.completed event, tool call deltas collected into
guardable calls, the `.stream()` helpers, async clients, early exits and errors mid-stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

import railguard as rg
from railguard.engine import Engine
from railguard.integrations import openai as rg_openai
from railguard.store import SpanRow
from railguard.trace import model_call_cost

from .fake_providers import (
    TENANT,
    FakeProvider,
    TracedStore,
    chat_completion,
    chat_stream,
    chat_stream_error,
    chat_tool_call,
    function_call_item,
    output_text_item,
    response_object,
    responses_stream,
)
from .test_openai import POLICY, REQUEST_MODEL, RESPONSE_MODEL

PROMPT: list[Any] = [{"role": "user", "content": "check and pay"}]
CHAT_TURN = chat_completion(
    {
        "content": "Checking, then paying.",
        "tool_calls": [
            chat_tool_call("call_bal", "get_balance", '{"account": "main"}'),
            chat_tool_call("call_pay", "send_money", '{"to": "DE89-1", "amount": 5000}'),
        ],
    },
    finish_reason="tool_calls",
    prompt_tokens=300,
    completion_tokens=50,
    cached_tokens=100,
    reasoning_tokens=20,
)
RESPONSE_TURN = response_object(
    [
        output_text_item("Paying now."),
        function_call_item("call_pay", "send_money", '{"to": "DE1", "amount": 5000}'),
    ],
    input_tokens=200,
    output_tokens=30,
    cached_tokens=50,
)


def sdk(fake: FakeProvider) -> openai.OpenAI:
    return rg_openai.instrument(openai.OpenAI(api_key="k", base_url=f"{fake.url}/v1", max_retries=0))


def chats(store: TracedStore) -> list[SpanRow]:
    return [s for s in store.spans() if s.operation == "chat"]


def assert_chat_usage(chat: SpanRow) -> None:
    assert (chat.input_tokens, chat.output_tokens) == (300, 50)
    assert (chat.cache_read_tokens, chat.reasoning_tokens) == (100, 20)
    assert chat.response_model == RESPONSE_MODEL and chat.request_model == REQUEST_MODEL
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert chat.attributes["railguard.stream.end"] == "completed"
    expected = model_call_cost(
        RESPONSE_MODEL,
        provider="openai",
        input_tokens=300,
        output_tokens=50,
        cache_read_tokens=100,
        reasoning_tokens=20,
    )
    assert expected is not None and chat.cost_usd == pytest.approx(expected.usd)


def test_chat_stream_with_usage_is_traced_and_its_tool_calls_guarded(
    provider: FakeProvider, traced: TracedStore
) -> None:
    answer = chat_stream(CHAT_TURN, include_usage=True)
    answer.hold_after = 2  # the server waits until the client has seen the first chunks

    def turn(body: dict[str, Any]) -> tuple[int, Any]:
        assert body["stream_options"] == {"include_usage": True}  # the request reaches the API unchanged
        return 200, answer

    provider.script(turn)
    engine = Engine.from_yaml(POLICY)
    chunks: list[Any] = []
    with rg.run(agent="payer", tenant=TENANT):
        stream = sdk(provider).chat.completions.create(
            model=REQUEST_MODEL, messages=PROMPT, stream=True, stream_options={"include_usage": True}
        )
        assert isinstance(stream, openai.Stream)
        for chunk in stream:
            answer.resume.set()
            chunks.append(chunk)
        completion = rg_openai.collect_stream(chunks)
        guarded = rg_openai.guard_tool_calls(engine, completion)

    assert len(chunks) == len(answer.events) - 1  # every chunk but [DONE], unchanged
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert completion["choices"][0]["message"] == {"role": "assistant", **CHAT_TURN["choices"][0]["message"]}
    assert [c.args for c in guarded.allowed] == [{"account": "main"}]
    assert [c.call_id for c in guarded.blocked] == ["call_pay"]
    [chat] = chats(traced)
    assert_chat_usage(chat)
    [output] = json.loads(chat.attributes["gen_ai.output.messages"])
    assert output["tool_calls"][1]["function"]["arguments"] == '{"to": "DE89-1", "amount": 5000}'


def test_chat_stream_without_include_usage_has_no_tokens(provider: FakeProvider, traced: TracedStore) -> None:
    provider.script(lambda body: (200, chat_stream(CHAT_TURN, include_usage=False)))
    with rg.run(agent="payer", tenant=TENANT):
        for _ in sdk(provider).chat.completions.create(model=REQUEST_MODEL, messages=PROMPT, stream=True):
            pass
    [chat] = chats(traced)
    assert chat.input_tokens is None and chat.cost_usd is None  # the API sent no usage
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert chat.attributes["railguard.stream.end"] == "completed"


def test_chat_stream_helper_final_completion_and_early_exit(
    provider: FakeProvider, traced: TracedStore
) -> None:
    provider.script(
        lambda body: (200, chat_stream(CHAT_TURN, include_usage=True)),
        lambda body: (200, chat_stream(CHAT_TURN, include_usage=True)),
    )
    engine = Engine.from_yaml(POLICY)
    client = sdk(provider)
    with rg.run(agent="payer", tenant=TENANT):
        with client.chat.completions.stream(
            model=REQUEST_MODEL, messages=PROMPT, stream_options={"include_usage": True}
        ) as stream:
            completion = stream.get_final_completion()
        guarded = rg_openai.guard_tool_calls(engine, completion)
        with client.chat.completions.stream(model=REQUEST_MODEL, messages=PROMPT) as stream:
            next(iter(stream))  # leave after the first event: the helper closes the response

    assert [c.call_id for c in guarded.blocked] == ["call_pay"]
    full, cut = chats(traced)
    assert_chat_usage(full)
    assert cut.attributes["railguard.stream.end"] == "closed" and cut.input_tokens is None


def test_chat_error_mid_stream_propagates_and_marks_the_span(
    provider: FakeProvider, traced: TracedStore
) -> None:
    provider.script(lambda body: (200, chat_stream_error(CHAT_TURN, after=3)))
    received = 0
    with rg.run(agent="payer", tenant=TENANT), pytest.raises(openai.APIError, match="server had an error"):
        for _ in sdk(provider).chat.completions.create(model=REQUEST_MODEL, messages=PROMPT, stream=True):
            received += 1
    assert received == 3
    [chat] = chats(traced)
    assert chat.status == "error" and chat.error_type == "APIError"
    assert chat.attributes["railguard.stream.end"] == "error"


def test_responses_stream_is_traced_and_collected(provider: FakeProvider, traced: TracedStore) -> None:
    provider.script(lambda body: (200, responses_stream(RESPONSE_TURN)))
    engine = Engine.from_yaml(POLICY)
    with rg.run(agent="payer", tenant=TENANT):
        stream = sdk(provider).responses.create(model=REQUEST_MODEL, input="pay DE1", stream=True)
        events = list(stream)
        response = rg_openai.collect_stream(events)
        guarded = rg_openai.guard_tool_calls(engine, response)

    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert isinstance(response, openai.types.responses.Response)
    assert [c.call_id for c in guarded.blocked] == ["call_pay"]
    [chat] = chats(traced)
    assert (chat.input_tokens, chat.output_tokens, chat.cache_read_tokens) == (200, 30, 50)
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["completed"]
    assert chat.attributes["railguard.stream.end"] == "completed"


def test_a_failed_response_event_marks_the_span(provider: FakeProvider, traced: TracedStore) -> None:
    failed = {**RESPONSE_TURN, "status": "failed", "error": {"code": "server_error", "message": "boom"}}
    provider.script(lambda body: (200, responses_stream(failed, final="response.failed")))
    with rg.run(agent="payer", tenant=TENANT):
        # the SDK yields a failure as an event, it does not raise: the caller's loop ends normally
        kinds = [e.type for e in sdk(provider).responses.create(model=REQUEST_MODEL, input="x", stream=True)]
    assert kinds[-1] == "response.failed"
    [chat] = chats(traced)
    assert chat.status == "error" and chat.error_type == "server_error"
    assert chat.attributes["railguard.stream.end"] == "error"


def test_async_chat_stream_and_responses_stream_helper(provider: FakeProvider, traced: TracedStore) -> None:
    provider.script(
        lambda body: (200, chat_stream(CHAT_TURN, include_usage=True)),
        lambda body: (200, responses_stream(RESPONSE_TURN)),
    )

    async def agent() -> tuple[dict[str, Any], Any]:
        client = rg_openai.instrument(
            openai.AsyncOpenAI(api_key="k", base_url=f"{provider.url}/v1", max_retries=0)
        )
        with rg.run(agent="payer", tenant=TENANT):
            stream = await client.chat.completions.create(
                model=REQUEST_MODEL, messages=PROMPT, stream=True, stream_options={"include_usage": True}
            )
            completion = await rg_openai.acollect_stream(stream)
            async with client.responses.stream(model=REQUEST_MODEL, input="pay DE1") as helper:
                response = await helper.get_final_response()
            return completion, response

    completion, response = asyncio.run(agent())
    assert completion["usage"]["prompt_tokens"] == 300
    assert [item.type for item in response.output] == ["message", "function_call"]
    chat, responses = chats(traced)
    assert_chat_usage(chat)
    assert responses.input_tokens == 200 and responses.attributes["railguard.stream.end"] == "completed"
