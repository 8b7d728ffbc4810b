"""Tracing failures (an exporter raising, the store down, a full queue) never reach the agent; they
are counted in `Tracing.stats()`."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from railguard._scope import run
from railguard.engine import Engine
from railguard.model import Action
from railguard.trace import RedactingSpanProcessor, _processor, configure_tracing, model_call, tool_call


class RaisingExporter(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        raise ConnectionError("backend down")

    def shutdown(self) -> None:
        raise RuntimeError("cannot shut down either")


class BlockedExporter(SpanExporter):
    """Holds the export thread until released: the queue behind it fills up."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(30)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def _agent_steps(engine: Engine) -> str:
    with run(agent="a", tenant="t"):
        with model_call("openai", "gpt-4o") as call:
            call.record_usage(input_tokens=10, output_tokens=2)
        with tool_call("send_email", args={"to": "a@corp.example.com"}) as tool:
            decision = engine.check(Action("send_email", {"to": "a@corp.example.com"}))
            tool.record_result("ok")
    return decision.verdict.value


def test_a_raising_exporter_does_not_stop_the_others_or_the_agent(
    engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="railguard")
    raising, memory = RaisingExporter(), InMemorySpanExporter()
    tracing = configure_tracing(exporters=[raising, memory])
    assert _agent_steps(engine) == "allow"
    tracing.flush()
    assert raising.calls >= 1
    assert len(memory.get_finished_spans()) == 3
    stats = tracing.stats()
    assert stats["export_failures"] >= 1 and stats["spans_exported"] == 3
    assert stats["internal_errors"]["tracing.export"] >= 1
    monkeypatch.delenv("RAILGUARD_RAISE_INTERNAL_ERRORS")  # the failing shutdown is a bug, on purpose
    tracing.shutdown()  # the exporter's failing shutdown is swallowed too ...
    assert engine.stats.sink_errors == 0
    # ... and both failures were logged where a person sees them (a collector down is a warning).
    logged = {(r.levelno, r.getMessage().split("]")[0]) for r in caplog.records}
    assert (logging.WARNING, "railguard internal error [tracing.export") in logged
    assert (logging.ERROR, "railguard internal error [tracing.shutdown") in logged
    assert "backend down" in caplog.text and "cannot shut down either" in caplog.text


def test_the_store_going_down_is_counted_not_raised(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="railguard")
    db = tmp_path / "t.db"
    tracing = configure_tracing(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:  # the store breaks under the running agent
        conn.execute("DROP TABLE spans")
    assert _agent_steps(engine) == "allow"
    tracing.flush(timeout_s=1.0)
    stats = tracing.stats()
    assert stats["store"]["errors"] >= 1
    assert stats["store"]["last_error"] == "StoreError"
    # Logged as an expected failure (a warning), with the store's own message.
    (logged,) = [r for r in caplog.records if "[background.store-writer]" in r.getMessage()]
    assert logged.levelno == logging.WARNING and "no such table: spans" in logged.getMessage()
    tracing.shutdown()
    assert tracing.stats()["dropped"] >= 3  # what could not be written is reported lost


def test_a_full_queue_drops_and_counts_without_blocking_the_agent() -> None:
    blocked = BlockedExporter()
    processor = RedactingSpanProcessor([blocked], max_queue=5, max_batch=1, interval_s=0.01)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    tracer.start_span("first").end()
    assert blocked.entered.wait(10)  # the export thread now holds one span
    for i in range(20):
        tracer.start_span(f"s{i}").end()  # returns at once although nothing is exported
    assert processor.stats()["spans_dropped"] == 15
    blocked.release.set()
    provider.shutdown()
    assert blocked.exported == 6
    assert processor.stats()["spans_dropped"] == 15


def test_bad_inputs_to_the_recorder_are_ignored(engine: Engine) -> None:
    memory = InMemorySpanExporter()
    tracing = configure_tracing(exporters=[memory])

    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("no")

    with model_call("openai", "gpt-4o", input_messages=[Unprintable()]) as call:
        assert call.record_usage(input_tokens=5, cache_read_tokens=50) is None  # inconsistent: no cost
        call.record_usage(input_tokens="many")  # type: ignore[arg-type]
    with tool_call("t", args={"x": Unprintable()}):
        pass
    tracing.flush()
    spans = {s.name: s for s in memory.get_finished_spans()}
    assert dict(spans["chat gpt-4o"].attributes or {})["gen_ai.input.messages"] == '"<unserializable>"'
    assert "railguard.cost.usd" not in dict(spans["chat gpt-4o"].attributes or {})


def test_configure_is_idempotent_and_replacing_shuts_the_old_setup_down() -> None:
    memory = InMemorySpanExporter()
    first = configure_tracing(exporters=[memory])
    assert configure_tracing(exporters=[memory]) is first
    other = InMemorySpanExporter()  # a setup owns its exporters: replacing it shuts them down
    second = configure_tracing(exporters=[other], service_name="other")
    assert second is not first and first.closed
    with tool_call("t"):
        pass
    second.flush()
    (span,) = other.get_finished_spans()
    assert span.resource.attributes["service.name"] == "other"
    second.shutdown()
    with tool_call("after"):
        pass
    assert len(other.get_finished_spans()) == 1  # off after shutdown


class SlowFlushingExporter(SpanExporter):
    """Each flush takes `cost_s` on the test's clock and records the time it was given."""

    def __init__(self, now: list[float], cost_s: float) -> None:
        self.now, self.cost_s = now, cost_s
        self.given_ms: list[int] = []
        self.shut_down = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.given_ms.append(timeout_millis)
        self.now[0] += self.cost_s
        return True

    def shutdown(self) -> None:
        self.shut_down = True


def test_shutdown_shares_one_deadline_across_exporters(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(_processor, "clock", lambda: now[0])
    first, second = SlowFlushingExporter(now, 4.0), SlowFlushingExporter(now, 4.0)
    tracing = configure_tracing(exporters=[first, second])
    with tool_call("t"):
        pass
    tracing.shutdown(timeout_s=5.0)
    # The first exporter got the whole 5 s and used 4; the second got what was left, then nothing.
    assert first.given_ms[0] == 5000
    assert second.given_ms[0] <= 1000
    assert first.given_ms[1:] == [0] and second.given_ms[1:] == [0]
    assert first.shut_down and second.shut_down and tracing.closed
