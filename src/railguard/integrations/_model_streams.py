"""Tracing streamed model calls (`stream=True`, the SDKs' `.stream()` helpers) as `chat {model}` spans.

The span opens when the request is sent and must outlive that call: it stays open while the caller
iterates and ends at whichever comes first of exhaustion, an error raised by the stream, `close()`
(directly, through a stream helper, or on leaving a `with` block), or the stream being dropped
unread. Every event passes through as it arrives; a provider `StreamAccumulator` reads each one
on the way to rebuild the usage, finish reasons and (when content is captured) the output.

The SDK stream object itself is returned, not a proxy (so `isinstance`, `.response` and the SDKs'
own helpers keep working): its event iterator is wrapped, and its HTTP response's `close` is
hooked, since every way of ending a stream closes that response. The span is not made the current
one: the caller's code between events does not run "inside" the model call."""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from opentelemetry.trace import Status, StatusCode

from railguard._internal import internal_error, reported
from railguard.integrations._model_spans import (
    ProviderSpans,
    StreamAccumulator,
    UsageSink,
    chat_span,
    record_response,
)
from railguard.trace import _keys as k
from railguard.trace import _state

STREAM_END = "railguard.stream.end"
"""How the stream ended: `completed` (read to the end), `closed` (closed before the end),
`abandoned` (dropped unread or unfinished), `error` (the stream raised or reported a failure),
`unobserved` (an object this module cannot follow; the span covers the request only)."""
COMPLETED, CLOSED, ABANDONED, FAILED, UNOBSERVED = "completed", "closed", "abandoned", "error", "unobserved"


class StreamSpan:
    """The open `chat {model}` span of one streamed call; `finish` ends it exactly once.

    The span's scope is entered and exited in a private copy of the caller's context: the caller's
    current span stays what it was, and the scope's detach token is valid whenever the stream ends."""

    __slots__ = ("_accumulator", "_context", "_finalizer", "_scope", "_spans", "call", "done", "reading")

    def __init__(
        self,
        spans: ProviderSpans,
        kwargs: dict[str, Any],
        agent: str | None,
        on_usage: UsageSink | None = None,
    ) -> None:
        self._spans = spans
        self._context = contextvars.copy_context()
        self._scope = chat_span(spans, kwargs, agent, on_usage)
        self.call = self._context.run(self._scope.__enter__)
        self.done = False
        self.reading = False  # True while the wrapped iterator is fetching the next event
        self._finalizer: weakref.finalize[..., Any] | None = None
        self._accumulator: StreamAccumulator | None = None
        if spans.stream_accumulator is not None and self.recording:
            with reported("integrations.stream"):
                self._accumulator = spans.stream_accumulator(_state.current().capture_content)

    @property
    def recording(self) -> bool:
        """Whether the answer is read: for the span, or for a listener of its usage."""
        return self.call.span.is_recording() or self.call.on_usage is not None

    def see(self, event: Any) -> None:
        if self._accumulator is None:
            return
        try:
            self._accumulator.add(event)
        except Exception as err:  # an event shape we cannot read: stop reading, never break the stream
            internal_error("integrations.stream", err, expected=True)
            self._accumulator = None

    def response_closed(self) -> None:
        """The HTTP response was closed. While an event is being fetched that is the SDK ending the
        stream itself (the iterator then reports the end or the error); otherwise the caller closed it."""
        if not self.reading:
            self.finish(CLOSED)

    def finish(self, end: str, exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        if self._finalizer is not None:
            self._finalizer.detach()
        try:
            self._record(end)
        finally:
            error = exc if isinstance(exc, Exception) else None
            with reported("integrations.stream"):
                self._context.run(
                    self._scope.__exit__,
                    type(error) if error else None,
                    error,
                    error.__traceback__ if error else None,
                )

    def _record(self, end: str) -> None:
        if not self.recording:
            return
        with reported("integrations.stream"):
            accumulator = self._accumulator
            failure = accumulator.failure() if accumulator is not None else None
            result = accumulator.result() if accumulator is not None else None
            if result is not None:
                record_response(self._spans, self.call, result)
            if failure:
                end = FAILED
                self.call.set_attribute(k.ERROR_TYPE, failure)
                self.call.span.set_status(Status(StatusCode.ERROR, failure))
            self.call.set_attribute(STREAM_END, end)

    def follow(self, stream: Any) -> Any:
        """Wrap `stream`'s events (an SDK `Stream` or `AsyncStream`) and watch its end; returns it."""
        if not self.recording:
            self.finish(UNOBSERVED)
            return stream
        try:
            events = stream._iterator  # both SDKs iterate through this one attribute
            response = stream.response
            asynchronous = hasattr(events, "__anext__")
            stream._iterator = _aobserve(events, self) if asynchronous else _observe(events, self)
        except Exception:  # not an SDK stream (e.g. a raw-response wrapper): the span covers the request
            self.finish(UNOBSERVED)
            return stream
        with reported("integrations.stream", expected=True):  # a response that won't take the hook
            if asynchronous:
                response.aclose = _AsyncCloseHook(response, self)
            else:
                response.close = _CloseHook(response, self)
        with contextlib.suppress(TypeError):  # dropped without being read to the end or closed
            self._finalizer = weakref.finalize(stream, self.finish, ABANDONED)
            self._finalizer.atexit = False
        return stream


def _observe(events: Iterator[Any], span: StreamSpan) -> Iterator[Any]:
    span.reading = True
    try:
        for event in events:
            span.reading = False
            span.see(event)
            yield event
            span.reading = True
    except Exception as exc:
        span.finish(FAILED, exc)
        raise
    else:
        span.finish(COMPLETED)
    finally:  # GeneratorExit: the stream was dropped before its end
        span.reading = False
        span.finish(ABANDONED)


async def _aobserve(events: AsyncIterator[Any], span: StreamSpan) -> AsyncIterator[Any]:
    span.reading = True
    try:
        async for event in events:
            span.reading = False
            span.see(event)
            yield event
            span.reading = True
    except Exception as exc:
        span.finish(FAILED, exc)
        raise
    else:
        span.finish(COMPLETED)
    finally:  # GeneratorExit or cancellation
        span.reading = False
        span.finish(ABANDONED)


class _CloseHook:
    """Replaces `response.close` on one response. Holds the response weakly: a strong reference
    from its own attribute would make a cycle and keep a dropped response for the cyclic GC."""

    __slots__ = ("_response", "_span")

    def __init__(self, response: Any, span: StreamSpan) -> None:
        self._response = weakref.ref(response)
        self._span = span

    def __call__(self) -> None:
        self._span.response_closed()
        response = self._response()
        if response is not None:
            type(response).close(response)


class _AsyncCloseHook(_CloseHook):
    __slots__ = ()

    async def __call__(self) -> None:  # type: ignore[override]
        self._span.response_closed()
        response = self._response()
        if response is not None:
            await type(response).aclose(response)


def open_stream(
    spans: ProviderSpans,
    agent: str | None,
    method: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    on_usage: UsageSink | None = None,
) -> Any:
    span = StreamSpan(
        spans, kwargs, agent, on_usage
    )  # reads (and materializes) the input before the SDK does
    try:
        stream = method(*args, **kwargs)
    except Exception as exc:
        span.finish(FAILED, exc)
        raise
    return span.follow(stream)


async def aopen_stream(
    spans: ProviderSpans,
    agent: str | None,
    method: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    on_usage: UsageSink | None = None,
) -> Any:
    span = StreamSpan(spans, kwargs, agent, on_usage)
    try:
        stream = await method(*args, **kwargs)
    except Exception as exc:
        span.finish(FAILED, exc)
        raise
    return span.follow(stream)


class TracedStreamManager:
    """Stands in for a stream helper's manager (Anthropic `messages.stream(...)`, which sends its
    request without `create`). The span opens when the `with` block sends the request (a manager
    that is never entered sends nothing) and ends with the stream or, at the latest, the block."""

    __slots__ = ("_agent", "_kwargs", "_manager", "_on_usage", "_span", "_spans")

    def __init__(
        self,
        manager: Any,
        spans: ProviderSpans,
        kwargs: dict[str, Any],
        agent: str | None,
        on_usage: UsageSink | None = None,
    ) -> None:
        self._manager = manager
        self._spans = spans
        self._kwargs = kwargs
        self._agent = agent
        self._on_usage = on_usage
        self._span: StreamSpan | None = None

    def _follow(self, helper: Any) -> Any:
        assert self._span is not None
        raw = getattr(helper, "_raw_stream", None)  # the SDK stream under the helper's events
        if raw is None:
            self._span.finish(UNOBSERVED)
        else:
            self._span.follow(raw)
        return helper

    def __enter__(self) -> Any:
        self._span = span = StreamSpan(self._spans, self._kwargs, self._agent, self._on_usage)
        try:
            helper = self._manager.__enter__()
        except Exception as exc:
            span.finish(FAILED, exc)
            raise
        return self._follow(helper)

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._manager.__exit__(*exc_info)
        finally:
            if self._span is not None:
                self._span.finish(CLOSED)

    async def __aenter__(self) -> Any:
        self._span = span = StreamSpan(self._spans, self._kwargs, self._agent, self._on_usage)
        try:
            helper = await self._manager.__aenter__()
        except Exception as exc:
            span.finish(FAILED, exc)
            raise
        return self._follow(helper)

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc_info)
        finally:
            if self._span is not None:
                self._span.finish(CLOSED)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)
