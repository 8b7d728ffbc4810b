"""The server's young-generation threshold stays above what the background writer's queue holds, so a
steady stream of checks triggers no collection (each one a pause every request in flight waits out)."""

from __future__ import annotations

import inspect
from typing import Any

from railguard import Action, Context, Engine
from railguard.server.app import GC_YOUNG_THRESHOLD
from railguard.store import BatchWriter
from railguard.trace._decision_log import DecisionLog


def _containers(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_containers(v) for v in value.values())
    if isinstance(value, list | tuple):
        return 1 + sum(_containers(v) for v in value)
    return 0


def test_two_writer_batches_of_queued_decisions_fit_under_the_young_threshold() -> None:
    engine = Engine(packs=["default"])
    context = Context(tenant="t", agent="a", run="r")
    decision = engine.check(Action("bash", {"command": "rm -rf /"}, context=context))
    record = DecisionLog(lambda _records: None).record(decision)
    queued = _containers(("decision", record))  # as BatchWriter queues it
    batch = inspect.signature(BatchWriter).parameters["max_batch"].default
    assert queued >= 5  # the count is real: a blocked decision's record holds its hits
    assert 2 * batch * queued < GC_YOUNG_THRESHOLD  # one batch being written, the next one queued
