"""Railguard's own lazy start-up (loading the price table) happens before the first model-call span
starts, never inside it: checked in a fresh process by what is loaded when the span opens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FRESH_PROCESS = """
import sys
from railguard.trace import configure_tracing, model_call

tracing = configure_tracing("sqlite:///{db}")
lazy = ("genai_prices.data", "genai_prices.decompose")
assert not any(name in sys.modules for name in lazy), "already loaded at import: nothing to test"
with model_call("openai", "gpt-4o-mini") as call:
    loaded_when_the_span_opened = [name for name in lazy if name in sys.modules]
    cost = call.record_usage(input_tokens=1200, output_tokens=300)
tracing.shutdown()
assert cost is not None and cost.usd > 0
print(",".join(loaded_when_the_span_opened))
"""


def test_the_price_table_is_loaded_before_the_first_model_call_span_opens(tmp_path: Path) -> None:
    script = FRESH_PROCESS.format(db=tmp_path / "warm.db")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "genai_prices.data,genai_prices.decompose"
