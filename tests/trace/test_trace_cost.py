"""Cost per model call from genai-prices: cached input tokens and reasoning output tokens are parts
of the input/output totals, priced at their own rate and never counted twice."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest

from railguard.trace import model_call_cost


def _rates(model: str, provider: str) -> tuple[Decimal, Decimal, Decimal]:
    calc = genai_prices.calc_price(genai_prices.Usage(input_tokens=1), model, provider_id=provider)
    price = calc.model_price
    # Tiered prices (e.g. above 200k input tokens) start at their base rate; these calls stay below.
    rates = [getattr(r, "base", r) for r in (price.input_mtok, price.cache_read_mtok, price.output_mtok)]
    decimals = [r for r in rates if isinstance(r, Decimal)]
    assert len(decimals) == 3
    return decimals[0], decimals[1], decimals[2]


@pytest.mark.parametrize(("model", "provider"), [("gpt-4o", "openai"), ("claude-sonnet-4-5", "anthropic")])
def test_cached_tokens_are_priced_at_the_cache_rate_and_not_twice(model: str, provider: str) -> None:
    input_rate, cache_rate, output_rate = _rates(model, provider)
    assert cache_rate < input_rate
    cost = model_call_cost(
        model, provider=provider, input_tokens=10_000, cache_read_tokens=8_000, output_tokens=500
    )
    assert cost is not None
    expected = (2_000 * input_rate + 8_000 * cache_rate + 500 * output_rate) / 1_000_000
    assert cost.usd == pytest.approx(float(expected), rel=1e-9)
    assert cost.price_version == f"genai-prices@{genai_prices.__version__}"


def test_reasoning_tokens_are_part_of_the_output_total() -> None:
    _, _, output_rate = _rates("o3", "openai")
    with_reasoning = model_call_cost(
        "o3", provider="openai", input_tokens=0, output_tokens=1_000, reasoning_tokens=800
    )
    plain = model_call_cost("o3", provider="openai", input_tokens=0, output_tokens=1_000)
    assert with_reasoning is not None and plain is not None
    assert with_reasoning.usd == pytest.approx(float(1_000 * output_rate / 1_000_000), rel=1e-9)
    assert with_reasoning.usd == plain.usd  # not 1_800 output tokens


def test_unknown_models_and_inconsistent_counts_have_no_cost() -> None:
    assert model_call_cost("no-such-model-xyz", provider="openai", input_tokens=10) is None
    assert model_call_cost("gpt-4o", provider="openai", input_tokens=10, cache_read_tokens=20) is None
    assert model_call_cost("gpt-4o", provider="openai", output_tokens=10, reasoning_tokens=20) is None


def test_a_semconv_provider_name_not_in_the_table_falls_back_to_the_model() -> None:
    by_model = model_call_cost("gpt-4o", provider="azure.ai.openai", input_tokens=1_000, output_tokens=10)
    direct = model_call_cost("gpt-4o", provider="openai", input_tokens=1_000, output_tokens=10)
    assert by_model is not None and direct is not None and by_model.usd == direct.usd


MODELS = [
    ("gpt-4o-mini", None),
    ("gpt-4o", "openai"),
    ("o3", "openai"),
    ("claude-3-5-haiku", None),
    ("claude-sonnet-4-5", "anthropic"),  # tiered above 200k input tokens: the full calculation
    ("gemini-2.5-pro", "google"),  # tiered
    ("deepseek-chat", "deepseek"),
]


@pytest.mark.parametrize(("model", "provider"), MODELS)
def test_the_fast_path_prices_every_call_as_the_full_table_calculation(
    model: str, provider: str | None
) -> None:
    import random

    from railguard.trace import _cost

    rng = random.Random(model)
    for _ in range(150):
        inputs, outputs = rng.randint(0, 400_000), rng.randint(0, 60_000)
        cached = rng.choice([0, rng.randint(0, inputs)])
        reasoning = rng.choice([0, rng.randint(0, outputs)])
        cost = model_call_cost(
            model,
            provider=provider,
            input_tokens=inputs,
            output_tokens=outputs,
            cache_read_tokens=cached,
            reasoning_tokens=reasoning,
        )
        usage = genai_prices.Usage(
            input_tokens=inputs,
            output_tokens=outputs,
            cache_read_tokens=cached or None,
            output_reasoning_tokens=reasoning or None,
        )
        full = _cost._calc(usage, model, provider)
        assert cost is not None
        assert cost.usd == pytest.approx(float(full.total_price), rel=1e-9, abs=1e-12)


def test_tiered_prices_never_take_the_affine_rates() -> None:
    from railguard.trace import _cost

    assert model_call_cost("claude-sonnet-4-5", provider="anthropic", input_tokens=10, output_tokens=1)
    assert _cost._rates("claude-sonnet-4-5", "anthropic", (True, True, False, False)) is None
    assert _cost._rates("gpt-4o", "openai", (True, True, False, False)) is not None
