"""Idempotent tool calls: a retry or a concurrent duplicate gets the stored result, not a second run.

    @idempotent(store)                           # key: (tenant, run, tool, canonical arguments)
    def send_payment(to: str, amount: int) -> dict: ...

    Idempotency(store).run("order-42/charge", charge, order)   # or with an explicit key

The rules, for whoever writes an idempotent tool:
- The result must be JSON-serializable (dicts, lists, strings, numbers, booleans, None). It is stored
  as JSON, and EVERY caller, the first one included, gets its JSON round-trip (tuples become lists).
  A result that cannot be serialized fails the call with a TypeError (return an id instead).
- The first call claims the key with a lease (`lease_s`) that a background thread renews while the
  call runs. Duplicates wait (polling) for it to finish and get its result. If the process running
  the call dies, its lease runs out and the next caller takes over and executes again.
- A call that raises is recorded as failed (its error type only) and the exception re-raised.
  Duplicates that were waiting for it get `IdempotentCallFailed`; a later call executes again.
- Without an explicit key, calls outside a `railguard.run(...)` scope share a key per tool and
  arguments across all runs: pass a key there.
Lease expiry compares the callers' clocks with the stored lease: keep the machines' clocks in sync.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, select, update

from railguard.errors import IdempotencyTimeout, IdempotentCallFailed, RailguardError
from railguard.model import canonical_json, current_context
from railguard.state._counters import bounded_key, dialect_insert, ensure_tables, idempotency
from railguard.store import Store

F = TypeVar("F", bound=Callable[..., Any])
_POLL_START_S = 0.005
_POLL_MAX_S = 0.1


@dataclass(frozen=True, slots=True)
class _Record:
    status: str
    attempt: int
    lease_until: float
    result: str | None
    error_type: str | None


_OWNED = "owned"


class Idempotency:
    """Runs calls at most once per key (see the module docstring for the rules)."""

    def __init__(self, store: Store, *, lease_s: float = 60.0, wait_s: float = 300.0) -> None:
        ensure_tables(store)
        self.store = store
        self.lease_s = lease_s
        self.wait_s = wait_s
        self._renewer = _LeaseRenewer(store, lease_s)

    @staticmethod
    def key_for(tool: str, arguments: Any) -> str:
        """The default key: tenant, run (or session), tool and canonical arguments."""
        ctx = current_context()
        basis = "\x1f".join((ctx.tenant or "", ctx.run or ctx.session or "", tool, canonical_json(arguments)))
        return "idem:" + hashlib.blake2b(basis.encode(), digest_size=20).hexdigest()

    def run(self, key: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        key = bounded_key(key)
        owner = uuid.uuid4().hex
        outcome = self._await_turn(key, owner)
        if outcome is not _OWNED:
            return outcome
        with self._renewer.holding(key, owner):
            try:
                result = fn(*args, **kwargs)
            except BaseException as err:
                self._finish(key, owner, "failed", None, type(err).__name__)
                raise
            return self._succeed(key, owner, result)

    async def arun(self, key: str, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        key = bounded_key(key)
        owner = uuid.uuid4().hex
        outcome = await self._aawait_turn(key, owner)
        if outcome is not _OWNED:
            return outcome
        with self._renewer.holding(key, owner):
            try:
                result = await fn(*args, **kwargs)
            except BaseException as err:
                await asyncio.to_thread(self._finish, key, owner, "failed", None, type(err).__name__)
                raise
            return await asyncio.to_thread(self._succeed, key, owner, result)

    def forget(self, key: str) -> None:
        """Drop a key's record, so that its next call executes again."""
        with self.store.write_transaction() as conn:
            conn.execute(idempotency.delete().where(idempotency.c.key == bounded_key(key)))

    def purge(self, older_than_s: float) -> int:
        """Delete finished records not touched for `older_than_s` seconds; returns how many."""
        c = idempotency.c
        with self.store.write_transaction() as conn:
            stale = c.updated_at < time.time() - older_than_s
            result = conn.execute(idempotency.delete().where(stale, c.status != "running"))
            return int(result.rowcount or 0)

    # -- the protocol ------------------------------------------------------------------------------

    def _await_turn(self, key: str, owner: str) -> Any:
        """Claim the key (-> _OWNED) or wait, polling, for the stored result of the call in flight."""
        turn = _Turn(key, self.wait_s)
        record = self._try_claim(key, owner, None)
        while True:
            step, value = turn.next(record)
            if step == "return":
                return value
            if step == "sleep":
                time.sleep(value)
                record = self._peek(key)
            if step == "claim" or record is None:  # expired, failed, or forgotten meanwhile
                record = self._try_claim(key, owner, turn.waited_on)

    async def _aawait_turn(self, key: str, owner: str) -> Any:
        """The same, sleeping on the event loop: duplicates must not hold the executor's threads
        while they wait (the call they wait for needs one to store its result)."""
        turn = _Turn(key, self.wait_s)
        record = await asyncio.to_thread(self._try_claim, key, owner, None)
        while True:
            step, value = turn.next(record)
            if step == "return":
                return value
            if step == "sleep":
                await asyncio.sleep(value)
                record = await asyncio.to_thread(self._peek, key)
            if step == "claim" or record is None:
                record = await asyncio.to_thread(self._try_claim, key, owner, turn.waited_on)

    def _peek(self, key: str) -> _Record | None:
        with self.store.read_connection() as conn:
            return _read(conn, key)

    def _try_claim(self, key: str, owner: str, waited_on: int | None) -> _Record | None:
        """One write transaction: insert the key, or take over a failed call or an expired lease.
        Returns None when this caller now owns the key, else the record as it stands."""
        now = time.time()
        c = idempotency.c
        with self.store.write_transaction() as conn:
            fresh = dialect_insert(conn, idempotency).values(
                key=key,
                status="running",
                owner=owner,
                attempt=1,
                lease_until=now + self.lease_s,
                result=None,
                error_type=None,
                created_at=now,
                updated_at=now,
            )
            if conn.execute(fresh.on_conflict_do_nothing().returning(c.key)).first() is not None:
                return None
            record = _read(conn, key)
            if record is None or record.status == "done":
                return record
            failed_anew = record.status == "failed" and record.attempt != waited_on
            expired = record.status == "running" and record.lease_until < now
            if not (failed_anew or expired):
                return record
            taken = conn.execute(
                update(idempotency)
                .where(c.key == key, c.attempt == record.attempt, c.status == record.status)
                .values(
                    status="running",
                    owner=owner,
                    attempt=record.attempt + 1,
                    lease_until=now + self.lease_s,
                    error_type=None,
                    updated_at=now,
                )
            )
            return None if taken.rowcount == 1 else _read(conn, key)

    def _succeed(self, key: str, owner: str, result: Any) -> Any:
        try:
            stored = json.dumps(result, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as err:
            self._finish(key, owner, "failed", None, "TypeError")
            raise TypeError(
                f"an idempotent call must return a JSON-serializable value, got {type(result).__name__}; "
                "return an id or a dict of plain values instead"
            ) from err
        self._finish(key, owner, "done", stored, None)
        return json.loads(stored)

    def _finish(self, key: str, owner: str, status: str, result: str | None, error_type: str | None) -> None:
        # Only the current owner may finish: a caller whose lease was taken over keeps its own result
        # but does not overwrite the record of the call that replaced it.
        c = idempotency.c
        with self.store.write_transaction() as conn:
            conn.execute(
                update(idempotency)
                .where(c.key == key, c.owner == owner, c.status == "running")
                .values(status=status, result=result, error_type=error_type, updated_at=time.time())
            )


class _Turn:
    """What a caller does next given the key's record: return (its result, or _OWNED when the
    record is None because this caller claimed it), claim (a failed call or an expired lease), or
    sleep before looking again (with backoff, up to the wait limit)."""

    def __init__(self, key: str, wait_s: float) -> None:
        self.key = key
        self.wait_s = wait_s
        self.deadline = time.monotonic() + wait_s
        self.pause = _POLL_START_S
        self.waited_on: int | None = None  # the attempt this caller saw in flight

    def next(self, record: _Record | None) -> tuple[str, Any]:
        if record is None:
            return "return", _OWNED
        if record.status == "done":
            return "return", json.loads(record.result or "null")
        if record.status == "failed" and record.attempt == self.waited_on:
            raise IdempotentCallFailed(
                f"the call for idempotency key {self.key[:64]!r} failed ({record.error_type}) while this "
                "duplicate waited for it; call again to execute it again"
            )
        if record.status == "running":
            self.waited_on = record.attempt
        if record.status == "failed" or record.lease_until < time.time():
            return "claim", None
        if time.monotonic() > self.deadline:
            raise IdempotencyTimeout(
                f"waited {self.wait_s:g} s for the in-flight call with idempotency key {self.key[:64]!r}"
            )
        pause, self.pause = self.pause, min(self.pause * 2, _POLL_MAX_S)
        return "sleep", pause


def _read(conn: Connection, key: str) -> _Record | None:
    c = idempotency.c
    row = conn.execute(
        select(c.status, c.attempt, c.lease_until, c.result, c.error_type).where(c.key == key)
    ).first()
    return None if row is None else _Record(row[0], int(row[1]), float(row[2]), row[3], row[4])


class _LeaseRenewer:
    """One daemon thread per Idempotency renews the leases of all its calls in flight, every third
    of a lease, so a long call is never taken over while its process is alive."""

    def __init__(self, store: Store, lease_s: float) -> None:
        self._store = store
        self._lease_s = lease_s
        self._held: dict[str, str] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def holding(self, key: str, owner: str) -> _Holding:
        return _Holding(self, key, owner)

    def add(self, key: str, owner: str) -> None:
        with self._lock:
            self._held[key] = owner
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="railguard-idem-lease", daemon=True)
                self._thread.start()

    def remove(self, key: str) -> None:
        with self._lock:
            self._held.pop(key, None)

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._wake.wait(self._lease_s / 3)
                held = dict(self._held)
                if not held:
                    self._thread = None
                    return
            try:
                self._renew(held)
            except RailguardError:
                pass  # the store is unreachable: the next round retries; the lease may lapse meanwhile

    def _renew(self, held: dict[str, str]) -> None:
        c = idempotency.c
        until = time.time() + self._lease_s
        with self._store.write_transaction() as conn:
            for key, owner in held.items():
                conn.execute(
                    update(idempotency)
                    .where(c.key == key, c.owner == owner, c.status == "running")
                    .values(lease_until=until)
                )


class _Holding:
    def __init__(self, renewer: _LeaseRenewer, key: str, owner: str) -> None:
        self._renewer, self._key, self._owner = renewer, key, owner

    def __enter__(self) -> None:
        self._renewer.add(self._key, self._owner)

    def __exit__(self, *_exc: object) -> None:
        self._renewer.remove(self._key)


def idempotent(
    store: Store | Idempotency,
    key: str | Callable[..., str] | None = None,
    *,
    lease_s: float = 60.0,
    wait_s: float = 300.0,
) -> Callable[[F], F]:
    """Decorate a tool (sync or async) so that each key executes once. `key`: a fixed string, a
    function of the call's arguments, or None for (tenant, run, tool, canonical arguments)."""
    runner = store if isinstance(store, Idempotency) else Idempotency(store, lease_s=lease_s, wait_s=wait_s)

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        tool = f"{fn.__module__}.{fn.__qualname__}"

        def key_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            if isinstance(key, str):
                return key
            if key is not None:
                return key(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return runner.key_for(tool, bound.arguments)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await runner.arun(key_of(args, kwargs), fn, *args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return runner.run(key_of(args, kwargs), fn, *args, **kwargs)

        return cast(F, wrapper)

    return decorate
