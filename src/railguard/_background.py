"""A bounded queue drained in batches by one daemon thread: how spans, decision records and store
rows leave the agent's thread.

The producer side only appends under a lock: it never waits for the consumer, never raises, and
counts what it drops when the queue is full. The consumer's failures are counted, never propagated:
with `retry=False` a failed batch is dropped; with `retry=True` it goes back to the front of the queue
(in order) and is tried again after an exponential pause, which is how the store writer rides out a
database that is briefly down. Retried handlers must be idempotent.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from railguard._internal import internal_error
from railguard.errors import StoreError

T = TypeVar("T")

_BACKOFF_START_S = 0.05
_BACKOFF_MAX_S = 5.0


class BackgroundBatches(Generic[T]):
    def __init__(
        self,
        handle: Callable[[Sequence[T]], None],
        *,
        name: str,
        max_queue: int = 20_000,
        max_batch: int = 512,
        interval_s: float = 0.5,
        retry: bool = False,
    ) -> None:
        self._handle = handle
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._interval = interval_s
        self._retry = retry
        self._items: collections.deque[T] = collections.deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._flush_requested = False
        self._closed = False
        self.accepted = 0
        self.handled = 0
        self.dropped = 0
        self._abandoned = False
        self.errors = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> bool:
        """Queue one item; False (and counted) when the queue is full or closed."""
        return self.put_many((item,))

    def put_many(self, items: Sequence[T]) -> bool:
        """Queue items all or none; False (and all counted as dropped) when they don't fit."""
        with self._cond:
            if self._closed or len(self._items) + len(items) > self._max_queue:
                self.dropped += len(items)
                return False
            before = len(self._items)
            self._items.extend(items)
            self.accepted += len(items)
            if before < self._max_batch <= len(self._items):
                self._cond.notify_all()  # wake the consumer once per full batch
            return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is handled; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()
            while (self._items or self._in_flight) and self._thread.is_alive():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Handle what is queued (up to `timeout`), stop; what is left then is counted as dropped."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._cond:
            # A batch still in the consumer's hands when the wait ran out is lost too: counted here,
            # and the worker, seeing `_abandoned`, neither re-queues nor counts it again.
            self.dropped += len(self._items) + self._in_flight
            self._items.clear()
            self._abandoned = self._thread.is_alive()

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._items) + self._in_flight

    def _run(self) -> None:
        backoff = _BACKOFF_START_S
        while True:
            with self._cond:
                deadline = time.monotonic() + self._interval
                while not (self._closed or self._flush_requested or len(self._items) >= self._max_batch):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if not self._items:
                    self._flush_requested = False
                    self._cond.notify_all()
                    if self._closed:
                        return
                    continue
                batch = [self._items.popleft() for _ in range(min(self._max_batch, len(self._items)))]
                self._in_flight = len(batch)
            ok = self._handle_safely(batch)
            with self._cond:
                self._in_flight = 0
                if self._abandoned:  # close() gave up waiting and counted this batch as dropped
                    if ok:
                        self.dropped -= len(batch)  # it was written after all
                    self._cond.notify_all()
                    return
                if not ok and self._retry:
                    self._items.extendleft(reversed(batch))  # back in front, in order
                self._cond.notify_all()
                if ok or not self._retry:
                    backoff = _BACKOFF_START_S
                elif self._closed:
                    # Closed while this batch failed: close() may have counted the queue already
                    # (its wait ran out while the batch was in flight), so what is left is counted here.
                    self.dropped += len(self._items)
                    self._items.clear()
                    return
                else:
                    self._cond.wait(backoff)
                    backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def _handle_safely(self, batch: list[T]) -> bool:
        try:
            self._handle(batch)
        except Exception as exc:  # a failing consumer never kills the thread
            with self._cond:
                self.errors += 1
                self.last_error = type(exc).__name__
                if not self._retry:
                    self.dropped += len(batch)
            # A store that is down is expected (and retried); anything else is a bug in the consumer.
            # Reported, never re-raised here: raising would end this thread and lose what is queued.
            _report(self._thread.name, exc)
            return False
        with self._cond:
            self.handled += len(batch)
        return True


def _report(thread_name: str, exc: Exception) -> None:
    kind = f"background.{thread_name.removeprefix('railguard-')}"
    expected = isinstance(exc, StoreError | OSError)
    try:
        internal_error(kind, exc, expected=expected)
    except Exception:
        # Under tests a bug re-raises; here that would kill the consumer, so it is kept for the test
        # suite, which fails the test that caused it (tests/conftest.py).
        BUGS.append(exc)


# Bugs in consumers seen while RAILGUARD_RAISE_INTERNAL_ERRORS=1.
BUGS: list[Exception] = []
