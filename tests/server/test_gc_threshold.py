"""The server's young-generation threshold stays above what the background writer's queue holds, so a
steady stream of checks triggers no collection (each one a pause every request in flight waits out);
the server's writer queues each decision as one flat row; `railguard serve` shortens the GIL's
switch interval."""

from __future__ import annotations

import gc
import inspect
import sys
from pathlib import Path
from typing import Any

from railguard import Action, Context, Engine
from railguard.server import ServerSettings, create_app
from railguard.server.app import GC_YOUNG_THRESHOLD, GIL_SWITCH_INTERVAL_S
from railguard.store import BatchWriter, Store, open_store
from railguard.store._decision_writes import decision_row
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


def test_the_servers_writer_queues_one_flat_row_per_decision(tmp_path: Path) -> None:
    """Nested records queued by thousands (a writer waiting on the GIL or the store) had filled the
    young generation: collections of 10-40 ms, every request in flight waiting them out."""
    engine = Engine(packs=["default"])
    decision = engine.check(Action("bash", {"command": "rm -rf /"}, context=Context(tenant="t", run="r")))
    record = DecisionLog(lambda _records: None).record(decision)
    assert _containers(("decision", decision_row(record))) == 2
    assert _containers(("decision", record)) >= 3 * 2
    with open_store(f"sqlite:///{tmp_path / 'rg.db'}") as store:
        assert _writer_of(store).rows_on_submit


def _writer_of(store: Store) -> BatchWriter:
    writer: BatchWriter = create_app(store).state.writer
    writer.close()
    return writer


def test_serve_settings_shorten_the_gil_switch_interval(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    before_interval, before_threshold = sys.getswitchinterval(), gc.get_threshold()
    try:
        with (
            open_store(f"sqlite:///{tmp_path / 'rg.db'}") as store,
            TestClient(create_app(store, settings=ServerSettings(freeze_gc=True))),
        ):
            assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S
            assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    finally:  # the test process is no server: its settings as they were
        sys.setswitchinterval(before_interval)
        gc.set_threshold(*before_threshold)
        gc.unfreeze()
