"""The process's active tracing setup, read by the recorder functions. Disabled until
`configure_tracing` runs: then spans go to Railguard's own TracerProvider (never to a global one the
user set up, which has no redaction in front of its exporters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import NoOpTracer, Tracer

from railguard.trace._decision_log import DecisionEvent

if TYPE_CHECKING:
    from railguard.trace._deferred import Deferred
    from railguard.trace._lite_span import LiteSpans
    from railguard.trace._setup import Tracing


@dataclass(frozen=True, slots=True)
class Recorder:
    enabled: bool
    tracer: Tracer
    capture_content: bool = True
    # Queues a decision event for the decision log (its record is built and redacted off the agent's
    # thread); None when no store is configured.
    submit_decision: Callable[[DecisionEvent], Any] | None = None
    # Span start/end times in ns; None = the SDK's wall clock. A simulated clock (the week demo,
    # replays) sets it so that spans carry simulated times.
    clock: Callable[[], int] | None = None
    # Span id -> attributes still to be encoded on the export thread (the redaction processor's
    # pending table); None: set attributes on the span directly.
    pending: dict[int, Deferred] | None = None
    # Starts light tool-call spans (see _lite_span); None: the SDK's spans only.
    lite: LiteSpans | None = None


DISABLED = Recorder(enabled=False, tracer=NoOpTracer(), capture_content=False)
_active: list[Recorder] = [DISABLED]  # a one-slot box: swapped whole, read without a lock


def current() -> Recorder:
    return _active[0]


def activate(recorder: Recorder) -> None:
    _active[0] = recorder


_tracing: list[Tracing] = []  # the setup that activated the recorder (set by configure_tracing)


def active_tracing() -> Tracing | None:
    """The active `configure_tracing` setup, or None. Part of the API half: it never loads the SDK
    (when a setup is active, the SDK is loaded already)."""
    return _tracing[0] if _tracing else None
