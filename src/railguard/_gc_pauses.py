"""Garbage-collection pauses, kept off the evaluation deadline's clock.

CPython's cyclic collector runs when the process's allocations cross a threshold, on whichever
thread allocates then, and a full collection walks the whole heap: in an agent process holding a
large heap (an agent framework, its environments, loaded models) that is hundreds of milliseconds
of CPU. When it lands inside an evaluation it is not the evaluation's work (it pays for every
allocation the process made), yet it would count against the evaluation's CPU deadline, and on a
busy machine against its wall-clock bound too, turning a verdict into an error at a place that
depends on the allocation history and the machine's load. So the collector's callback totals the
time spent collecting and the deadline subtracts what was spent since it started:

- wall time, process-wide: while any thread collects, every other thread waits for it (the GIL, or
  a stop-the-world pause without one);
- CPU time, per thread: a collection burns the CPU of the thread it runs on.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from railguard._pipeline import Clock

__all__ = ["cpu_paused_ns", "snapshot", "use_clock", "wall_paused_ns"]

_wall_ns = time.perf_counter_ns  # the deadline's clock (an injected one in tests)
_cpu_ns = time.thread_time_ns
_wall_total = 0  # wall ns spent in collections, any thread (collections never overlap)
_local = threading.local()  # per thread: `cpu` (ns of this thread's CPU spent collecting), `started`


def use_clock(clock: Clock) -> None:
    """Measure pauses with the clock the deadlines read."""
    global _wall_ns, _cpu_ns
    _wall_ns, _cpu_ns = clock.wall_ns, clock.cpu_ns


def wall_paused_ns() -> int:
    return _wall_total


def cpu_paused_ns() -> int:
    cpu: int = getattr(_local, "cpu", 0)
    return cpu


def snapshot() -> tuple[int, int]:
    """The totals now, (wall, this thread's CPU): a deadline subtracts what grew past them."""
    return _wall_total, getattr(_local, "cpu", 0)


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    global _wall_total
    if phase == "start":
        _local.started = (_wall_ns(), _cpu_ns())
        return
    started: tuple[int, int] | None = getattr(_local, "started", None)
    if started is None:  # the callback was registered mid-collection
        return
    _local.started = None
    wall, cpu = started
    _wall_total += max(0, _wall_ns() - wall)
    _local.cpu = getattr(_local, "cpu", 0) + max(0, _cpu_ns() - cpu)


if _on_collection not in gc.callbacks:
    gc.callbacks.append(_on_collection)
