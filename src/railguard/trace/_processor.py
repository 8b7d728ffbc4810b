"""The redaction processor: the one way out for Railguard's spans. `on_end` (on the agent's thread)
only queues the finished span; a background thread builds a redacted copy of each span (the SDK's
ReadableSpan is immutable) and hands the batch to every exporter. Nothing reaches an exporter
unredacted, and no exporter failure reaches the agent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, Status

from railguard._background import BackgroundBatches
from railguard._internal import internal_error
from railguard.trace._deferred import Deferred
from railguard.trace._keys import REDACTED
from railguard.trace._lite_span import LiteSpan, LiteSpans
from railguard.trace._redaction import RedactionPolicy, Redactor
from railguard.trace._store_export import StoreSpanExporter


def redact_resource(resource: Resource, policy: RedactionPolicy) -> Resource:
    return Resource(Redactor(policy).attributes(resource.attributes), resource.schema_url)


def redact_span(
    span: ReadableSpan,
    policy: RedactionPolicy,
    resource: Resource | None = None,
    deferred: Deferred | None = None,
) -> ReadableSpan:
    """A copy of `span` with its name, attributes, events, links, status text and resource cleaned
    (pass `resource` when it is already clean), and a `railguard.redacted` attribute listing
    `where:kind` for each redaction in the span itself. `deferred`: attributes the span's recorder
    kept aside (see _deferred), merged in before redaction; the span's own win on a clash."""
    redactor = Redactor(policy)
    source = span.attributes
    if deferred is not None:
        # Cleaned as the SDK would have on the agent's thread (invalid values dropped).
        source = BoundedAttributes(attributes={**deferred.materialize(), **(span.attributes or {})})
    attributes = redactor.attributes(source)
    events = [
        Event(
            redactor.text(event.name, "event.name"),
            redactor.attributes(event.attributes, f"event:{event.name}/"),
            event.timestamp,
        )
        for event in span.events
    ]
    links = [Link(link.context, redactor.attributes(link.attributes, "link/")) for link in span.links]
    status = span.status
    if status.description:
        status = Status(status.status_code, redactor.text(status.description, "status"))
    name = redactor.text(span.name, "span.name")
    if redactor.hits:
        attributes[REDACTED] = redactor.record()
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=resource if resource is not None else redact_resource(span.resource, policy),
        attributes=attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


# The clock shutdown and flush deadlines are measured on (a test advances a fake one).
clock: Callable[[], float] = time.monotonic


class RedactingSpanProcessor(SpanProcessor):
    """Queue finished spans; redact and export them in batches on a background thread."""

    def __init__(
        self,
        exporters: Sequence[SpanExporter],
        policy: RedactionPolicy | None = None,
        *,
        max_queue: int = 20_000,
        max_batch: int = 512,
        interval_s: float = 0.5,
    ) -> None:
        self.policy = policy or RedactionPolicy()
        self._exporters = list(exporters)
        self._resources: dict[int, tuple[Resource, Resource]] = {}
        self._resource_lock = threading.Lock()
        self.export_failures = 0
        self._shut_down = False
        # Span id -> attributes its recorder kept aside, taken out when the span ends (Recorder.pending).
        self.pending: dict[int, Deferred] = {}
        # Where light spans come from (set by `lite_spans`): resource, instrumentation scope, limits.
        self._lite_origin: tuple[Resource, InstrumentationScope, SpanLimits] | None = None
        self._queue: BackgroundBatches[tuple[ReadableSpan | LiteSpan, Deferred | None]] = BackgroundBatches(
            self._export,
            name="railguard-trace-export",
            max_queue=max_queue,
            max_batch=max_batch,
            interval_s=interval_s,
        )

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        ids = span.context
        if ids is None:
            return
        # Taken out whatever happens next (sampled out, queue full): the table never grows.
        deferred = self.pending.pop(ids.span_id, None)
        if ids.trace_flags.sampled:
            self._queue.put((span, deferred))

    def lite_spans(self, provider: TracerProvider, scope_name: str) -> LiteSpans | None:
        """Light tool-call spans for `provider`, whose only way out must be this processor; None
        when its sampler is not the default one."""
        ids = provider.id_generator
        if not LiteSpans.usable(ids):
            return None
        self._lite_origin = (provider.resource, InstrumentationScope(scope_name, ""), SpanLimits())
        return LiteSpans(
            ids.generate_trace_id, ids.generate_span_id, ids.is_trace_id_random(), self._end_lite
        )

    def _end_lite(self, span: LiteSpan) -> None:
        self._queue.put((span, span.deferred))

    def _readable(self, span: LiteSpan, deferred: Deferred | None) -> ReadableSpan:
        """The SDK's view of a light span, cleaned and bounded as the SDK's own span would be."""
        assert self._lite_origin is not None
        resource, scope, limits = self._lite_origin
        own = span.attributes if deferred is None else {**deferred.materialize(), **span.attributes}
        events = [
            Event(
                name,
                BoundedAttributes(
                    limits.max_event_attributes, attrs, max_value_len=limits.max_attribute_length
                ),
                timestamp,
            )
            for name, attrs, timestamp in (span.events or ())[: limits.max_events]
        ]
        links = [
            Link(
                link.context,
                BoundedAttributes(
                    limits.max_link_attributes, link.attributes, max_value_len=limits.max_attribute_length
                ),
            )
            for link in (span.links or ())[: limits.max_links]
        ]
        return ReadableSpan(
            name=span.name,
            context=span.get_span_context(),
            parent=span.parent,
            resource=resource,
            attributes=BoundedAttributes(
                limits.max_span_attributes, own, max_value_len=limits.max_span_attribute_length
            ),
            events=events,
            links=links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=scope,
        )

    def _clean_resource(self, resource: Resource) -> Resource:
        # One tracer provider has one resource: clean it once, not per span.
        with self._resource_lock:
            cached = self._resources.get(id(resource))
            if cached is None or cached[0] is not resource:
                clean = redact_resource(resource, self.policy)
                cached = self._resources[id(resource)] = (resource, clean)
            return cached[1]

    def _export(self, spans: Sequence[tuple[ReadableSpan | LiteSpan, Deferred | None]]) -> None:
        clean = []
        for span, deferred in spans:
            if isinstance(span, LiteSpan):
                span, deferred = self._readable(span, deferred), None
            clean.append(redact_span(span, self.policy, self._clean_resource(span.resource), deferred))
        for exporter in self._exporters:
            try:
                result = exporter.export(clean)
            except Exception as err:  # one broken backend must not starve the others
                self.export_failures += 1
                # An exporter should report failure, not raise: only a connection error is expected.
                internal_error("tracing.export", err, expected=isinstance(err, OSError))
                continue
            if result is not SpanExportResult.SUCCESS:
                self.export_failures += 1
                # A collector or store that is down: expected, but a person must see it.
                failed = ExportFailed(f"{type(exporter).__name__} failed to export {len(clean)} span(s)")
                internal_error("tracing.export", failed, expected=True)

    def stats(self) -> dict[str, Any]:
        return {
            "spans_accepted": self._queue.accepted,
            "spans_exported": self._queue.handled,
            "spans_queued": self._queue.queued,
            "spans_dropped": self._queue.dropped,
            "export_failures": self.export_failures,
            "processor_errors": self._queue.errors,
        }

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = clock() + timeout_millis / 1000
        done = self._queue.flush(timeout_millis / 1000)
        for exporter in self._exporters:
            try:
                done = exporter.force_flush(_millis_left(deadline)) and done
            except Exception as err:
                internal_error("tracing.flush", err)
                done = False
        return done

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Export what is queued and shut every exporter down, all within one `timeout_s`."""
        if self._shut_down:
            return
        self._shut_down = True
        deadline = clock() + timeout_s
        self._queue.close(seconds_left(deadline))
        for exporter in self._exporters:
            try:
                exporter.force_flush(_millis_left(deadline))
                if isinstance(exporter, StoreSpanExporter):
                    exporter.shutdown(timeout_s=seconds_left(deadline))
                else:
                    exporter.shutdown()
            except Exception as err:
                self.export_failures += 1
                internal_error("tracing.shutdown", err)


class ExportFailed(Exception):
    """An exporter reported that a batch was not exported."""


def seconds_left(deadline: float) -> float:
    return max(0.0, deadline - clock())


def _millis_left(deadline: float) -> int:
    return int(seconds_left(deadline) * 1000)
