"""What a tool-call span will carry, kept as plain Python values on the agent's thread and turned
into span attributes (JSON-encoded, decision fields spelled out) on the export thread.

The SDK cleans every attribute it is given (type checks, copies, a lock per call): for a tool call
that was a fifth of its cost on the agent's thread, and the arguments' JSON another slice. The
redaction processor merges a span's `Deferred` into its attributes before redacting, so what leaves
the process is the same span, exactly as redacted; only the work moved off the agent's thread."""

from __future__ import annotations

import json
from typing import Any

from railguard._internal import internal_error
from railguard.model import Decision
from railguard.trace import _keys as k

# One encoder for every call: json.dumps with options builds a new encoder each time.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)

UNSET: Any = object()  # "not recorded", distinct from a recorded None (which is JSON null)


def to_json(value: Any) -> str:
    try:
        return _ENCODER.encode(value)
    except Exception as err:  # the agent's object cannot be written: keep tracing alive, lose the content
        internal_error("tracing.content", err, expected=True)
        return '"<unserializable>"'


def decision_attributes(decision: Decision) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        k.VERDICT: decision.verdict.value,
        k.DECISION_ID: decision.decision_id,
        k.MODE: decision.mode.value,
        k.RULES: [hit.rule for hit in decision.hits],
    }
    if decision.policy_revision:
        attributes[k.POLICY_REVISION] = decision.policy_revision
    if decision.would_verdict is not decision.verdict:
        attributes[k.WOULD_VERDICT] = decision.would_verdict.value
    if decision.reason:
        attributes[k.REASON] = decision.reason
    return attributes


class Deferred:
    """Attributes of one open span, not yet encoded. Written only on the agent's thread while the
    span is open; read only on the export thread after the span ended (the processor takes it out
    of the pending table in `on_end`, so the two never overlap)."""

    __slots__ = ("args", "attributes", "decision", "result")

    def __init__(self, attributes: dict[str, Any], args: Any = UNSET) -> None:
        self.attributes = attributes  # already plain, valid attribute values
        self.args = args
        self.result: Any = UNSET
        self.decision: Decision | None = None

    def materialize(self) -> dict[str, Any]:
        out = dict(self.attributes)
        if self.args is not UNSET:
            out[k.TOOL_ARGUMENTS] = to_json(self.args)
        if self.result is not UNSET:
            out[k.TOOL_RESULT] = to_json(self.result)
        if self.decision is not None:
            out.update(decision_attributes(self.decision))
        return out
