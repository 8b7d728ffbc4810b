"""The process's active tracing setup, read by the recorder functions. Disabled until
`configure_tracing` runs: then spans go to Railguard's own TracerProvider (never to a global one the
user set up, which has no redaction in front of its exporters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import NoOpTracer, Tracer

from railguard.model import Decision


@dataclass(frozen=True, slots=True)
class Recorder:
    enabled: bool
    tracer: Tracer
    capture_content: bool = True
    # Queues a decision for storage (its record is built and redacted off the agent's thread); None
    # when no store is configured.
    submit_decision: Callable[[Decision], Any] | None = None
    # Span start/end times in ns; None = the SDK's wall clock. A simulated clock (the week demo,
    # replays) sets it so that spans carry simulated times.
    clock: Callable[[], int] | None = None


DISABLED = Recorder(enabled=False, tracer=NoOpTracer(), capture_content=False)
_active: list[Recorder] = [DISABLED]  # a one-slot box: swapped whole, read without a lock


def current() -> Recorder:
    return _active[0]


def activate(recorder: Recorder) -> None:
    _active[0] = recorder
