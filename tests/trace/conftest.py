"""Tracing fixtures: every test ends with tracing shut down, so tests never share a setup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from trace_fakes import BLOCKING_POLICY

from railguard.engine import Engine
from railguard.trace import Tracing, active_tracing, configure_tracing, trace_engine


@pytest.fixture(autouse=True)
def _no_tracing_left_over() -> Iterator[None]:
    yield
    active = active_tracing()
    if active is not None:
        active.shutdown()


@pytest.fixture
def memory() -> InMemorySpanExporter:
    """The SDK's own in-memory exporter, behind the redaction processor like any other exporter."""
    return InMemorySpanExporter()


@pytest.fixture
def traced(memory: InMemorySpanExporter) -> Iterator[Tracing]:
    tracing = configure_tracing(exporters=[memory], service_name="test-agent")
    yield tracing
    tracing.shutdown()


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine.from_yaml(BLOCKING_POLICY)
    unsubscribe = trace_engine(eng)
    yield eng
    unsubscribe()
