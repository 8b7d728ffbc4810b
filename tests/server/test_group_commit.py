"""Group commit of idempotency answers (server/_group_commit.py): calls that arrive while a
transaction runs share the next one, each is settled only once its answer is stored, and a store
failure fails every call of its group."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from railguard.errors import StoreError
from railguard.server._group_commit import GroupCommits
from railguard.store import GuardAnswers, open_store


def test_concurrent_calls_share_transactions_and_are_answered_once_stored(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'g.db'}") as store:
        answers = GuardAnswers(store)
        commits = GroupCommits(answers)
        entered, release = threading.Event(), threading.Event()
        put_many = answers.put_many

        def held_put_many(items: list[tuple[str, str, dict[str, object]]]) -> list[dict[str, object]]:
            entered.set()
            release.wait(10)  # the first group's transaction is slow: the other calls queue meanwhile
            return put_many(items)

        answers.put_many = held_put_many  # type: ignore[method-assign]

        async def burst() -> list[dict[str, object]]:
            first = asyncio.ensure_future(commits.put("acme", "d0", {"n": 0}))
            await asyncio.get_running_loop().run_in_executor(None, entered.wait, 10)
            rest = [asyncio.ensure_future(commits.put("acme", f"d{n}", {"n": n})) for n in range(1, 40)]
            await asyncio.sleep(0)
            release.set()
            return await asyncio.gather(first, *rest)

        try:
            stored = asyncio.run(burst())
        finally:
            commits.close()
        assert [a["n"] for a in stored] == list(range(40))
        assert commits.transactions == 2  # 40 calls, two commits (one each, before: 40)
        fresh = GuardAnswers(store)  # the store itself, not a cache: every answer was stored
        assert [a and a["n"] for a in fresh.get_many([("acme", f"d{n}") for n in range(40)])] == list(
            range(40)
        )


def test_a_store_failure_fails_every_call_of_the_group(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'g.db'}") as store:
        answers = GuardAnswers(store)

        def broken(_items: object) -> list[dict[str, object]]:
            raise StoreError("store write failed on test: down")

        answers.put_many = broken  # type: ignore[assignment]
        commits = GroupCommits(answers)

        async def calls() -> list[object]:
            return await asyncio.gather(
                *(commits.put("acme", f"d{n}", {"n": n}) for n in range(5)), return_exceptions=True
            )

        try:
            results = asyncio.run(calls())
        finally:
            commits.close()
        assert all(isinstance(r, StoreError) for r in results)
        with pytest.raises(RuntimeError, match="shutting down"):
            asyncio.run(commits.put("acme", "late", {}))
