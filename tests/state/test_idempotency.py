"""Idempotent calls on real stores: stored results, failures, restarts, keys, async."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import railguard
from railguard.state._counters import idempotency
from railguard.state.idempotency import Idempotency, IdempotencyTimeout, IdempotentCallFailed, idempotent
from railguard.store import Store, open_store


def test_second_call_gets_the_stored_result_without_executing(store_url: str) -> None:
    with open_store(store_url) as store:
        idem = Idempotency(store)
        runs: list[int] = []

        def charge(amount: int) -> dict[str, object]:
            runs.append(amount)
            return {"charge": "ch_1", "amount": amount, "tags": ("a", "b")}

        first = idem.run("order-1", charge, 120)
        again = idem.run("order-1", charge, 999)
        assert runs == [120]
        assert first == again == {"charge": "ch_1", "amount": 120, "tags": ["a", "b"]}  # JSON round-trip


def test_records_survive_a_restart(store_url: str) -> None:
    with open_store(store_url) as store:
        Idempotency(store).run("k", lambda: [1, 2, 3])
    with open_store(store_url) as reopened:

        def must_not_run() -> list[int]:
            raise AssertionError("executed twice")

        assert Idempotency(reopened).run("k", must_not_run) == [1, 2, 3]


def test_failure_is_recorded_reraised_and_a_retry_executes_again(store_url: str) -> None:
    with open_store(store_url) as store:
        idem = Idempotency(store)
        attempts: list[int] = []

        def flaky() -> str:
            attempts.append(1)
            if len(attempts) == 1:
                raise ConnectionError("card network down, token=tok_secret_123")
            return "ok"

        with pytest.raises(ConnectionError):
            idem.run("pay-1", flaky)
        with store.read_connection() as conn:
            row = conn.execute(idempotency.select().where(idempotency.c.key == "pay-1")).one()
        assert (row.status, row.error_type, row.attempt) == ("failed", "ConnectionError", 1)
        assert "tok_secret" not in repr(tuple(row))
        assert idem.run("pay-1", flaky) == "ok"
        assert idem.run("pay-1", flaky) == "ok" and len(attempts) == 2


def test_a_result_that_is_not_json_fails_loudly(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/i.db") as store:
        idem = Idempotency(store)
        with pytest.raises(TypeError, match="JSON-serializable"):
            idem.run("k", lambda: object())
        assert idem.run("k", lambda: "an id instead") == "an id instead"


class _ObservedIdempotency(Idempotency):
    """Signals when a duplicate has seen the call in flight (a read that found it running): only then
    may the call fail, or the duplicate could read the failure first and rightly run again."""

    def __init__(self, store: Store, **options: Any) -> None:
        super().__init__(store, **options)
        self.polling = threading.Event()

    def _peek(self, key: str):  # type: ignore[no-untyped-def]
        record = super()._peek(key)
        if record is not None and record.status == "running":
            self.polling.set()
        return record


def test_waiting_duplicates_get_the_failure_of_the_call_they_waited_for(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/i.db") as store:
        owner_side, waiter_side = Idempotency(store), _ObservedIdempotency(store)
        started = threading.Event()

        def slow_failure() -> None:
            started.set()
            waiter_side.polling.wait(10)  # fail only once the duplicate is waiting for this call
            raise RuntimeError("provider said no")

        raised: list[BaseException] = []

        def call(idem: Idempotency, fn: object) -> None:
            try:
                idem.run("k", fn)  # type: ignore[arg-type]
            except Exception as err:
                raised.append(err)

        owner = threading.Thread(target=call, args=(owner_side, slow_failure))
        owner.start()
        started.wait(10)
        waiter = threading.Thread(target=call, args=(waiter_side, lambda: "second execution"))
        waiter.start()
        owner.join(10)
        waiter.join(10)
        assert sorted(type(e).__name__ for e in raised) == ["IdempotentCallFailed", "RuntimeError"]
        assert "failed (RuntimeError) while this duplicate waited" in str(
            next(e for e in raised if isinstance(e, IdempotentCallFailed))
        )
        assert owner_side.run("k", lambda: "second execution") == "second execution"  # a new call runs


def test_duplicates_time_out_instead_of_hanging(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/i.db") as store:
        holder, waiter = Idempotency(store, lease_s=60), Idempotency(store, lease_s=60, wait_s=0.2)
        release = threading.Event()
        owner = threading.Thread(target=holder.run, args=("k", lambda: release.wait(10)))
        owner.start()
        while holder._peek("k") is None:
            release.wait(0.01)
        with pytest.raises(IdempotencyTimeout, match=r"waited 0\.2 s"):
            waiter.run("k", lambda: "never")
        release.set()
        owner.join(10)
        assert waiter.run("k", lambda: "never") is True


def test_decorator_keys_on_run_tool_and_canonical_arguments(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/i.db") as store:
        executed: list[tuple[str, int]] = []

        @idempotent(store)
        def send(to: str, amount: int = 1) -> str:
            executed.append((to, amount))
            return f"sent {amount} to {to}"

        with railguard.run(tenant="acme", run_id="run-1"):
            send("bob", 5)
            send(to="bob", amount=5)  # same call, spelled differently
            send("bob")  # amount=1 is another call
        with railguard.run(tenant="acme", run_id="run-2"):
            send("bob", 5)  # another run
        assert executed == [("bob", 5), ("bob", 1), ("bob", 5)]

        @idempotent(store, key=lambda order_id, **_: f"order/{order_id}")
        def ship(order_id: str, note: str = "") -> str:
            executed.append((order_id, 0))
            return "shipped"

        ship("o-1", note="first")
        ship("o-1", note="retry with another note")
        assert executed[-1] == ("o-1", 0) and len(executed) == 4


def test_async_calls_and_forget(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/i.db") as store:
        idem = Idempotency(store)
        runs: list[int] = []

        @idempotent(idem, key="fixed")
        async def book() -> dict[str, str]:
            runs.append(1)
            await asyncio.sleep(0.05)
            return {"booking": "b-1"}

        async def main() -> list[dict[str, str]]:
            return list(await asyncio.gather(*(book() for _ in range(10))))

        assert asyncio.run(main()) == [{"booking": "b-1"}] * 10
        assert runs == [1]
        idem.forget("fixed")
        asyncio.run(book())
        assert runs == [1, 1]
        assert idem.purge(older_than_s=-1) == 1


def test_a_live_call_longer_than_its_lease_is_not_taken_over(tmp_path: Path) -> None:
    """The lease is renewed in the background while the call runs, so only a dead owner loses it."""
    with open_store(f"sqlite:///{tmp_path}/i.db") as store:
        owner_side, waiter_side = Idempotency(store, lease_s=0.6), _ObservedIdempotency(store, lease_s=0.6)
        executions: list[str] = []
        started = threading.Event()

        def long_call() -> str:
            executions.append("owner")
            started.set()
            threading.Event().wait(2.0)  # more than three leases
            return "done once"

        owner = threading.Thread(target=owner_side.run, args=("k", long_call))
        owner.start()
        started.wait(10)
        assert waiter_side.run("k", lambda: executions.append("duplicate")) == "done once"
        owner.join(10)
        assert executions == ["owner"]
