"""Shared by the Anthropic and OpenAI integrations: wrapping an SDK method so each model request is
a `chat {model}` span. The provider module says how to read its request and response
(`ProviderSpans`); this module owns the span's life, and makes sure neither tracing nor reading
the response can change what the caller gets: the SDK's return value and exceptions pass unchanged.

Streaming requests (`stream=True`) go to `_model_streams`, where the span outlives the call. With an
engine, each request's words are recorded before it is sent (`_user_words`) and its usage
(tokens, cost) is charged to the engine's budgets after the answer (`engine.record_usage`). Both
build on `_model_spans` (the span of one request and the SDK-reading helpers), which imports neither."""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from railguard._internal import reported
from railguard.integrations._model_spans import ProviderSpans, UsageSink, chat_span, record_response
from railguard.integrations._model_streams import TracedStreamManager, aopen_stream, open_stream
from railguard.integrations._user_words import InputRecorder
from railguard.trace._engine_sink import trace_engine

if TYPE_CHECKING:
    from railguard.engine import Engine

_WRAPPED = "__railguard_wrapped__"
_INPUTS = "__railguard_inputs__"


def is_async(method: Callable[..., Any]) -> bool:
    # The SDKs wrap their async methods in plain functions (argument checks): look underneath.
    return inspect.iscoroutinefunction(method) or inspect.iscoroutinefunction(inspect.unwrap(method))


class _Inputs:
    """Where a wrapped method reports each request's words (set when instrumented with an engine)."""

    __slots__ = ("recorder",)

    def __init__(self, recorder: InputRecorder | None) -> None:
        self.recorder = recorder

    @property
    def usage(self) -> UsageSink | None:
        """Where each request's usage goes: the engine's budgets (`engine.record_usage`)."""
        return self.recorder.record_usage if self.recorder is not None else None

    def record(self, spans: ProviderSpans, kwargs: dict[str, Any]) -> None:
        if self.recorder is not None:
            with reported("integrations.user_input", expected=True):  # never changes the SDK call
                self.recorder.record(spans.input_messages(kwargs))


def traced(
    method: Callable[..., Any], spans: ProviderSpans, agent: str | None, recorder: InputRecorder | None = None
) -> Callable[..., Any]:
    """`method` (a bound SDK method, sync or async) with every call in a chat span (a streamed
    call's span ends with its stream); with `recorder`, each request's words are recorded first.
    Wrapping twice wraps nothing again (a recorder given then is attached)."""
    if getattr(method, _WRAPPED, False):
        _attach(method, recorder)
        return method
    inputs = _Inputs(recorder)
    if is_async(method):

        @functools.wraps(method)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            inputs.record(spans, kwargs)
            if kwargs.get("stream"):
                return await aopen_stream(spans, agent, method, args, kwargs, inputs.usage)
            with chat_span(spans, kwargs, agent, inputs.usage) as call:
                response = await method(*args, **kwargs)
                record_response(spans, call, response)
                return response

        setattr(traced_async, _WRAPPED, True)
        setattr(traced_async, _INPUTS, inputs)
        return traced_async

    @functools.wraps(method)
    def traced_sync(*args: Any, **kwargs: Any) -> Any:
        inputs.record(spans, kwargs)
        if kwargs.get("stream"):
            return open_stream(spans, agent, method, args, kwargs, inputs.usage)
        with chat_span(spans, kwargs, agent, inputs.usage) as call:
            response = method(*args, **kwargs)
            record_response(spans, call, response)
            return response

    setattr(traced_sync, _WRAPPED, True)
    setattr(traced_sync, _INPUTS, inputs)
    return traced_sync


def _attach(wrapped: Callable[..., Any], recorder: InputRecorder | None) -> None:
    inputs = getattr(wrapped, _INPUTS, None)
    if recorder is not None and inputs is not None:
        inputs.recorder = recorder


def patch(
    resource: Any, name: str, spans: ProviderSpans, agent: str | None, recorder: InputRecorder | None = None
) -> None:
    """Replace `resource.<name>` on this instance only (other clients stay untouched)."""
    setattr(resource, name, traced(getattr(resource, name), spans, agent, recorder))


def patch_stream_helper(
    resource: Any, name: str, spans: ProviderSpans, agent: str | None, recorder: InputRecorder | None = None
) -> None:
    """Replace `resource.<name>`, a helper returning a stream manager (used as `with`/`async with`)
    that sends its request without going through `create`, so that the stream it opens is traced."""
    method = getattr(resource, name, None)
    if method is None:
        return
    if getattr(method, _WRAPPED, False):
        _attach(method, recorder)
        return
    inputs = _Inputs(recorder)

    @functools.wraps(method)
    def traced_helper(*args: Any, **kwargs: Any) -> Any:
        with reported("integrations.model_input", expected=True):  # one-shot iterables become lists
            spans.input_messages(kwargs)
        inputs.record(spans, kwargs)
        return TracedStreamManager(method(*args, **kwargs), spans, kwargs, agent, inputs.usage)

    setattr(traced_helper, _WRAPPED, True)
    setattr(traced_helper, _INPUTS, inputs)
    setattr(resource, name, traced_helper)


_traced_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def trace_engine_once(engine: Engine) -> None:
    """Subscribe the tracing sink to `engine` once, however many clients are instrumented with it."""
    if engine not in _traced_engines:
        _traced_engines.add(engine)
        trace_engine(engine)
