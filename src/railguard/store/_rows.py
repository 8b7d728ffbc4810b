"""The row types the store reads and writes: one wide `SpanRow` per span, one `RunSummary` per trace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from railguard.store._otel_map import columns_from_attributes, normalize_kind, normalize_status


@dataclass(slots=True)
class SpanRow:
    """One span as one wide row: identity (tenant, session, agent) and the gen_ai/railguard attributes
    the dashboard filters on are columns; everything else stays in `attributes`."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str = "unset"
    status_message: str | None = None
    tenant: str | None = None
    session: str | None = None
    agent: str | None = None
    agent_version: str | None = None
    service: str | None = None
    operation: str | None = None
    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    price_version: str | None = None
    verdict: str | None = None
    decision_id: str | None = None
    rules: str | None = None
    error_type: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    prompt_version: str | None = None  # the prompt's version (railguard.prompt.version and peers' keys)

    @classmethod
    def from_otel(
        cls,
        *,
        trace_id: str,
        span_id: str,
        parent_span_id: str | None,
        name: str,
        kind: Any,
        start_ns: int,
        end_ns: int,
        status: Any,
        status_message: str | None,
        attributes: Mapping[str, Any],
        resource: Mapping[str, Any],
        events: Sequence[Mapping[str, Any]],
        copy: bool = True,
    ) -> SpanRow:
        """Map an OpenTelemetry span (gen_ai semantic conventions, railguard.*, OpenInference or
        OpenLLMetry attributes) onto the wide columns. `kind` and `status` accept names, SDK enums or
        OTLP numbers. `copy=False`: the row keeps the given dicts and list (a caller that built them
        for this row; the rows of one resource may then share its dict, which the store never changes)."""
        columns = columns_from_attributes(attributes, resource, is_root=not parent_span_id)
        return cls(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent_span_id or None,
            name=name,
            kind=normalize_kind(kind),
            start_ns=int(start_ns),
            end_ns=int(end_ns),
            status=normalize_status(status),
            status_message=status_message or None,
            attributes=dict(attributes) if copy or type(attributes) is not dict else attributes,
            events=[dict(e) for e in events] if copy or type(events) is not list else events,
            resource=dict(resource) if copy or type(resource) is not dict else resource,
            **columns,
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run (= one trace) with its aggregates, as the run list shows it."""

    trace_id: str
    tenant: str | None
    agent: str | None
    session: str | None
    start_ns: int
    end_ns: int
    status: str
    span_count: int
    tool_calls: int
    model_calls: int
    blocks: int
    asks: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    root_name: str | None

    @property
    def cursor(self) -> str:
        """Pass as `before=` to `Store.list_runs` to get the next (older) page."""
        return f"{self.start_ns}:{self.trace_id}"

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6
