"""A bounded queue drained in batches by one daemon thread. The producer side (the agent's thread)
only appends under a lock: it never waits for the consumer, never raises, and counts what it drops
when the queue is full. The consumer's failures are counted, never propagated."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class BackgroundBatches(Generic[T]):
    def __init__(
        self,
        handle: Callable[[Sequence[T]], None],
        *,
        name: str,
        max_queue: int = 20_000,
        max_batch: int = 512,
        interval_s: float = 0.5,
    ) -> None:
        self._handle = handle
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._interval = interval_s
        self._items: collections.deque[T] = collections.deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._flush_requested = False
        self._closed = False
        self.accepted = 0
        self.handled = 0
        self.dropped = 0
        self.errors = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> bool:
        """Queue one item; False (and counted) when the queue is full or closed."""
        with self._cond:
            if self._closed or len(self._items) >= self._max_queue:
                self.dropped += 1
                return False
            self._items.append(item)
            self.accepted += 1
            if len(self._items) == self._max_batch:
                self._cond.notify_all()  # wake the consumer only once per full batch
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
            self.dropped += len(self._items)
            self._items.clear()

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._items) + self._in_flight

    def _run(self) -> None:
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
            self._handle_safely(batch)
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()

    def _handle_safely(self, batch: list[T]) -> None:
        try:
            self._handle(batch)
        except Exception as exc:  # a failing consumer loses this batch, never the thread
            with self._cond:
                self.errors += 1
                self.dropped += len(batch)
                self.last_error = type(exc).__name__
        else:
            with self._cond:
                self.handled += len(batch)
