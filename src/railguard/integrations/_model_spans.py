"""The span of one model request, shared by plain and streamed calls (`_model_calls`,
`_model_streams`), and helpers that read SDK objects. Imports neither of those modules."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from railguard._internal import internal_error, reported
from railguard.model import Context, current_context
from railguard.trace import _keys as k
from railguard.trace._spans import ModelCall, model_call

HTTP_STATUS = "http.response.status_code"


class UsageSink(Protocol):
    """Hears what one model request spent: tokens (input + output) and cost in USD (0 unpriced)."""

    def __call__(self, tokens: int, cost: float, *, context: Context) -> None: ...


class StreamAccumulator(Protocol):
    """Reads a provider's stream events, one at a time, into the final result."""

    def add(self, event: Any) -> None: ...

    def result(self) -> Any:
        """What `ProviderSpans.record_response` reads (None: nothing worth recording yet)."""

    def failure(self) -> str | None:
        """An error code the stream reported as an event rather than raising (OpenAI Responses)."""


@dataclass(frozen=True, slots=True)
class ProviderSpans:
    """How to trace one SDK method. `input_messages(kwargs)` may replace one-shot iterables in
    `kwargs` with lists (the span reads them, the SDK must still get them).
    `stream_accumulator(keep_content)` reads a streamed answer into what `record_response` reads."""

    provider: str
    input_messages: Callable[[dict[str, Any]], Any]
    record_response: Callable[[ModelCall, Any], None]
    stream_accumulator: Callable[[bool], StreamAccumulator] | None = None


def field(obj: Any, name: str, default: Any = None) -> Any:
    """An attribute of an SDK model, or a key of the same object as a plain dict (raw JSON)."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def plain(obj: Any) -> dict[str, Any]:
    """An SDK model (or a dict) as a fresh JSON-ready dict."""
    if obj is None:
        return {}
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dict(dump(mode="json", exclude_none=True))
    return dict(obj)


def listed(kwargs: dict[str, Any], key: str) -> Any:
    """`kwargs[key]` as something that can be read twice (generators are materialized)."""
    value = kwargs.get(key)
    if value is None or isinstance(value, str | bytes | list | tuple | Mapping):
        return value
    try:
        kwargs[key] = value = list(value)
    except TypeError:
        return value
    return value


@contextlib.contextmanager
def chat_span(
    spans: ProviderSpans, kwargs: dict[str, Any], agent: str | None, on_usage: UsageSink | None = None
) -> Iterator[ModelCall]:
    """The span of one request; `on_usage(tokens, cost, context)` hears its usage, in the context of
    the run that made the request (a stream may end elsewhere)."""
    model = str(kwargs.get("model") or "unknown")
    try:
        messages = spans.input_messages(kwargs)
    except Exception as err:  # an odd request shape: trace the call without its input
        internal_error("integrations.model_input", err, expected=True)
        messages = None
    context = current_context()
    session = context.session
    with model_call(spans.provider, model, input_messages=messages, conversation_id=session) as call:
        if on_usage is not None:
            call.on_usage = functools.partial(on_usage, context=context)
        if agent and call.span.is_recording():
            call.set_attribute(k.AGENT_NAME, agent)
        try:
            yield call
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and call.span.is_recording():
                call.set_attribute(HTTP_STATUS, status)
            raise


def record_response(spans: ProviderSpans, call: ModelCall, response: Any) -> None:
    if not call.span.is_recording() and call.on_usage is None:
        return
    with reported("integrations.model_output", expected=True):  # e.g. a raw-response wrapper
        spans.record_response(call, response)
