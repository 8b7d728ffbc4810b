"""Reading OpenAI Chat Completions and Responses requests and responses into the `chat {model}` span.

Both APIs already report tokens the way the conventions define them: Chat `prompt_tokens` includes
`prompt_tokens_details.cached_tokens` and `completion_tokens` includes
`completion_tokens_details.reasoning_tokens`; Responses `input_tokens` includes
`input_tokens_details.cached_tokens` and `output_tokens` includes `output_tokens_details.reasoning_tokens`."""

from __future__ import annotations

from typing import Any

from railguard.integrations._model_spans import ProviderSpans, field, listed
from railguard.integrations._openai_stream import ChatAccumulator, ResponsesAccumulator
from railguard.trace._spans import ModelCall

PROVIDER = "openai"


def _dump(item: Any) -> Any:
    dump = getattr(item, "model_dump", None)
    return dump(mode="json", exclude_none=True) if dump is not None else item


def _record_tokens(
    call: ModelCall, response: Any, usage: Any, names: tuple[str, str, str, str, str, str]
) -> None:
    """`names`: input, input details, cached, output, output details, reasoning (per API)."""
    input_key, input_details, cached_key, output_key, output_details, reasoning_key = names
    call.record_usage(
        input_tokens=field(usage, input_key),
        output_tokens=field(usage, output_key),
        cache_read_tokens=field(field(usage, input_details), cached_key),
        reasoning_tokens=field(field(usage, output_details), reasoning_key),
        response_model=field(response, "model"),
    )


# -- Chat Completions ----------------------------------------------------------------------------

_CHAT_USAGE = (
    "prompt_tokens",
    "prompt_tokens_details",
    "cached_tokens",
    "completion_tokens",
    "completion_tokens_details",
    "reasoning_tokens",
)


def chat_input(kwargs: dict[str, Any]) -> Any:
    return listed(kwargs, "messages")


def record_chat(call: ModelCall, response: Any) -> None:
    usage = field(response, "usage")
    if usage is not None:
        _record_tokens(call, response, usage, _CHAT_USAGE)
    choices = field(response, "choices") or []
    reasons = [str(field(c, "finish_reason")) for c in choices if field(c, "finish_reason")]
    call.record_output([_dump(field(c, "message")) for c in choices], finish_reasons=reasons or None)


# -- Responses -----------------------------------------------------------------------------------

_RESPONSES_USAGE = (
    "input_tokens",
    "input_tokens_details",
    "cached_tokens",
    "output_tokens",
    "output_tokens_details",
    "reasoning_tokens",
)


def responses_input(kwargs: dict[str, Any]) -> Any:
    items = listed(kwargs, "input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    instructions = kwargs.get("instructions")
    if instructions:
        return [{"role": "system", "content": instructions}, *(items or [])]
    return items


def _responses_finish_reason(response: Any) -> str | None:
    """`incomplete` responses say why (e.g. max_output_tokens); otherwise the status itself."""
    reason = field(field(response, "incomplete_details"), "reason")
    status = field(response, "status")
    return str(reason or status) if (reason or status) else None


def record_responses(call: ModelCall, response: Any) -> None:
    usage = field(response, "usage")
    if usage is not None:
        _record_tokens(call, response, usage, _RESPONSES_USAGE)
    reason = _responses_finish_reason(response)
    output = [_dump(item) for item in field(response, "output") or []]
    call.record_output(output, finish_reasons=[reason] if reason else None)


CHAT = ProviderSpans(PROVIDER, chat_input, record_chat, ChatAccumulator)
RESPONSES = ProviderSpans(PROVIDER, responses_input, record_responses, ResponsesAccumulator)
