"""The OpenAI integration with the real `openai` client against a local server speaking Chat
Completions and Responses: multi-turn tool loops where the guard blocks a call (and a call with
malformed JSON arguments) and the model reads why, spans in a real SQLite store, async clients,
and API errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

import railguard as rg
from railguard.engine import Engine
from railguard.integrations import openai as rg_openai
from railguard.model import Verdict
from railguard.trace import model_call_cost

from .fake_providers import (
    TENANT,
    FakeProvider,
    TracedStore,
    chat_completion,
    chat_tool_call,
    error_body,
    function_call_item,
    output_text_item,
    response_object,
)

POLICY = """
rules:
  - rule: payments/limit
    tools: [send_money]
    when: args.amount > 1000
    verdict: block
    message: payments over 1000 need another way
"""
REQUEST_MODEL = "gpt-4o"
RESPONSE_MODEL = "gpt-4o-2024-08-06"


@pytest.fixture
def engine() -> Engine:
    return Engine.from_yaml(POLICY)


def client(fake: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(api_key="test-key", base_url=f"{fake.url}/v1", max_retries=0)


class Bank:
    """The agent's tools; records what actually ran."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []

    def get_balance(self, account: str) -> dict[str, Any]:
        self.ran.append(("get_balance", {"account": account}))
        return {"account": account, "balance": 1200}

    def send_money(self, to: str, amount: int) -> str:
        self.ran.append(("send_money", {"to": to, "amount": amount}))
        return "sent"

    def tools(self) -> dict[str, Callable[..., Any]]:
        return {"get_balance": self.get_balance, "send_money": self.send_money}


# -- Chat Completions ----------------------------------------------------------------------------


def chat_turn_1(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert body["model"] == REQUEST_MODEL and body["messages"][-1]["content"] == "pay the rent"
    calls = [
        chat_tool_call("call_bal", "get_balance", json.dumps({"account": "main"})),
        chat_tool_call("call_pay", "send_money", json.dumps({"to": "DE89-1", "amount": 5000})),
        chat_tool_call("call_bad", "send_money", '{"to": "DE89-1", "amount": }'),
    ]
    message = {"content": None, "tool_calls": calls}
    return 200, chat_completion(
        message,
        finish_reason="tool_calls",
        model=RESPONSE_MODEL,
        prompt_tokens=1200,
        cached_tokens=1000,
        completion_tokens=300,
        reasoning_tokens=200,
    )


def chat_turn_2(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assistant, *results = body["messages"][1:]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_bal", "call_pay", "call_bad"]
    assert [(r["role"], r["tool_call_id"]) for r in results] == [
        ("tool", "call_bal"),
        ("tool", "call_pay"),
        ("tool", "call_bad"),
    ]
    balance, blocked, malformed = (r["content"] for r in results)
    assert json.loads(balance) == {"account": "main", "balance": 1200}
    assert "blocked" in blocked and "payments over 1000 need another way" in blocked
    assert "not valid JSON" in malformed and "line 1 column" in malformed
    assert "integration/malformed-arguments" in malformed
    return 200, chat_completion({"content": "The rent is too high to pay here."}, finish_reason="stop")


def test_chat_tool_loop_blocks_a_payment_and_a_malformed_call(
    provider: FakeProvider, traced: TracedStore, engine: Engine
) -> None:
    provider.script(chat_turn_1, chat_turn_2)
    sdk = rg_openai.instrument(client(provider), engine=engine, agent="treasurer")
    bank = Bank()
    messages: list[Any] = [{"role": "user", "content": "pay the rent"}]
    with rg.run(agent="treasurer", tenant=TENANT):
        while True:
            completion = sdk.chat.completions.create(model=REQUEST_MODEL, messages=messages)
            message = completion.choices[0].message
            if not message.tool_calls:
                break
            messages.append(message.model_dump(exclude_none=True))
            messages.extend(rg_openai.run_tools(engine, completion, bank.tools()))

    assert bank.ran == [("get_balance", {"account": "main"})]
    assert message.content == "The rent is too high to pay here."

    spans = traced.spans()
    first, second = (s for s in spans if s.operation == "chat")
    assert first.provider == "openai" and first.request_model == REQUEST_MODEL
    assert first.response_model == RESPONSE_MODEL  # the version that actually answered
    # prompt_tokens includes the cached ones, completion_tokens the reasoning ones: taken as they are
    assert (first.input_tokens, first.cache_read_tokens) == (1200, 1000)
    assert (first.output_tokens, first.reasoning_tokens) == (300, 200)
    expected = model_call_cost(
        RESPONSE_MODEL,
        provider="openai",
        input_tokens=1200,
        output_tokens=300,
        cache_read_tokens=1000,
        reasoning_tokens=200,
    )
    assert expected is not None and first.cost_usd == pytest.approx(expected.usd)
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert second.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    verdicts = {s.tool_call_id: s.verdict for s in spans if s.operation == "execute_tool"}
    assert verdicts == {"call_bal": "allow", "call_pay": "block", "call_bad": "block"}


def test_guard_tool_calls_on_a_chat_completion(provider: FakeProvider, engine: Engine) -> None:
    provider.script(chat_turn_1)
    completion = client(provider).chat.completions.create(
        model=REQUEST_MODEL, messages=[{"role": "user", "content": "pay the rent"}]
    )
    with rg.run(tenant=TENANT):
        guarded = rg_openai.guard_tool_calls(engine, completion)
    assert [(c.call_id, c.args) for c in guarded.allowed] == [("call_bal", {"account": "main"})]
    assert [(b.call_id, b.decision.verdict) for b in guarded.blocked] == [
        ("call_pay", Verdict.BLOCK),
        ("call_bad", Verdict.BLOCK),
    ]
    assert guarded.blocked[1].decision.rules == ("integration/malformed-arguments",)
    messages = guarded.tool_results({"call_bal": "1200 EUR"})
    assert messages[0] == {"role": "tool", "tool_call_id": "call_bal", "content": "1200 EUR"}


# -- Responses API -------------------------------------------------------------------------------


def responses_turn_1(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert body["input"] == "pay the rent"
    output = [
        function_call_item("fc_bal", "get_balance", json.dumps({"account": "main"})),
        function_call_item("fc_pay", "send_money", json.dumps({"to": "DE89-1", "amount": 2500})),
    ]
    return 200, response_object(
        output,
        model=RESPONSE_MODEL,
        input_tokens=900,
        cached_tokens=512,
        output_tokens=120,
        reasoning_tokens=64,
    )


def responses_turn_2(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    outputs = [item for item in body["input"] if item.get("type") == "function_call_output"]
    assert [o["call_id"] for o in outputs] == ["fc_bal", "fc_pay"]
    assert json.loads(outputs[0]["output"])["balance"] == 1200
    assert "blocked" in outputs[1]["output"] and "payments over 1000" in outputs[1]["output"]
    calls = [item for item in body["input"] if item.get("type") == "function_call"]
    assert [c["call_id"] for c in calls] == ["fc_bal", "fc_pay"]  # the model's own calls went back too
    return 200, response_object([output_text_item("I could not pay; the amount is over the limit.")])


def test_responses_api_tool_loop(provider: FakeProvider, traced: TracedStore, engine: Engine) -> None:
    provider.script(responses_turn_1, responses_turn_2)
    sdk = rg_openai.instrument(client(provider), engine=engine)
    bank = Bank()
    with rg.run(agent="treasurer", tenant=TENANT):
        response = sdk.responses.create(model=REQUEST_MODEL, input="pay the rent")
        follow_up: list[Any] = [item.model_dump(exclude_none=True) for item in response.output]
        follow_up += rg_openai.run_tools(engine, response, bank.tools())
        final = sdk.responses.create(model=REQUEST_MODEL, input=follow_up)

    assert final.output_text == "I could not pay; the amount is over the limit."
    assert bank.ran == [("get_balance", {"account": "main"})]
    first = next(s for s in traced.spans() if s.operation == "chat")
    assert (first.input_tokens, first.cache_read_tokens, first.output_tokens, first.reasoning_tokens) == (
        900,
        512,
        120,
        64,
    )
    assert first.response_model == RESPONSE_MODEL
    assert first.attributes["gen_ai.response.finish_reasons"] == ["completed"]


def test_async_clients_chat_and_responses(provider: FakeProvider, engine: Engine) -> None:
    provider.script(chat_turn_1, chat_turn_2, responses_turn_1, responses_turn_2)
    bank = Bank()

    async def get_balance(account: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return bank.get_balance(account)

    tools: dict[str, Callable[..., Any]] = {"get_balance": get_balance, "send_money": bank.send_money}

    async def agent() -> str:
        sdk = rg_openai.instrument(
            openai.AsyncOpenAI(api_key="k", base_url=f"{provider.url}/v1", max_retries=0)
        )
        with rg.run(agent="treasurer", tenant=TENANT):
            messages: list[Any] = [{"role": "user", "content": "pay the rent"}]
            completion = await sdk.chat.completions.create(model=REQUEST_MODEL, messages=messages)
            messages.append(completion.choices[0].message.model_dump(exclude_none=True))
            messages.extend(await rg_openai.arun_tools(engine, completion, tools))
            await sdk.chat.completions.create(model=REQUEST_MODEL, messages=messages)

            response = await sdk.responses.create(model=REQUEST_MODEL, input="pay the rent")
            guarded = await rg_openai.aguard_tool_calls(engine, response)
            results = {c.call_id: await tools[c.name](**c.args) for c in guarded.allowed}
            follow_up: list[Any] = [item.model_dump(exclude_none=True) for item in response.output]
            final = await sdk.responses.create(
                model=REQUEST_MODEL, input=follow_up + guarded.tool_results(results)
            )
            return final.output_text

    assert asyncio.run(agent()) == "I could not pay; the amount is over the limit."
    assert bank.ran == [("get_balance", {"account": "main"})] * 2


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(429, openai.RateLimitError), (500, openai.InternalServerError)],
)
def test_api_errors_propagate_unchanged_and_mark_the_span(
    provider: FakeProvider, traced: TracedStore, status: int, error_class: type[openai.APIStatusError]
) -> None:
    provider.script(lambda body: (status, error_body("slow down")), lambda body: (status, error_body("no")))
    sdk = rg_openai.instrument(client(provider))
    with rg.run(agent="treasurer", tenant=TENANT):
        with pytest.raises(error_class) as chat_error:
            sdk.chat.completions.create(model=REQUEST_MODEL, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(error_class):
            sdk.responses.create(model=REQUEST_MODEL, input="hi")
    assert chat_error.value.status_code == status

    chats = [s for s in traced.spans() if s.operation == "chat"]
    assert len(chats) == 2
    for span in chats:
        assert span.error_type == error_class.__qualname__ and span.status == "error"
        assert span.attributes["http.response.status_code"] == status
