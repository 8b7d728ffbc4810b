"""Fixtures shared by the integration tests: a local provider server speaking the SDKs' wire format,
and tracing into a temporary SQLite store whose spans a test reads back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from railguard.trace import Tracing, configure_tracing

from .fake_providers import FakeProvider, TracedStore, serving, tracing_into


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with serving() as fake:
        yield fake


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[TracedStore]:
    with tracing_into(tmp_path) as store:
        yield store


@pytest.fixture
def tracing(tmp_path: Path) -> Iterator[Tracing]:
    setup = configure_tracing(f"sqlite:///{tmp_path / 'traces.db'}", service_name="integration-test")
    yield setup
    setup.shutdown()
