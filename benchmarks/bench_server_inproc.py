"""The guard API's CPU per evaluate without HTTP: `POST /v1/guard/evaluate` sent straight to the ASGI
app (the `railguard serve` settings: freeze_gc), 32 requests in flight, on uvloop. Gives the main
thread's CPU per request and the garbage collector's share: collections per generation and the
longest pause of each (a pause stalls every request in flight: the latency tail). CPU time, so it
holds on a busy machine; compare trees side by side with PYTHONPATH:

    .venv/bin/python -m benchmarks.bench_server_inproc --requests 10000
    PYTHONPATH=/tmp/base/src .venv/bin/python -m benchmarks.bench_server_inproc --requests 10000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from typing import Any

from starlette.types import Message

from benchmarks.bench_server import ACTIONS
from railguard.server import ServerSettings, create_app
from railguard.store import KeyRing, open_store


class Pauses:
    """Collections per generation and the longest pause of each (thread CPU ms)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        spent, generation = time.thread_time() - self._started, info["generation"]
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], spent)
        self.total += spent


async def _run(requests: int, rounds: int, settle_s: float) -> None:
    folder = tempfile.mkdtemp(prefix="rg-bench-inproc-")
    store = open_store(f"sqlite:///{folder}/bench.db")
    key = KeyRing(store).create(tenant="bench", role="agent", actor="bench", rate_per_s=1e9).key
    app = create_app(store, settings=ServerSettings(freeze_gc=True))
    bodies = [json.dumps(action).encode() for action in ACTIONS]
    statuses: list[int] = []

    async def evaluate(n: int) -> None:
        body = bodies[n % 2]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/v1/guard/evaluate", "raw_path": b"/v1/guard/evaluate",
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8080), "state": {},
            "headers": [(b"host", b"127.0.0.1:8080"), (b"authorization", f"Bearer {key}".encode()),
                        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }  # fmt: skip

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] != 200:
                statuses.append(message["status"])

        await app(scope, receive, send)

    async def connection(first: int) -> None:
        for n in range(first, requests, 32):
            await evaluate(n)

    async with app.router.lifespan_context(app):
        await asyncio.sleep(settle_s)  # the start-up warm-up thread finishes (and freezes what it loaded)
        for n in range(300):
            await evaluate(n)
        pauses = Pauses()
        gc.callbacks.append(pauses)
        for round_ in range(rounds):
            pauses.__init__()  # type: ignore[misc]
            cpu = time.thread_time()
            await asyncio.gather(*(connection(first) for first in range(32)))
            cpu = time.thread_time() - cpu
            longest = ", ".join(f"{1e3 * ms:.1f}" for ms in pauses.longest)
            print(
                f"round {round_}: main thread {1e6 * cpu / requests:.1f} µs/evaluate, of which gc "
                f"{1e6 * pauses.total / requests:.1f}; collections per generation {pauses.count}, "
                f"longest pause ms [{longest}]; thresholds {gc.get_threshold()}; non-200 {len(statuses)}",
                flush=True,
            )
        gc.callbacks.remove(pauses)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds for the start-up warm-up")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_run(args.requests, args.rounds, args.settle))


if __name__ == "__main__":
    main()
