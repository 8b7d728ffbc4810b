"""An instrumented SDK client charges each request's usage to the engine's budgets (issue 15: a cost or
token budget proposed from a spike must hold live, not only in the backtest): the real `anthropic` and
`openai` clients against the local provider server, with the policy's budgets on a real store. The
charge lands on the run that made the request, traced or not, streamed or not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

import railguard as rg
from railguard.integrations import anthropic as rg_anthropic
from railguard.integrations import openai as rg_openai
from railguard.state.cushions import install_cushions
from railguard.store import open_store

from .fake_providers import FakeProvider, anthropic_message, anthropic_stream, chat_completion, text_block

POLICY = """
version: 1
tools:
  search: {effect: read}
budgets:
  - {scope: run, metric: tokens, limit: 1000}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[rg.Engine]:
    store = open_store(f"sqlite:///{tmp_path / 'usage.db'}")
    engine = rg.Engine.from_yaml(POLICY)
    cushions = install_cushions(engine, store)
    try:
        yield engine
    finally:
        cushions.close()
        store.close()


def _claude(provider: FakeProvider, engine: rg.Engine) -> anthropic.Anthropic:
    sdk = anthropic.Anthropic(api_key="test-key", base_url=provider.url, max_retries=0)
    return rg_anthropic.instrument(sdk, engine=engine)


def _said(tokens_in: int, tokens_out: int) -> dict[str, object]:
    return anthropic_message(
        [text_block("ok")], stop_reason="end_turn", input_tokens=tokens_in, output_tokens=tokens_out
    )


def test_a_run_that_spent_its_token_budget_on_model_calls_is_refused_its_next_tool_call(
    provider: FakeProvider, engine: rg.Engine
) -> None:
    provider.script(lambda body: (200, _said(400, 200)), lambda body: (200, _said(300, 150)))
    sdk = _claude(provider, engine)
    ask = [{"role": "user", "content": "find flights"}]
    with rg.run(tenant="acme", agent="planner", run="r1"):
        sdk.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=ask)
        assert engine.check("search", {"q": "flights"}).verdict is rg.Verdict.ALLOW  # 600 + 1 step of 1000
        sdk.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=ask)
        refused = engine.check("search", {"q": "hotels"})
    assert refused.verdict is rg.Verdict.BLOCK and "budget/run/tokens" in refused.rules
    with rg.run(tenant="acme", agent="planner", run="r2"):  # another run has its own budget
        assert engine.check("search", {"q": "flights"}).verdict is rg.Verdict.ALLOW


def test_a_streamed_answer_is_charged_when_the_stream_ends(provider: FakeProvider, engine: rg.Engine) -> None:
    provider.script(lambda body: (200, anthropic_stream(_said(700, 400))))
    sdk = _claude(provider, engine)
    with rg.run(tenant="acme", agent="planner", run="s1"):
        with sdk.messages.stream(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "go"}]
        ) as stream:
            for _ in stream:
                pass
        refused = engine.check("search", {"q": "x"})
    assert refused.verdict is rg.Verdict.BLOCK and "budget/run/tokens" in refused.rules


def test_openai_usage_is_charged_too(provider: FakeProvider, engine: rg.Engine) -> None:
    completion = chat_completion(
        {"content": "ok"}, finish_reason="stop", prompt_tokens=900, completion_tokens=200
    )
    provider.script(lambda body: (200, completion))
    sdk = rg_openai.instrument(
        openai.OpenAI(api_key="test-key", base_url=f"{provider.url}/v1", max_retries=0), engine=engine
    )
    with rg.run(tenant="acme", agent="planner", run="o1"):
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "go"}])
        refused = engine.check("search", {"q": "x"})
    assert refused.verdict is rg.Verdict.BLOCK and "budget/run/tokens" in refused.rules


def test_without_an_engine_nothing_is_charged(provider: FakeProvider, engine: rg.Engine) -> None:
    provider.script(lambda body: (200, _said(5000, 5000)))
    sdk = rg_anthropic.instrument(
        anthropic.Anthropic(api_key="test-key", base_url=provider.url, max_retries=0)
    )
    with rg.run(tenant="acme", agent="planner", run="n1"):
        sdk.messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "go"}]
        )
        assert engine.check("search", {"q": "x"}).verdict is rg.Verdict.ALLOW
