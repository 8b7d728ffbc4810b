"""The Anthropic integration with the real `anthropic` client against a local Messages API server:
multi-turn tool loops where the guard blocks a call and the model reads why, spans in a real SQLite
store, async clients, and API errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

import railguard as rg
from railguard.engine import Engine
from railguard.integrations import anthropic as rg_anthropic
from railguard.model import Verdict
from railguard.trace import model_call_cost

from .fake_providers import (
    TENANT,
    FakeProvider,
    TracedStore,
    anthropic_message,
    error_body,
    text_block,
    tool_use,
)

POLICY = """
rules:
  - rule: shell/no-root-wipe
    tools: [Bash]
    when: args.command.contains("rm -rf /")
    verdict: block
    message: wiping the filesystem root is never allowed
  - rule: payments/limit
    tools: [send_money]
    when: args.amount > 1000
    verdict: block
    message: payments over 1000 need another way
  - rule: payments/internal-only
    tools: [send_money]
    when: '!args.to.startsWith("DE")'
    verdict: modify
    modify:
      set: {to: '"DE00-REVIEW"'}
    message: foreign accounts are routed to review
  - rule: mail/ask
    tools: [send_email]
    verdict: ask
    message: mail needs a human
"""
MODEL = "claude-sonnet-4-6"
TOOLS: list[Any] = [
    {"name": "Bash", "description": "run a shell command", "input_schema": {"type": "object"}}
]


@pytest.fixture
def engine() -> Engine:
    return Engine.from_yaml(POLICY)


def client(fake: FakeProvider) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=fake.url, max_retries=0)


def bash_turn_1(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert body["messages"] == [{"role": "user", "content": "clean up the build"}]
    content = [
        text_block("Listing first, then cleaning."),
        tool_use("toolu_ls", "Bash", {"command": "ls build"}),
        tool_use("toolu_rm", "Bash", {"command": "rm -rf / --no-preserve-root"}),
    ]
    return 200, anthropic_message(
        content,
        stop_reason="tool_use",
        input_tokens=100,
        output_tokens=40,
        cache_read=1000,
        cache_write=50,
    )


def bash_turn_2(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assistant, results = body["messages"][1], body["messages"][2]
    assert assistant["role"] == "assistant" and [b["type"] for b in assistant["content"]] == [
        "text",
        "tool_use",
        "tool_use",
    ]
    assert results["role"] == "user"
    ls_result, rm_result = results["content"]
    assert ls_result == {"type": "tool_result", "tool_use_id": "toolu_ls", "content": "main.o\napp"}
    assert rm_result["tool_use_id"] == "toolu_rm" and rm_result["is_error"] is True
    assert "blocked" in rm_result["content"]
    assert "wiping the filesystem root is never allowed" in rm_result["content"]
    assert "shell/no-root-wipe" in rm_result["content"]
    return 200, anthropic_message(
        [text_block("Listed the build; I will not wipe /.")], stop_reason="end_turn"
    )


def test_tool_loop_blocks_a_call_and_the_model_reads_why(
    provider: FakeProvider,
    traced: TracedStore,
    engine: Engine,
) -> None:
    provider.script(bash_turn_1, bash_turn_2)
    sdk = rg_anthropic.instrument(client(provider), engine=engine, agent="coder")
    ran: list[str] = []

    def bash(command: str) -> str:
        ran.append(command)
        return "main.o\napp"

    messages: list[Any] = [{"role": "user", "content": "clean up the build"}]
    with rg.run(agent="coder", tenant=TENANT, session="s-1"):
        while True:
            response = sdk.messages.create(model=MODEL, max_tokens=512, messages=messages, tools=TOOLS)
            if response.stop_reason != "tool_use":
                break
            messages.append({"role": "assistant", "content": response.content})
            messages.extend(rg_anthropic.run_tools(engine, response, {"Bash": bash}))

    assert ran == ["ls build"]  # the blocked command never ran
    final = response.content[0]
    assert isinstance(final, anthropic.types.TextBlock) and "will not wipe" in final.text

    spans = traced.spans()
    chats = [s for s in spans if s.operation == "chat"]
    assert len(chats) == 2
    first = chats[0]
    assert first.name == f"chat {MODEL}" and first.provider == "anthropic"
    assert first.request_model == MODEL and first.response_model == MODEL
    # usage.input_tokens (100) excludes cache reads (1000) and writes (50): the span has the sum
    assert (first.input_tokens, first.output_tokens, first.cache_read_tokens) == (1150, 40, 1000)
    assert first.attributes["gen_ai.usage.cache_creation.input_tokens"] == 50
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_use"]
    assert first.attributes["gen_ai.agent.name"] == "coder"
    expected = model_call_cost(
        MODEL, provider="anthropic", input_tokens=1150, output_tokens=40, cache_read_tokens=1000
    )
    assert expected is not None and first.cost_usd == pytest.approx(expected.usd)
    assert chats[1].attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    tools = {s.tool_call_id: s for s in spans if s.operation == "execute_tool"}
    assert set(tools) == {"toolu_ls", "toolu_rm"}  # one span per call: decision and run together
    assert tools["toolu_ls"].verdict == "allow" and tools["toolu_rm"].verdict == "block"
    assert tools["toolu_rm"].rules is not None and "shell/no-root-wipe" in tools["toolu_rm"].rules
    assert tools["toolu_ls"].attributes["gen_ai.tool.call.result"] == '"main.o\\napp"'


def test_guard_tool_calls_gives_rewritten_args_blocks_and_asks(
    provider: FakeProvider, engine: Engine
) -> None:
    content = [
        tool_use("toolu_pay", "send_money", {"to": "FR76-1234", "amount": 20}),
        tool_use("toolu_big", "send_money", {"to": "DE89-1", "amount": 5000}),
        tool_use("toolu_mail", "send_email", {"to": "ana@example.com"}),
    ]
    provider.script(lambda body: (200, anthropic_message(content, stop_reason="tool_use")))
    response = client(provider).messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "pay"}]
    )

    with rg.run(tenant=TENANT, run_id="run-1"):
        guarded = rg_anthropic.guard_tool_calls(engine, response)
        retried = rg_anthropic.guard_tool_calls(engine, response)

    [pay] = guarded.allowed
    assert pay.call_id == "toolu_pay" and pay.decision.verdict is Verdict.MODIFY
    assert pay.args == {"to": "DE00-REVIEW", "amount": 20}
    assert [(b.call_id, b.decision.verdict) for b in guarded.blocked] == [
        ("toolu_big", Verdict.BLOCK),
        ("toolu_mail", Verdict.ASK),
    ]
    assert "needs a human's approval" in guarded.blocked[1].message
    # the tool call id keys the decision id: a retry of the same response decides the same ids
    assert [b.decision.decision_id for b in retried.blocked] == [
        b.decision.decision_id for b in guarded.blocked
    ]

    [message] = guarded.tool_results({"toolu_pay": {"status": "sent"}})
    assert message["role"] == "user"
    assert [(b["tool_use_id"], b.get("is_error", False)) for b in message["content"]] == [
        ("toolu_pay", False),
        ("toolu_big", True),
        ("toolu_mail", True),
    ]
    assert message["content"][0]["content"] == '{"status": "sent"}'
    with pytest.raises(ValueError, match="toolu_pay"):
        guarded.tool_results({})


class ApproveAll:
    """An approval handler that approves every request (as a human clicking 'approve' would)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def request(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
        self.asked.append(action.tool)
        return rg.Decision(
            verdict=Verdict.ALLOW,
            reason="approved",
            decision_id=decision.decision_id,
            tool=decision.tool,
            approval_id="appr-1",
        )

    async def arequest(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
        return self.request(action, decision)


def test_async_client_tool_loop_with_approval_handler(provider: FakeProvider, engine: Engine) -> None:
    handler = ApproveAll()
    engine.approval_handler = handler

    def turn_1(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        content = [
            tool_use("toolu_mail", "send_email", {"to": "ana@example.com"}),
            tool_use("toolu_pay", "send_money", {"to": "DE89-1", "amount": 1_000_000}),
        ]
        return 200, anthropic_message(content, stop_reason="tool_use")

    def turn_2(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        mail, pay = body["messages"][-1]["content"]
        assert mail == {
            "type": "tool_result",
            "tool_use_id": "toolu_mail",
            "content": "sent to ana@example.com",
        }
        assert pay["is_error"] is True and "payments over 1000 need another way" in pay["content"]
        return 200, anthropic_message(
            [text_block("Mail sent; the payment was refused.")], stop_reason="end_turn"
        )

    provider.script(turn_1, turn_2)

    async def send_email(to: str) -> str:
        await asyncio.sleep(0)
        return f"sent to {to}"

    def send_money(to: str, amount: int) -> str:
        raise AssertionError("a blocked payment must never run")

    async def agent() -> anthropic.types.Message:
        sdk = rg_anthropic.instrument(
            anthropic.AsyncAnthropic(api_key="k", base_url=provider.url, max_retries=0), engine=engine
        )
        messages: list[Any] = [{"role": "user", "content": "mail ana, pay the bill"}]
        with rg.run(agent="assistant", tenant=TENANT):
            response = await sdk.messages.create(model=MODEL, max_tokens=64, messages=messages)
            messages.append({"role": "assistant", "content": response.content})
            tools: dict[str, Callable[..., Any]] = {"send_email": send_email, "send_money": send_money}
            messages.extend(await rg_anthropic.arun_tools(engine, response, tools))
            return await sdk.messages.create(model=MODEL, max_tokens=64, messages=messages)

    final = asyncio.run(agent())
    assert final.stop_reason == "end_turn"
    assert handler.asked == ["send_email"]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(500, anthropic.InternalServerError), (429, anthropic.RateLimitError)],
)
def test_api_errors_propagate_unchanged_and_mark_the_span(
    provider: FakeProvider,
    traced: TracedStore,
    status: int,
    error_class: type[anthropic.APIStatusError],
) -> None:
    provider.script(lambda body: (status, error_body("overloaded, try later")))
    sdk = rg_anthropic.instrument(client(provider))
    with rg.run(agent="coder", tenant=TENANT), pytest.raises(error_class) as raised:
        sdk.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == status

    [chat] = [s for s in traced.spans() if s.operation == "chat"]
    assert chat.error_type == error_class.__qualname__ and chat.status == "error"
    assert chat.attributes["http.response.status_code"] == status
    assert chat.input_tokens is None


def test_instrumenting_without_tracing_or_twice_is_harmless(provider: FakeProvider) -> None:
    provider.script(lambda body: (200, anthropic_message([text_block("hi")], stop_reason="end_turn")))
    sdk = client(provider)
    create = rg_anthropic.instrument(sdk).messages.create
    assert rg_anthropic.instrument(sdk).messages.create is create  # not wrapped twice
    one_shot: Any = iter([{"role": "user", "content": "x"}])
    response = sdk.messages.create(model=MODEL, max_tokens=64, messages=one_shot)
    assert isinstance(response, anthropic.types.Message)
    assert isinstance(response.content[0], anthropic.types.TextBlock) and response.content[0].text == "hi"
    # a one-shot iterable of messages still reaches the API intact
    assert provider.requests[0][1]["messages"] == [{"role": "user", "content": "x"}]


def test_a_failing_or_unknown_tool_becomes_an_error_result(
    provider: FakeProvider, traced: TracedStore, engine: Engine
) -> None:
    def turn_1(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        content = [tool_use("toolu_fail", "Bash", {"command": "make"}), tool_use("toolu_none", "Deploy", {})]
        return 200, anthropic_message(content, stop_reason="tool_use")

    def turn_2(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        failed, unknown = body["messages"][-1]["content"]
        assert (
            failed["is_error"] is True and "RuntimeError: make: no rule to make target" in failed["content"]
        )
        assert (
            unknown["is_error"] is True and "no tool named 'Deploy' (available: Bash)" in unknown["content"]
        )
        return 200, anthropic_message([text_block("The build failed.")], stop_reason="end_turn")

    provider.script(turn_1, turn_2)

    def bash(command: str) -> str:
        raise RuntimeError(f"{command}: no rule to make target")

    sdk = rg_anthropic.instrument(client(provider))
    messages: list[Any] = [{"role": "user", "content": "build it"}]
    with rg.run(agent="coder", tenant=TENANT):
        response = sdk.messages.create(model=MODEL, max_tokens=64, messages=messages)
        messages.append({"role": "assistant", "content": response.content})
        messages.extend(rg_anthropic.run_tools(engine, response, {"Bash": bash}))
        sdk.messages.create(model=MODEL, max_tokens=64, messages=messages)

    failed = next(s for s in traced.spans() if s.tool_call_id == "toolu_fail")
    assert failed.verdict == "allow" and failed.error_type == "RuntimeError" and failed.status == "error"
