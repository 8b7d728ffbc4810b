"""`configure_tracing(...)`: Railguard's TracerProvider with the redaction processor in front of
the store exporter, an OTLP/HTTP exporter and any exporters you pass."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from railguard import _scope
from railguard._background import BackgroundBatches
from railguard._internal import internal_error_counts
from railguard.store import Store, open_store
from railguard.trace import _processor, _state
from railguard.trace._decision_log import DecisionEvent, DecisionLog
from railguard.trace._processor import RedactingSpanProcessor, seconds_left
from railguard.trace._redaction import RedactionPolicy
from railguard.trace._spans import run_span
from railguard.trace._state import active_tracing
from railguard.trace._store_export import StoreSpanExporter

_INSTRUMENTATION = "railguard"
_OTLP_TIMEOUT_S = 5.0


class Tracing:
    """The active tracing setup: `flush()`, `stats()`, `shutdown()`."""

    def __init__(
        self,
        provider: TracerProvider,
        processor: RedactingSpanProcessor,
        store_exporter: StoreSpanExporter | None,
        owned_store: Store | None,
        capture_content: bool,
        key: tuple[Any, ...],
    ) -> None:
        self.provider = provider
        self.processor = processor
        self.store_exporter = store_exporter
        self._owned_store = owned_store
        self.key = key
        self.policy = processor.policy
        self._decisions: BackgroundBatches[DecisionEvent] | None = None
        self.decision_log: DecisionLog | None = None
        if store_exporter is not None:
            self.decision_log = DecisionLog(store_exporter.submit_decisions, self.policy)
            self._decisions = BackgroundBatches(self.decision_log.write, name="railguard-decision-log")
        self.recorder = _state.Recorder(
            enabled=True,
            tracer=provider.get_tracer(_INSTRUMENTATION),
            capture_content=capture_content,
            submit_decision=self._decisions.put if self._decisions is not None else None,
            pending=processor.pending,
            lite=processor.lite_spans(provider, _INSTRUMENTATION),
        )
        self.closed = False

    @property
    def store(self) -> Store | None:
        return self.store_exporter.store if self.store_exporter is not None else None

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Export everything recorded so far (spans and decisions) and wait for the store to have it,
        within one `timeout_s` for all of it."""
        deadline = _processor.clock() + timeout_s
        done = self.processor.force_flush(int(timeout_s * 1000))
        if self._decisions is not None:
            done = self._decisions.flush(seconds_left(deadline)) and done
        if self.store_exporter is not None:
            done = self.store_exporter.force_flush(int(seconds_left(deadline) * 1000)) and done
        return done

    def stats(self) -> dict[str, Any]:
        """Counters; `dropped` sums every span or decision lost on the way (queue full, store down)."""
        out = self.processor.stats()
        dropped = out["spans_dropped"]
        if self._decisions is not None:
            out["decisions_accepted"] = self._decisions.accepted
            out["decisions_dropped"] = self._decisions.dropped
            dropped += self._decisions.dropped
        if self.store_exporter is not None:
            store = self.store_exporter.writer.stats()
            out["store"] = store
            dropped += store["dropped"]
        out["dropped"] = dropped
        out["internal_errors"] = internal_error_counts()  # Railguard's own failures, by kind
        return out

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Flush, stop the background threads, close a store this setup opened; everything within
        one `timeout_s` shared by the processor and every exporter (what is still unwritten then
        is counted as dropped). Idempotent."""
        if self.closed:
            return
        self.closed = True
        deadline = _processor.clock() + timeout_s
        _deactivate(self)
        self.flush(timeout_s)
        # Decision events first (they feed the store writer), then the processor and, through it,
        # every exporter: the store's writer last.
        if self._decisions is not None:
            self._decisions.close(seconds_left(deadline))
        self.processor.shutdown(seconds_left(deadline))
        self.provider.shutdown()  # the processor is shut down already: this only marks the provider
        if self._owned_store is not None:
            self._owned_store.close()


_lock = threading.Lock()
_active = _state._tracing


def configure_tracing(
    store: Store | str | None = None,
    *,
    otlp_endpoint: str | None = None,
    service_name: str = "railguard-agent",
    redaction: RedactionPolicy | None = None,
    exporters: Sequence[SpanExporter] = (),
    capture_content: bool = True,
    service_version: str | None = None,
    clock: Callable[[], int] | None = None,
) -> Tracing:
    """Turn tracing on for this process and return the setup.

    `store`: a Store, a store URL, or None. With no store, no OTLP endpoint and no exporters, spans
    go to the embedded SQLite store (`open_store(None)`). `otlp_endpoint`: an OTLP/HTTP collector
    (`http://host:4318`, `/v1/traces` is added when no path is given). `capture_content`: record
    tool arguments/results and model messages (redacted on export). Calling it again with the same
    arguments returns the active setup; with other arguments it replaces (and shuts down) it.
    `clock`: span start/end times in Unix nanoseconds (default: the wall clock), for simulations.
    """
    key = (
        store if isinstance(store, str | None) else id(store),
        otlp_endpoint,
        service_name,
        id(redaction) if redaction is not None else None,
        tuple(id(e) for e in exporters),
        capture_content,
        service_version,
        id(clock) if clock is not None else None,
    )
    with _lock:
        current = active_tracing()
        if current is not None and current.key == key:
            return current
    if current is not None:
        current.shutdown()
    tracing = _build(
        store, otlp_endpoint, service_name, redaction, exporters, capture_content, service_version, key
    )
    if clock is not None:
        tracing.recorder = dataclasses.replace(tracing.recorder, clock=clock)
    with _lock:
        _active[:] = [tracing]
        _state.activate(tracing.recorder)
        if run_span not in _scope.RUN_HOOKS:
            _scope.RUN_HOOKS.append(run_span)
    return tracing


def _build(
    store: Store | str | None,
    otlp_endpoint: str | None,
    service_name: str,
    redaction: RedactionPolicy | None,
    exporters: Sequence[SpanExporter],
    capture_content: bool,
    service_version: str | None,
    key: tuple[Any, ...],
) -> Tracing:
    owned: Store | None = None
    if store is None and otlp_endpoint is None and not exporters:
        store = owned = open_store(None)
    elif isinstance(store, str):
        store = owned = open_store(store)
    chain: list[SpanExporter] = []
    store_exporter = StoreSpanExporter(store) if store is not None else None
    if store_exporter is not None:
        chain.append(store_exporter)
    if otlp_endpoint is not None:
        chain.append(_otlp_exporter(otlp_endpoint))
    chain.extend(exporters)
    resource_attributes = {"service.name": service_name}
    if service_version:
        resource_attributes["service.version"] = service_version
    provider = TracerProvider(resource=Resource.create(resource_attributes))
    processor = RedactingSpanProcessor(chain, redaction)
    provider.add_span_processor(processor)
    return Tracing(provider, processor, store_exporter, owned, capture_content, key)


def _otlp_exporter(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if urlsplit(endpoint).path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint, timeout=_OTLP_TIMEOUT_S)


def _deactivate(tracing: Tracing) -> None:
    with _lock:
        if tracing in _active:
            _active.clear()
            _state.activate(_state.DISABLED)
            if run_span in _scope.RUN_HOOKS:
                _scope.RUN_HOOKS.remove(run_span)
