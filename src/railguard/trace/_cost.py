"""Cost of a model call from the `genai-prices` table. Token counts follow the gen_ai conventions:
input tokens INCLUDE cached ones and output tokens INCLUDE reasoning ones; genai-prices prices the
cached/reasoning part at its own rate and the rest at the base rate, so nothing is counted twice."""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass

import genai_prices
from genai_prices.types import TieredPrices

_TABLE_VERSION = f"genai-prices@{genai_prices.__version__}"


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float
    price_version: str


_warm = threading.Event()


def warm_price_table() -> None:
    """Load the price table and its lazily imported pricing code now (about 0.3 s the first time in
    a process, then free), so that the first model call's span times the call, not our start-up."""
    if _warm.is_set():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            genai_prices.calc_price(genai_prices.Usage(input_tokens=1, output_tokens=1), "gpt-4o-mini")
        except Exception:
            pass  # pricing then fails (and says so) on a real call, not here
    _warm.set()


def price_version() -> str:
    """Which price table priced a call: the package version, plus the snapshot time when prices
    were auto-updated at run time."""
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    if snapshot.from_auto_update:
        return f"{_TABLE_VERSION}+update:{snapshot.timestamp.strftime('%Y%m%dT%H%M%S')}"
    return _TABLE_VERSION


def model_call_cost(
    model: str,
    *,
    provider: str | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> Cost | None:
    """The price in USD, or None when the model is not in the table or the counts are inconsistent
    (cached > input, reasoning > output): no cost is better than a wrong one."""
    if cache_read_tokens > input_tokens or reasoning_tokens > output_tokens:
        return None
    present = (input_tokens > 0, output_tokens > 0, cache_read_tokens > 0, reasoning_tokens > 0)
    try:
        rates = _rates(model, provider, present)
        if rates is not None:
            # Spelled out (ingest prices every model span); the same sums in the same order as
            # `fixed + sum(rate * count ...)`, so the same float.
            fixed, per_input, per_output, per_cached, per_reasoning = rates
            total = fixed + (
                per_input * input_tokens
                + per_output * output_tokens
                + per_cached * cache_read_tokens
                + per_reasoning * reasoning_tokens
            )
        else:
            counts = (input_tokens, output_tokens, cache_read_tokens, reasoning_tokens)
            with warnings.catch_warnings():  # the table warns about its own data, not the caller's
                warnings.simplefilter("ignore")
                total = float(_calc(_usage(*counts), model, provider).total_price)
    except (LookupError, ValueError):
        return None
    return Cost(total, price_version())


def _usage(
    input_tokens: int, output_tokens: int, cache_read: int = 0, reasoning: int = 0
) -> genai_prices.Usage:
    return genai_prices.Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read or None,
        output_reasoning_tokens=reasoning or None,
    )


# The full calculation costs about 1-2 ms of CPU per call (usage decomposition), which ingest pays
# for every model span. Where a model's price is affine in the token counts (no tiers), the rates
# are measured once from the table itself and checked against it on a point they were not measured
# on; tiered prices, and any price the check rejects, always take the full calculation. Rates expire
# so that time-conditional prices (off-peak rates) are followed within RATES_TTL_S.
RATES_TTL_S = 60.0
_PROBE = 1_000_000
_rates_cache: dict[tuple[str, str | None, tuple[bool, ...]], tuple[float, tuple[float, ...] | None]] = {}


def _rates(model: str, provider: str | None, present: tuple[bool, ...]) -> tuple[float, ...] | None:
    """(fixed price, per input token, per output token, per cached token, per reasoning token), or
    None when the price is not affine; LookupError when the model is not in the table."""
    key = (model, provider, present)
    now = time.monotonic()
    cached = _rates_cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    # Only measuring touches the table (a hit stays cheap: catch_warnings alone costs microseconds).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rates = _measure_rates(model, provider, present)
    if len(_rates_cache) > 4096:  # bounded: model names come from the wire
        _rates_cache.clear()
    _rates_cache[key] = (now + RATES_TTL_S, rates)
    return rates


def _measure_rates(model: str, provider: str | None, present: tuple[bool, ...]) -> tuple[float, ...] | None:
    def price(input_tokens: int, output_tokens: int, cache_read: int = 0, reasoning: int = 0) -> float:
        return float(
            _calc(_usage(input_tokens, output_tokens, cache_read, reasoning), model, provider).total_price
        )

    first = _calc(_usage(1, 1), model, provider)  # LookupError for an unknown model, as before
    if any(isinstance(value, TieredPrices) for value in vars(first.model_price).values()):
        return None
    n = _PROBE
    fixed = price(0, 0)
    per_input = (price(n, 0) - fixed) / n
    per_output = (price(0, n) - fixed) / n
    # Cached and reasoning tokens are parts of input and output: measured on top of them.
    per_cached = (price(n, 0, n, 0) - fixed) / n - per_input if present[2] else 0.0
    per_reasoning = (price(0, n, 0, n) - fixed) / n - per_output if present[3] else 0.0
    rates = (fixed, per_input, per_output, per_cached, per_reasoning)
    check = (3 * n, 2 * n, n if present[2] else 0, n // 2 if present[3] else 0)
    expected = price(*check)
    estimated = fixed + sum(rate * count for rate, count in zip(rates[1:], check, strict=True))
    if abs(estimated - expected) > 1e-9 * max(1.0, abs(expected)):
        return None
    return rates


def _calc(usage: genai_prices.Usage, model: str, provider: str | None) -> genai_prices.types.PriceCalculation:
    try:
        return genai_prices.calc_price(usage, model, provider_id=provider)
    except LookupError:
        if provider is None:
            raise
        # gen_ai.provider.name values (e.g. "azure.ai.openai", "gcp.vertex_ai") are not always
        # genai-prices provider ids: fall back to matching on the model name alone.
        return genai_prices.calc_price(usage, model)
