"""Inside a `railguard serve` worker (installed by bench_server_tail.py through a generated
sitecustomize): per-request timestamps, garbage collections, store-writer batches and a 1 ms probe of
how long the event loop waits to get the GIL back, written as JSON on SIGUSR1.

- request: when its bytes reached the protocol and when its answer was handed to the socket (wall
  and main-thread CPU), so in-worker queueing shows; the wait in the socket before it is not seen.
- probe: every ~1 ms the loop calls select() with no timeout (which releases the GIL) between two
  reads of its thread's schedstat: wall time minus CPU minus run-queue wait is the GIL wait.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import select
import signal
import threading
import time
from pathlib import Path
from typing import Any

_requests: list[tuple[float, float, float, float, float]] = []
_collections: list[tuple[float, float, int]] = []
_writes: list[tuple[float, float, float, int]] = []
_probes: list[tuple[float, float, float, float]] = []


def install(out_dir: str) -> None:
    from railguard.server import _http
    from railguard.store import _writer

    protocol, transport = _http.CoalescingHttpToolsProtocol, _http.CoalescingTransport
    received: dict[int, tuple[float, float]] = {}  # id(coalescing transport) -> request's arrival
    clock, cpu = time.perf_counter, time.thread_time
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = clock()
        else:
            _collections.append((gc_started[0], clock(), info["generation"]))

    gc.callbacks.append(on_gc)
    connection_made, data_received, flush = protocol.connection_made, protocol.data_received, transport.flush

    def traced_connection_made(self: Any, sock_transport: Any) -> None:
        connection_made(self, sock_transport)
        self._traced_key = id(self.transport)
        if not _probes:
            _probe_later(asyncio.get_running_loop())

    def traced_data_received(self: Any, data: bytes) -> None:
        received.setdefault(self._traced_key, (clock(), cpu()))
        data_received(self, data)

    def traced_flush(self: Any) -> None:
        arrived = received.pop(id(self), None)
        flush(self)
        if arrived is not None:
            _requests.append((arrived[0], arrived[1], clock(), cpu(), 0.0))

    write = _writer.BatchWriter._write

    def traced_write(self: Any, batch: Any) -> None:
        started, cpu_started = clock(), cpu()
        write(self, batch)
        _writes.append((started, clock(), cpu() - cpu_started, len(batch)))

    protocol.connection_made = traced_connection_made  # type: ignore[method-assign]
    protocol.data_received = traced_data_received  # type: ignore[method-assign]
    transport.flush = traced_flush  # type: ignore[method-assign]
    _writer.BatchWriter._write = traced_write  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, lambda *_: _dump(out_dir))


def _probe_later(loop: asyncio.AbstractEventLoop) -> None:
    stat = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)

    def run_queue_wait_s() -> float:
        return int(os.pread(stat, 100, 0).split()[1]) / 1e9

    def probe() -> None:
        waited, started, cpu_started = run_queue_wait_s(), time.perf_counter(), time.thread_time()
        select.select([], [], [], 0)
        waited = run_queue_wait_s() - waited
        _probes.append((started, time.perf_counter() - started, time.thread_time() - cpu_started, waited))
        loop.call_later(0.001, probe)

    loop.call_later(0.001, probe)


def _dump(out_dir: str) -> None:
    main_stat = Path(f"/proc/self/task/{os.getpid()}/schedstat").read_text().split()
    trace = {
        "requests": _requests, "collections": _collections, "writes": _writes, "probes": _probes,
        "main_run_s": int(main_stat[0]) / 1e9, "main_run_queue_s": int(main_stat[1]) / 1e9,
    }  # fmt: skip
    with open(os.path.join(out_dir, f"worker-{os.getpid()}.json"), "w") as out:
        json.dump(trace, out)
