"""`DecisionLog`: the one writer of decision-log records, used by the tracing sink (and through it the
server and every integration), `railguard check --db` and the approvals service.

Every call of `record` is one decision event with a fresh `event_id`: a retry of the same tool call,
a re-check after approval and a later identical call share a `decision_id` but are distinct events,
never overwritten (the store numbers them per decision id: `seq`). Records are redacted here, before
they leave the process, and say what was masked (paths and kinds, never values).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from railguard.model import Decision
from railguard.trace._redaction import RedactionPolicy, redact_decision_record

WriteRecords = Callable[[Sequence[Mapping[str, Any]]], object]


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """One decision as it happened: the decision and the span (if any) it was recorded on. The ids
    may be given as the span context's integers: they are spelled in hex when the record is built."""

    decision: Decision
    trace_id: str | int | None = None
    span_id: str | int | None = None


class DecisionLog:
    """Builds redacted DecisionV1 records and hands them to `write` (`Store.write_decisions`, or a
    background writer's `submit_decisions`)."""

    def __init__(self, write: WriteRecords, policy: RedactionPolicy | None = None) -> None:
        self._write = write
        self.policy = policy or RedactionPolicy()

    def record(self, event: DecisionEvent | Decision) -> dict[str, Any]:
        """The redacted record of one event, with its own `event_id`."""
        if isinstance(event, Decision):
            event = DecisionEvent(event)
        raw = event.decision.to_record(trace_id=_hex(event.trace_id, 32), span_id=_hex(event.span_id, 16))
        record = redact_decision_record(raw, self.policy)
        record["event_id"] = new_event_id()
        return record

    def write(self, events: Iterable[DecisionEvent | Decision]) -> None:
        """Record and write events."""
        records = [self.record(e) for e in events]
        if records:
            self._write(records)


def _hex(span_or_trace_id: str | int | None, digits: int) -> str | None:
    # The W3C spelling, as opentelemetry.trace.format_trace_id / format_span_id write it.
    return f"{span_or_trace_id:0{digits}x}" if isinstance(span_or_trace_id, int) else span_or_trace_id


_EVENT_IDS_PER_READ = 256
_event_ids: list[str] = []  # drawn but unused ids; list.pop/extend are atomic, so threads share it
if hasattr(os, "register_at_fork"):  # a forked child must not hand out its parent's ids again
    os.register_at_fork(after_in_child=_event_ids.clear)


def new_event_id() -> str:
    """128 random bits in hex (the length of a uuid4's hex). One decision is one id: the random
    bytes are read 256 ids at a time, since each read is a system call (as costly as a uuid4's)."""
    try:
        return _event_ids.pop()
    except IndexError:
        block = os.urandom(16 * _EVENT_IDS_PER_READ).hex()
        _event_ids.extend(block[i : i + 32] for i in range(32, len(block), 32))
        return block[:32]
