"""`BatchWriter`: the one background writer thread per process for a store.

Callers (span processors, the engine's decision log) hand rows over without waiting for the
database; the thread writes them in batches. Nothing it does raises into a caller's thread: when
the queue is full new rows are dropped and counted, and a failed write is retried with backoff while
the rows stay queued.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from railguard.store._rows import SpanRow
from railguard.store._store import Store

_BACKOFF_START_S = 0.05
_BACKOFF_MAX_S = 5.0


class BatchWriter:
    def __init__(
        self,
        store: Store,
        *,
        max_queue: int = 100_000,
        max_batch: int = 2000,
        flush_interval_s: float = 0.2,
    ) -> None:
        self._store = store
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._interval = flush_interval_s
        self._spans: collections.deque[SpanRow] = collections.deque()
        self._decisions: collections.deque[Mapping[str, Any]] = collections.deque()
        self._in_flight = 0
        self._written = 0
        self._dropped = 0
        self._errors = 0
        self._last_error: str | None = None
        self._closed = False
        self._flush_requested = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="railguard-store-writer", daemon=True)
        self._thread.start()

    # -- caller side: never blocks on the database, never raises --

    def submit_spans(self, rows: Sequence[SpanRow]) -> bool:
        """Queue spans; False when they were dropped (queue full or writer closed)."""
        return self._submit(self._spans, rows)

    def submit_decisions(self, records: Sequence[Mapping[str, Any]]) -> bool:
        """Queue DecisionV1 records; False when they were dropped."""
        return self._submit(self._decisions, records)

    def _submit(self, queue: collections.deque[Any], items: Sequence[Any]) -> bool:
        with self._cond:
            if self._closed or self._queued() + len(items) > self._max_queue:
                self._dropped += len(items)
                return False
            queue.extend(items)
            if self._queued() >= self._max_batch:
                self._cond.notify_all()
            return True

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything submitted so far is written (or `timeout` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()
            while (self._queued() or self._in_flight) and self._thread.is_alive():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                self._cond.wait(remaining)

    def close(self, timeout: float | None = 10.0) -> None:
        """Write what is queued (up to `timeout` seconds), then stop the thread; later submits are dropped.
        Rows still unwritten at the timeout (the store is down) are counted as dropped."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._cond:
            self._dropped += self._queued()
            self._spans.clear()
            self._decisions.clear()

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {
                "queued": self._queued(),
                "written": self._written,
                "dropped": self._dropped,
                "errors": self._errors,
                "last_error": self._last_error,
            }

    def _queued(self) -> int:
        return len(self._spans) + len(self._decisions)

    # -- the writer thread --

    def _run(self) -> None:
        backoff = _BACKOFF_START_S
        while True:
            with self._cond:
                self._wait_for_batch()
                if not self._queued():
                    self._flush_requested = False
                    if self._closed:
                        return
                    continue
                spans = _take(self._spans, self._max_batch)
                decisions = _take(self._decisions, self._max_batch)
                self._in_flight = len(spans) + len(decisions)
            ok = self._write(spans, self._store.write_spans) and self._write(
                decisions, self._store.write_decisions
            )
            with self._cond:
                self._in_flight = 0
                if not ok:  # put the batch back in front, in order, and try again after a pause
                    self._spans.extendleft(reversed(spans))
                    self._decisions.extendleft(reversed(decisions))
                self._cond.notify_all()
                if ok:
                    backoff = _BACKOFF_START_S
                elif self._closed:
                    return  # closing while the store fails: close() counts what is left as dropped
                else:
                    self._cond.wait(backoff)
                    backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def _wait_for_batch(self) -> None:
        """Under the condition's lock: until a full batch, the flush interval, a flush() or close()."""
        deadline = time.monotonic() + self._interval
        while not (self._closed or self._flush_requested or self._queued() >= self._max_batch):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _write(self, items: list[Any], write: Callable[[Any], int]) -> bool:
        if not items:
            return True
        try:
            write(items)
        except Exception as exc:  # any storage failure: count it, keep the rows, retry
            with self._cond:
                self._errors += 1
                self._last_error = type(exc).__name__
            return False
        with self._cond:
            self._written += len(items)
            items.clear()  # written: a retry of the other kind in this round must not re-queue these
        return True


def _take(queue: collections.deque[Any], n: int) -> list[Any]:
    return [queue.popleft() for _ in range(min(n, len(queue)))]
