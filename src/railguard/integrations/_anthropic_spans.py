"""Reading Anthropic Messages requests and responses into the `chat {model}` span.

Anthropic's `usage.input_tokens` counts only the uncached input: cache reads
(`cache_read_input_tokens`) and cache writes (`cache_creation_input_tokens`) are reported apart, so
the inclusive input the conventions ask for is their sum. Thinking tokens are already inside
`output_tokens` (`output_tokens_details.thinking_tokens` is a breakdown)."""

from __future__ import annotations

from typing import Any

from railguard.integrations._anthropic_stream import MessageAccumulator
from railguard.integrations._model_spans import ProviderSpans, field, listed
from railguard.trace._spans import ModelCall

PROVIDER = "anthropic"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"


def input_messages(kwargs: dict[str, Any]) -> Any:
    messages = listed(kwargs, "messages")
    system = listed(kwargs, "system")
    if system is None:
        return messages
    return [{"role": "system", "content": system}, *(messages or [])]


def _dump(block: Any) -> Any:
    dump = getattr(block, "model_dump", None)
    return dump(mode="json", exclude_none=True) if dump is not None else block


def record_response(call: ModelCall, response: Any) -> None:
    usage = field(response, "usage")
    if usage is not None:
        uncached = field(usage, "input_tokens") or 0
        cache_read = field(usage, "cache_read_input_tokens") or 0
        cache_write = field(usage, "cache_creation_input_tokens") or 0
        thinking = field(field(usage, "output_tokens_details"), "thinking_tokens")
        call.record_usage(
            input_tokens=uncached + cache_read + cache_write,
            output_tokens=field(usage, "output_tokens"),
            cache_read_tokens=cache_read,
            reasoning_tokens=thinking,
            response_model=field(response, "model"),
        )
        if cache_write:
            call.set_attribute(CACHE_CREATION_TOKENS, cache_write)
    stop_reason = field(response, "stop_reason")
    content = [_dump(block) for block in field(response, "content") or []]
    call.record_output(
        [{"role": "assistant", "content": content}],
        finish_reasons=[str(stop_reason)] if stop_reason else None,
    )


MESSAGES = ProviderSpans(PROVIDER, input_messages, record_response, MessageAccumulator)
