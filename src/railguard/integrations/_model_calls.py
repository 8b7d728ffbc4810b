"""Shared by the Anthropic and OpenAI integrations: wrapping an SDK method so each model request is
a `chat {model}` span. The provider module says how to read its request and response
(`ProviderSpans`); this module owns the span's life, and makes sure neither tracing nor reading
the response can change what the caller gets: the SDK's return value and exceptions pass unchanged.

Streaming requests (`stream=True`) go to `_model_streams`, where the span outlives the call."""

from __future__ import annotations

import contextlib
import functools
import inspect
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from railguard.model import current_context
from railguard.trace import _keys as k
from railguard.trace._engine_sink import trace_engine
from railguard.trace._spans import ModelCall, model_call

if TYPE_CHECKING:
    from railguard.engine import Engine
    from railguard.integrations._model_streams import StreamAccumulator

_WRAPPED = "__railguard_wrapped__"
HTTP_STATUS = "http.response.status_code"


@dataclass(frozen=True, slots=True)
class ProviderSpans:
    """How to trace one SDK method. `input_messages(kwargs)` may replace one-shot iterables in
    `kwargs` with lists (the span reads them, the SDK must still get them).
    `stream_accumulator(keep_content)` reads a streamed answer into what `record_response` reads."""

    provider: str
    input_messages: Callable[[dict[str, Any]], Any]
    record_response: Callable[[ModelCall, Any], None]
    stream_accumulator: Callable[[bool], StreamAccumulator] | None = None


def is_async(method: Callable[..., Any]) -> bool:
    # The SDKs wrap their async methods in plain functions (argument checks): look underneath.
    return inspect.iscoroutinefunction(method) or inspect.iscoroutinefunction(inspect.unwrap(method))


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
def chat_span(spans: ProviderSpans, kwargs: dict[str, Any], agent: str | None) -> Iterator[ModelCall]:
    model = str(kwargs.get("model") or "unknown")
    try:
        messages = spans.input_messages(kwargs)
    except Exception:  # an odd request shape: trace the call without its input
        messages = None
    session = current_context().session
    with model_call(spans.provider, model, input_messages=messages, conversation_id=session) as call:
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
    if not call.span.is_recording():
        return
    with contextlib.suppress(Exception):  # e.g. a raw-response wrapper: the caller still gets it
        spans.record_response(call, response)


def traced(method: Callable[..., Any], spans: ProviderSpans, agent: str | None) -> Callable[..., Any]:
    """`method` (a bound SDK method, sync or async) with every call in a chat span (a streamed
    call's span ends with its stream). Wrapping twice is a no-op."""
    if getattr(method, _WRAPPED, False):
        return method
    from railguard.integrations._model_streams import aopen_stream, open_stream  # imports this module

    if is_async(method):

        @functools.wraps(method)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("stream"):
                return await aopen_stream(spans, agent, method, args, kwargs)
            with chat_span(spans, kwargs, agent) as call:
                response = await method(*args, **kwargs)
                record_response(spans, call, response)
                return response

        setattr(traced_async, _WRAPPED, True)
        return traced_async

    @functools.wraps(method)
    def traced_sync(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            return open_stream(spans, agent, method, args, kwargs)
        with chat_span(spans, kwargs, agent) as call:
            response = method(*args, **kwargs)
            record_response(spans, call, response)
            return response

    setattr(traced_sync, _WRAPPED, True)
    return traced_sync


def patch(resource: Any, name: str, spans: ProviderSpans, agent: str | None) -> None:
    """Replace `resource.<name>` on this instance only (other clients stay untouched)."""
    setattr(resource, name, traced(getattr(resource, name), spans, agent))


def patch_stream_helper(resource: Any, name: str, spans: ProviderSpans, agent: str | None) -> None:
    """Replace `resource.<name>`, a helper returning a stream manager (used as `with`/`async with`)
    that sends its request without going through `create`, so that the stream it opens is traced."""
    method = getattr(resource, name, None)
    if method is None or getattr(method, _WRAPPED, False):
        return
    from railguard.integrations._model_streams import TracedStreamManager

    @functools.wraps(method)
    def traced_helper(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(Exception):  # one-shot iterables become lists the span can read too
            spans.input_messages(kwargs)
        return TracedStreamManager(method(*args, **kwargs), spans, kwargs, agent)

    setattr(traced_helper, _WRAPPED, True)
    setattr(resource, name, traced_helper)


_traced_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def trace_engine_once(engine: Engine) -> None:
    """Subscribe the tracing sink to `engine` once, however many clients are instrumented with it."""
    if engine not in _traced_engines:
        _traced_engines.add(engine)
        trace_engine(engine)
