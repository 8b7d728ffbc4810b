"""BatchWriter: concurrent producers, back-pressure by dropping, retry after storage failures."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from store_helpers import agent_run

from railguard.store import BatchWriter, Store, open_store
from railguard.store._schema import metadata, spans


def test_everything_submitted_by_many_threads_is_written(store: Store) -> None:
    writer = BatchWriter(store, max_batch=150, flush_interval_s=0.05)
    per_thread = 60

    def produce(worker: int) -> None:
        for i in range(per_thread):
            trace = f"w{worker}-{i}"
            assert writer.submit_spans(agent_run(trace, tenant="acme"))
            assert writer.submit_decisions([{"decision_id": trace, "tool": "shell", "verdict": "allow"}])

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.flush(timeout=120)
    stats = writer.stats()
    writer.close()
    runs = 4 * per_thread
    assert stats == {"queued": 0, "written": runs * 5, "dropped": 0, "errors": 0, "last_error": None}
    assert len(store.list_runs(tenant="acme", limit=1000)) == runs
    assert len(store.list_decisions(tenant=None, limit=1000)) == runs


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'q.db'}") as store:
        # A long interval and a big batch: nothing is written until flush(), so the queue fills.
        writer = BatchWriter(store, max_queue=10, max_batch=1000, flush_interval_s=3600)
        assert writer.submit_spans(agent_run("a", tenant="acme"))
        assert writer.submit_spans(agent_run("b", tenant="acme"))
        assert not writer.submit_spans(agent_run("c", tenant="acme"))  # 8 queued + 4 > 10
        assert writer.stats()["dropped"] == 4
        writer.flush(timeout=60)
        assert writer.stats()["written"] == 8
        writer.close()
        assert not writer.submit_spans(agent_run("d", tenant="acme"))
        assert writer.stats()["dropped"] == 8
        assert sorted(r.trace_id for r in store.list_runs(tenant="acme")) == ["a", "b"]


def test_storage_failures_are_counted_and_retried_until_they_succeed(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    with open_store(f"sqlite:///{path}") as store:
        with sqlite3.connect(path) as raw:  # break the store from the outside: its table disappears
            raw.execute("DROP TABLE spans")
        writer = BatchWriter(store, flush_interval_s=0.01)
        assert writer.submit_spans(
            agent_run("t1", tenant="acme")
        )  # accepted: the caller never sees the failure
        deadline = time.monotonic() + 60
        while writer.stats()["errors"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        failing = writer.stats()
        assert failing["errors"] >= 2 and failing["queued"] == 4 and failing["written"] == 0
        assert failing["last_error"] == "StoreError"

        metadata.create_all(store.engine, tables=[spans])  # repair
        writer.flush(timeout=60)
        assert writer.stats()["written"] == 4
        writer.close()
        assert len(store.get_trace("t1", tenant="acme")) == 4


def test_close_gives_up_on_a_dead_store_and_counts_the_rest_as_dropped(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    with open_store(f"sqlite:///{path}") as store:
        with sqlite3.connect(path) as raw:
            raw.execute("DROP TABLE spans")
        writer = BatchWriter(store, flush_interval_s=0.01)
        writer.submit_spans(agent_run("t1", tenant="acme"))
        writer.close(timeout=0.5)
        assert writer.stats()["dropped"] == 4 and writer.stats()["queued"] == 0


def test_decision_rows_made_on_submit_are_written_as_records_are(store: Store) -> None:
    """`rows_on_submit` (the server's writer): the same decisions stored, in order, counted the same."""
    writer = BatchWriter(store, max_batch=7, flush_interval_s=0.05, rows_on_submit=True)
    for i in range(20):
        assert writer.submit_decisions([{"decision_id": f"rows-{i}", "tool": "shell", "verdict": "allow",
                                         "context": {"tenant": "rows"}}])  # fmt: skip
    writer.flush(timeout=60)
    stats = writer.stats()
    writer.close()
    assert stats["written"] == 20 and stats["dropped"] == 0 and stats["errors"] == 0
    stored = store.list_decisions(tenant="rows", limit=100)
    assert sorted(r["decision_id"] for r in stored) == sorted(f"rows-{i}" for i in range(20))
    assert all(r["seq"] == 1 and r["verdict"] == "allow" for r in stored)
