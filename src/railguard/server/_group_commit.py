"""Idempotency lookups and stores of guard answers, grouped (group commit): calls on the event loop
queue their (tenant, decision_id) here and await; one thread takes everything queued, runs it as one
store transaction (`GuardAnswers.get_many` / `put_many`), and settles the calls. What arrives while a
transaction runs forms the next group, so under load a replica pays one commit per group instead of
one per call (plus a thread hop each), and each call is still answered only after its answer is
stored. A store failure fails every call of its group, as it would have failed each alone.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable, Sequence
from typing import Any

from railguard.store import GuardAnswers

_GET, _PUT = "get", "put"
MAX_GROUP = 512  # calls per transaction: bounds how long the write lock is held at once

_Job = tuple[str, Any, "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class GroupCommits:
    def __init__(self, answers: GuardAnswers, *, max_group: int = MAX_GROUP) -> None:
        self.answers = answers
        self.max_group = max_group
        self.transactions = 0  # store transactions run (a group makes one per kind of job in it)
        self._jobs: collections.deque[_Job] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="railguard-group-commit", daemon=True)
        self._thread.start()

    async def get(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        """The stored answer of a call, or None."""
        found: dict[str, Any] | None = await self._submit(_GET, (tenant, decision_id))
        return found

    async def put(self, tenant: str, decision_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        """Store `answer` unless one is stored; the stored one (the first writer's), once committed."""
        stored: dict[str, Any] = await self._submit(_PUT, (tenant, decision_id, answer))
        return stored

    def close(self) -> None:
        """Run what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=10)

    async def _submit(self, kind: str, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            self._jobs.append((kind, item, future, loop))
            self._cond.notify()
        return await future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return
                group = [self._jobs.popleft() for _ in range(min(len(self._jobs), self.max_group))]
            for kind, run in ((_GET, self.answers.get_many), (_PUT, self.answers.put_many)):
                jobs = [job for job in group if job[0] == kind]
                if jobs:
                    self._settle(jobs, run)

    def _settle(self, jobs: list[_Job], run: Callable[[Sequence[Any]], Sequence[Any]]) -> None:
        results: Sequence[Any] | None = None
        error: BaseException | None = None
        try:
            results = run([item for _, item, _, _ in jobs])
        except Exception as err:  # e.g. StoreError: every call of the group fails with it
            error = err
        self.transactions += 1
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for n, (_, _, future, loop) in enumerate(jobs):
            by_loop.setdefault(loop, []).append((future, None if results is None else results[n]))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, settled, error)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass


def _resolve(settled: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None) -> None:
    for future, result in settled:
        if future.done():  # cancelled: past the client's deadline, or the client left
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
