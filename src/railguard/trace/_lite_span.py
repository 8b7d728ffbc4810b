"""A light recording span for Railguard's tool calls.

The SDK's span costs about as much as a guard check on the agent's thread (limits, locks, attribute
cleaning, a second copy made at `end`). Railguard's provider has one way out, the redaction
processor, so a tool-call span only needs to remember what happened: this one keeps plain values
and, when it ends, hands itself to the processor, which builds the SDK's `ReadableSpan` (attributes
cleaned and bounded by the provider's limits) on the export thread and redacts it like any other.
It follows the provider's default sampler (parent-based, always on): `LiteSpans.start` returns None
when that is not the provider's sampler or the parent is not sampled, and the caller then uses the
SDK's span."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

from railguard.trace._deferred import Deferred

_UNSET = Status(StatusCode.UNSET)  # immutable: one for every span
_ROOT_FLAGS = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)


class LiteSpan(trace.Span):
    """Writes happen on the agent's thread while the span is open; after `end` the export thread
    only reads it. Events are kept as (name, attributes, timestamp)."""

    __slots__ = (
        "_clock",
        "_context",
        "_end_time",
        "_finish",
        "attributes",
        "deferred",
        "events",
        "kind",
        "links",
        "name",
        "parent",
        "start_time",
        "status",
    )

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        clock: Callable[[], int],
        finish: Callable[[LiteSpan], None],
    ) -> None:
        self.name = name
        self._context = context
        self.parent = parent
        self.kind = kind
        self._clock = clock
        self._finish = finish
        self.start_time = clock()
        self._end_time: int | None = None
        self.attributes: dict[str, Any] = {}
        # Lists made on first use: most tool calls have neither, and fewer objects per call means
        # fewer garbage-collector pauses on the agent's thread.
        self.events: list[tuple[str, Mapping[str, Any], int]] | None = None
        self.links: list[Link] | None = None
        self.status = _UNSET
        self.deferred: Deferred | None = None

    @property
    def end_time(self) -> int | None:
        return self._end_time

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time if end_time is not None else self._clock()
        self._finish(self)

    def get_span_context(self) -> SpanContext:
        return self._context

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        if self._end_time is None:
            self.attributes.update(attributes)

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self._end_time is None:
            self.attributes[key] = value

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._end_time is None:
            if self.events is None:
                self.events = []
            self.events.append((name, dict(attributes or {}), timestamp or self._clock()))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end_time is None and context.is_valid:
            if self.links is None:
                self.links = []
            self.links.append(Link(context, dict(attributes or {})))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self.name = name

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._end_time is not None or self.status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        # The semantic conventions' exception event, as the SDK's span writes it.
        kind = type(exception)
        module = kind.__module__
        event: dict[str, Any] = {
            "exception.type": kind.__qualname__
            if module in ("builtins", "")
            else f"{module}.{kind.__qualname__}",
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        event.update(attributes or {})
        self.add_event("exception", event, timestamp)


class LiteSpans:
    """Starts light spans for one provider; `start` returns None when the SDK's span must be used."""

    def __init__(
        self,
        generate_trace_id: Callable[[], int],
        generate_span_id: Callable[[], int],
        random_trace_ids: bool,
        finish: Callable[[LiteSpan], None],
    ) -> None:
        self._trace_id = generate_trace_id
        self._span_id = generate_span_id
        self._random = random_trace_ids
        self._finish = finish

    @staticmethod
    def usable(id_generator: object) -> bool:
        """Only with the SDK's default sampler (chosen from the environment) and a known id generator."""
        return not os.environ.get("OTEL_TRACES_SAMPLER") and hasattr(id_generator, "generate_span_id")

    def start(self, name: str, kind: SpanKind, clock: Callable[[], int] | None) -> LiteSpan | None:
        parent = trace.get_current_span().get_span_context()
        if parent.is_valid:
            if not parent.trace_flags.sampled:
                return None  # the SDK's sampler makes a non-recording span here: let it
            flags = TraceFlags(TraceFlags.SAMPLED | (parent.trace_flags & TraceFlags.RANDOM_TRACE_ID))
            ids = SpanContext(parent.trace_id, self._span_id(), False, flags, parent.trace_state)
            return LiteSpan(name, ids, parent, kind, clock or time.time_ns, self._finish)
        flags = _ROOT_FLAGS if self._random else TraceFlags(TraceFlags.SAMPLED)
        ids = SpanContext(self._trace_id(), self._span_id(), False, flags)
        return LiteSpan(name, ids, None, kind, clock or time.time_ns, self._finish)
