"""Per-key rate limits. One process (the SQLite default): a token bucket in memory, nothing else to
ask. Replicas on PostgreSQL: fixed windows counted in the store (see store/_rate_windows.py), so a
key gets its rate once across all replicas, not once from each.

A limiter's `take(key_id, rate)` answers from memory: None (go on), the seconds to wait (refused),
or NEED_STORE, after which the caller runs `claim` off the event loop (a store round trip)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from railguard.errors import StoreError
from railguard.store import Store, claim_window


class _NeedStore:
    def __repr__(self) -> str:
        return "NEED_STORE"


NEED_STORE: Final = _NeedStore()
MAX_PER_WINDOW = 2**31 - 1  # the store's counter is a 32-bit integer
# A key at this rate or above has no limit: no deployment serves a billion requests a second, so its
# requests are not counted at all (no claim of a shared window stalls them at each window's end).
UNLIMITED_RATE: Final = 1e9


def unlimited(rate: float) -> bool:
    return rate >= UNLIMITED_RATE


SHARES_PER_WINDOW = 16  # a replica claims 1/16 of a window at a time: 16 statements per busy key-window


class Limiter(Protocol):
    def take(self, key_id: str, rate: float) -> int | _NeedStore | None: ...

    def claim(self, key_id: str, rate: float) -> int | None: ...


class RateLimiter:
    """A token bucket per key: `rate` requests per second sustained, bursts up to twice that."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str, rate: float) -> int | None:
        """None when allowed; else the seconds to wait (for Retry-After, at least 1)."""
        burst = max(1.0, 2.0 * rate)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return None
            self._buckets[key_id] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / rate))

    def claim(self, key_id: str, rate: float) -> int | None:
        return self.take(key_id, rate)


def window_of(rate: float) -> tuple[float, int]:
    """(window length in seconds, requests per window) for `rate` requests per second: one-second
    windows, or for a rate under one a second, one request per 1/rate seconds."""
    span = max(1.0, 1.0 / rate)
    return span, max(1, min(int(rate * span + 1e-9), MAX_PER_WINDOW))


@dataclass(slots=True)
class _Share:
    started: float  # the window's start
    ends: float
    left: int  # requests of the share not yet used
    last: bool  # the window had nothing more to give: refuse locally until it ends


class SharedRateLimiter:
    """Fixed windows per key counted in the store, shared by every replica on it. Each replica
    claims a share of the current window (1/SHARES_PER_WINDOW of it, at least one request) and
    serves it from memory; the replicas together never exceed the window's limit. Bursts: a full
    window at once, and up to two windows' worth across a window boundary. If the store cannot be
    reached, this replica falls back to its own token bucket rather than refusing everyone."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock  # wall clock: the windows' starts are compared across replicas
        self._shares: dict[str, _Share] = {}
        self._lock = threading.Lock()
        self._claim_locks: dict[str, threading.Lock] = {}
        self._fallback = RateLimiter()

    def take(self, key_id: str, rate: float) -> int | _NeedStore | None:
        now = self._clock()
        with self._lock:
            share = self._shares.get(key_id)
            if share is None or now >= share.ends:
                return NEED_STORE
            if share.left > 0:
                share.left -= 1
                return None
            return _wait(share.ends, now) if share.last else NEED_STORE

    def claim(self, key_id: str, rate: float) -> int | None:
        """Blocking (one statement): a share of the key's current window, then `take` again."""
        with self._lock:
            claim_lock = self._claim_locks.setdefault(key_id, threading.Lock())
        with claim_lock:  # requests of one key waiting together make one claim, not one each
            answer = self.take(key_id, rate)
            if not isinstance(answer, _NeedStore):
                return answer
            span, limit = window_of(rate)
            share = max(1, limit // SHARES_PER_WINDOW)
            now = self._clock()
            try:
                started, granted = claim_window(
                    self._store, key_id, now=now, span_s=span, limit=limit, share=share
                )
            except StoreError:
                return self._fallback.take(key_id, rate)
            with self._lock:
                self._shares[key_id] = _Share(started, started + span, max(0, granted - 1), granted < share)
            return None if granted > 0 else _wait(started + span, now)


def _wait(ends: float, now: float) -> int:
    return max(1, math.ceil(ends - now))
