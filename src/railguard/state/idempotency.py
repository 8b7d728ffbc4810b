"""Idempotent tool calls: a retry or a concurrent duplicate gets the stored result, not a second run.

    @idempotent(store)                           # key: (tenant, run, tool, canonical arguments)
    def send_payment(to: str, amount: int) -> dict: ...

    Idempotency(store).run("order-42/charge", charge, order)   # or with an explicit key

The rules, for whoever writes an idempotent tool:
- The result must be JSON-serializable (dicts, lists, strings, numbers, booleans, None). It is stored
  as JSON, and EVERY caller, the first one included, gets its JSON round-trip (tuples become lists).
  A result that cannot be serialized fails the call with a TypeError (return an id instead).
- The first call claims the key with a lease (`lease_s`) that a background thread renews while the
  call runs, on a connection of its own (a pool starved by waiting duplicates cannot stall it).
  Duplicates wait (polling) for it to finish and get its result. If the process running the call
  dies, its lease runs out and the next caller takes over and executes again.
- Each claim has a fencing token (`fencing_token()` inside the call: the attempt number, higher for
  every takeover). A claimant confirms its lease right before it runs the call, so one paused past
  its lease (a stopped process, a long GC pause) finds the key taken over, does not run, and gets
  the result of the call that replaced it. A call already running when its lease lapsed (its whole
  process paused, heartbeat included) cannot commit: its result is refused (IdempotencyLeaseLost),
  and tools that must be exactly-once downstream can pass the fencing token on to reject it too.
- A call that raises is recorded as failed (its error type only) and the exception re-raised.
  Duplicates that were waiting for it get `IdempotentCallFailed`; a later call executes again.
- Without an explicit key, calls outside a `railguard.run(...)` scope share a key per tool and
  arguments across all runs: pass a key there.
Lease expiry compares the callers' clocks with the stored lease: keep the machines' clocks in sync.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import inspect
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, select, update

from railguard.errors import RailguardError
from railguard.model import canonical_json, current_context
from railguard.state._counters import bounded_key, dialect_insert, ensure_tables, idempotency
from railguard.store import Store
from railguard.store._connect import create_store_engine, write_transaction

F = TypeVar("F", bound=Callable[..., Any])
_POLL_START_S = 0.005
_POLL_MAX_S = 0.1


class IdempotencyError(RailguardError):
    """An idempotent call could not produce a result."""


class IdempotentCallFailed(IdempotencyError):
    """The in-flight call this duplicate waited for failed; calling again will execute again."""


class IdempotencyTimeout(IdempotencyError):
    """A duplicate waited longer than `wait_s` for the in-flight call to finish."""


class IdempotencyLeaseLost(IdempotencyError):
    """This call ran past its lease and another caller took the key over: its result was not
    recorded (the call that replaced it is the one whose result counts)."""


_FENCE: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "railguard_idempotency_fence", default=None
)


def fencing_token() -> int | None:
    """Inside an idempotent call: its fencing token, which grows with every takeover of the key.
    Pass it to a downstream system that can refuse writes carrying a token older than one it saw."""
    return _FENCE.get()


@dataclass(frozen=True, slots=True)
class _Record:
    status: str
    attempt: int
    lease_until: float
    result: str | None
    error_type: str | None


@dataclass(frozen=True, slots=True)
class _Claim:
    """This caller holds the key; `token` is the attempt it holds it as (the fencing token)."""

    token: int


class Idempotency:
    """Runs calls at most once per key (see the module docstring for the rules)."""

    def __init__(self, store: Store, *, lease_s: float = 60.0, wait_s: float = 300.0) -> None:
        ensure_tables(store)
        self.store = store
        self.lease_s = lease_s
        self.wait_s = wait_s
        self._renewer = _LeaseRenewer(store, lease_s)
        # Test seam: called after a key is claimed, before the lease is confirmed and the call runs
        # (e.g. to pause the claimant past its lease).
        self.before_execute: Callable[[str, int], None] | None = None
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()

    @staticmethod
    def key_for(tool: str, arguments: Any) -> str:
        """The default key: tenant, run (or session), tool and canonical arguments."""
        ctx = current_context()
        basis = "\x1f".join((ctx.tenant or "", ctx.run or ctx.session or "", tool, canonical_json(arguments)))
        return "idem:" + hashlib.blake2b(basis.encode(), digest_size=20).hexdigest()

    def run(self, key: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        key = bounded_key(key)
        # Duplicates in this process wait for the first one here (single flight): one thread per
        # process talks to the store for a key, so a thousand duplicates are not a thousand pollers.
        with self._flights_lock:
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight(key)
        if not leading:
            return flight.outcome()
        try:
            result = self._run_in_store(key, fn, *args, **kwargs)
            flight.settle(result, None)
            return result
        except BaseException as err:
            flight.settle(None, err)
            raise
        finally:
            with self._flights_lock:
                self._flights.pop(key, None)

    def _run_in_store(self, key: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        owner = uuid.uuid4().hex
        while True:
            outcome = self._await_turn(key, owner)
            if not isinstance(outcome, _Claim):
                return outcome
            with self._renewer.holding(key, owner):
                if self.before_execute is not None:
                    self.before_execute(key, outcome.token)
                if not self._confirm(key, owner, outcome.token):
                    continue  # paused past the lease and taken over: wait for that call instead
                fence = _FENCE.set(outcome.token)
                try:
                    result = fn(*args, **kwargs)
                except BaseException as err:
                    self._finish(key, owner, outcome.token, "failed", None, type(err).__name__)
                    raise
                finally:
                    _FENCE.reset(fence)
                return self._succeed(key, owner, outcome.token, result)

    async def arun(self, key: str, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        key = bounded_key(key)
        owner = uuid.uuid4().hex
        while True:
            outcome = await self._aawait_turn(key, owner)
            if not isinstance(outcome, _Claim):
                return outcome
            with self._renewer.holding(key, owner):
                if self.before_execute is not None:
                    await asyncio.to_thread(self.before_execute, key, outcome.token)
                if not await asyncio.to_thread(self._confirm, key, owner, outcome.token):
                    continue
                fence = _FENCE.set(outcome.token)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as err:
                    await asyncio.to_thread(
                        self._finish, key, owner, outcome.token, "failed", None, type(err).__name__
                    )
                    raise
                finally:
                    _FENCE.reset(fence)
                return await asyncio.to_thread(self._succeed, key, owner, outcome.token, result)

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
        """Claim the key (-> a _Claim) or wait, polling, for the stored result of the call in flight."""
        turn = _Turn(key, self.wait_s)
        record = self._try_claim(key, owner, None)
        if isinstance(record, _Claim):
            return record
        while True:
            step, value = turn.next(record)
            if step == "return":
                return value
            if step == "sleep":
                time.sleep(value)
                record = self._peek(key)
            if step == "claim" or record is None:  # expired, failed, or forgotten meanwhile
                record = self._try_claim(key, owner, turn.waited_on)
            if isinstance(record, _Claim):
                return record

    async def _aawait_turn(self, key: str, owner: str) -> Any:
        """The same, sleeping on the event loop: duplicates must not hold the executor's threads
        while they wait (the call they wait for needs one to store its result)."""
        turn = _Turn(key, self.wait_s)
        record = await asyncio.to_thread(self._try_claim, key, owner, None)
        if isinstance(record, _Claim):
            return record
        while True:
            step, value = turn.next(record)
            if step == "return":
                return value
            if step == "sleep":
                await asyncio.sleep(value)
                record = await asyncio.to_thread(self._peek, key)
            if step == "claim" or record is None:
                record = await asyncio.to_thread(self._try_claim, key, owner, turn.waited_on)
            if isinstance(record, _Claim):
                return record

    def _peek(self, key: str) -> _Record | None:
        with self.store.read_connection() as conn:
            return _read(conn, key)

    def _try_claim(self, key: str, owner: str, waited_on: int | None) -> _Claim | _Record | None:
        """One write transaction: insert the key, or take over a failed call or an expired lease.
        Returns a _Claim when this caller now owns the key, else the record as it stands (None if
        it was deleted meanwhile)."""
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
                return _Claim(1)
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
            return _Claim(record.attempt + 1) if taken.rowcount == 1 else _read(conn, key)

    def _confirm(self, key: str, owner: str, token: int) -> bool:
        """Right before running the call: still this caller's, lease not yet run out? Renews it."""
        c = idempotency.c
        now = time.time()
        with self.store.write_transaction() as conn:
            renewed = conn.execute(
                update(idempotency)
                .where(
                    c.key == key,
                    c.owner == owner,
                    c.attempt == token,
                    c.status == "running",
                    c.lease_until >= now,
                )
                .values(lease_until=now + self.lease_s, updated_at=now)
            )
            return renewed.rowcount == 1

    def _succeed(self, key: str, owner: str, token: int, result: Any) -> Any:
        try:
            stored = json.dumps(result, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as err:
            self._finish(key, owner, token, "failed", None, "TypeError")
            raise TypeError(
                f"an idempotent call must return a JSON-serializable value, got {type(result).__name__}; "
                "return an id or a dict of plain values instead"
            ) from err
        if not self._finish(key, owner, token, "done", stored, None):
            raise IdempotencyLeaseLost(
                f"the call for idempotency key {key[:64]!r} ran past its {self.lease_s:g} s lease and was "
                "taken over by another caller; its result was not recorded"
            )
        return json.loads(stored)

    def _finish(
        self, key: str, owner: str, token: int, status: str, result: str | None, error_type: str | None
    ) -> bool:
        """Record the outcome, fenced: only the holder of the current attempt may (a caller whose
        lease was taken over must not overwrite the record of the call that replaced it)."""
        c = idempotency.c
        with self.store.write_transaction() as conn:
            done = conn.execute(
                update(idempotency)
                .where(c.key == key, c.owner == owner, c.attempt == token, c.status == "running")
                .values(status=status, result=result, error_type=error_type, updated_at=time.time())
            )
            return done.rowcount == 1


class _Flight:
    """The outcome of one in-process leader, handed to the duplicates that waited for it: the
    same JSON round-trip (a copy each), or IdempotentCallFailed when the leader's call raised."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._done = threading.Event()
        self._result: str | None = None
        self._error: str | None = None

    def settle(self, result: Any, error: BaseException | None) -> None:
        if error is None:
            self._result = json.dumps(result, separators=(",", ":"), ensure_ascii=False)
        else:
            self._error = type(error).__name__
        self._done.set()

    def outcome(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise IdempotentCallFailed(
                f"the call for idempotency key {self._key[:64]!r} failed ({self._error}) while this "
                "duplicate waited for it; call again to execute it again"
            )
        return json.loads(self._result or "null")


class _Turn:
    """What a caller does next given the key's record: return (its result; a missing record means
    the key was forgotten, so claim it), claim (a failed call or an expired lease), or sleep before
    looking again (with backoff, up to the wait limit)."""

    def __init__(self, key: str, wait_s: float) -> None:
        self.key = key
        self.wait_s = wait_s
        self.deadline = time.monotonic() + wait_s
        self.pause = _POLL_START_S
        self.waited_on: int | None = None  # the attempt this caller saw in flight

    def next(self, record: _Record | None) -> tuple[str, Any]:
        if record is None:
            return "claim", None
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
    of a lease, so a long call is never taken over while its process is alive. It writes through an
    engine of its own (its own connection), so duplicates polling on the store's pool can never
    starve it; a renewal that fails is retried after a tenth of a lease."""

    def __init__(self, store: Store, lease_s: float) -> None:
        self._store = store
        self._lease_s = lease_s
        self._held: dict[str, str] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None

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
        pause = self._lease_s / 3
        while True:
            with self._lock:
                self._wake.wait(pause)
                held = dict(self._held)
                if not held:
                    self._thread = None
                    if self._engine is not None:  # no call in flight: do not keep a connection open
                        self._engine.dispose()
                        self._engine = None
                    return
            try:
                self._renew(held)
                pause = self._lease_s / 3
            except Exception:  # the store is unreachable: retry soon; the lease may lapse meanwhile
                pause = self._lease_s / 10

    def _renew(self, held: dict[str, str]) -> None:
        c = idempotency.c
        until = time.time() + self._lease_s
        with self._transaction() as conn:
            for key, owner in held.items():
                conn.execute(
                    update(idempotency)
                    .where(c.key == key, c.owner == owner, c.status == "running")
                    .values(lease_until=until)
                )

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        url = self._store.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            with self._store.write_transaction() as conn:  # one shared connection: it must be that one
                yield conn
            return
        if self._engine is None:
            self._engine = create_store_engine(url)
        with write_transaction(self._engine) as conn:
            yield conn


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
