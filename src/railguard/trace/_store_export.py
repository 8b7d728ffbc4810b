"""Export to Railguard's own store: spans as wide rows and decision records, through the store's
background `BatchWriter` (export only queues; the writer thread owns the database)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import format_span_id, format_trace_id

from railguard.store import BatchWriter, SpanRow, Store


def span_to_row(span: ReadableSpan) -> SpanRow:
    """One SDK span as the store's wide row (columns picked out by SpanRow.from_otel)."""
    context = span.context
    if context is None:
        raise ValueError("a span without a context cannot be stored (no trace id)")
    parent = span.parent
    return SpanRow.from_otel(
        trace_id=format_trace_id(context.trace_id),
        span_id=format_span_id(context.span_id),
        parent_span_id=format_span_id(parent.span_id) if parent is not None else None,
        name=span.name,
        kind=span.kind,
        start_ns=span.start_time or 0,
        end_ns=span.end_time or span.start_time or 0,
        status=span.status.status_code,
        status_message=span.status.description,
        attributes=_plain(span.attributes),
        resource=_plain(span.resource.attributes),
        events=[
            {"name": e.name, "timestamp_ns": e.timestamp, "attributes": _plain(e.attributes)}
            for e in span.events
        ],
    )


def _plain(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """JSON-ready: sequence attributes as lists."""
    if not attributes:
        return {}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in attributes.items()}


class StoreSpanExporter(SpanExporter):
    """A SpanExporter into a Railguard `Store`. Put it behind the redaction processor (as
    `configure_tracing` does): it writes what it is given."""

    def __init__(self, store: Store, writer: BatchWriter | None = None) -> None:
        self.store = store
        self._owns_writer = writer is None
        self.writer = writer or BatchWriter(store)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        rows = [span_to_row(span) for span in spans]
        return SpanExportResult.SUCCESS if self.writer.submit_spans(rows) else SpanExportResult.FAILURE

    def submit_decisions(self, records: Sequence[Mapping[str, Any]]) -> bool:
        """Queue (already redacted) DecisionV1 records for the store."""
        return self.writer.submit_decisions(records)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.writer.flush(timeout_millis / 1000)
        return self.writer.stats()["queued"] == 0

    def shutdown(self, timeout_s: float = 10.0) -> None:
        if self._owns_writer:
            self.writer.close(timeout_s)
