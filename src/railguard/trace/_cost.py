"""Cost of a model call from the `genai-prices` table. Token counts follow the gen_ai conventions:
input tokens INCLUDE cached ones and output tokens INCLUDE reasoning ones; genai-prices prices the
cached/reasoning part at its own rate and the rest at the base rate, so nothing is counted twice."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import genai_prices

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
    usage = genai_prices.Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens or None,
        output_reasoning_tokens=reasoning_tokens or None,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calc = _calc(usage, model, provider)
    except (LookupError, ValueError):
        return None
    return Cost(float(calc.total_price), price_version())


def _calc(usage: genai_prices.Usage, model: str, provider: str | None) -> genai_prices.types.PriceCalculation:
    try:
        return genai_prices.calc_price(usage, model, provider_id=provider)
    except LookupError:
        if provider is None:
            raise
        # gen_ai.provider.name values (e.g. "azure.ai.openai", "gcp.vertex_ai") are not always
        # genai-prices provider ids: fall back to matching on the model name alone.
        return genai_prices.calc_price(usage, model)
