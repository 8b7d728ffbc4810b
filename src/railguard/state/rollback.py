"""Compensation (the saga pattern): each tool that changed the world records how to undo it, and
`rollback` runs the undos newest first.

    @undo_action("cancel_booking")                   # the undo, registered by name
    def cancel_booking(booking_id: str) -> None: ...

    saga = Saga(store, run_id)
    saga.register("cancel_booking", {"booking_id": "b-17"})        # by hand, or:
    @saga.compensate(undo="cancel_booking", args=lambda result, *a, **kw: {"booking_id": result["id"]})
    def book_hotel(city: str) -> dict: ...
    ...
    saga.rollback()                                  # or rollback(store, run_id) from another process

Steps are rows of `rg_saga_steps` (undo name, JSON arguments, status), so a rollback that crashed
half-way resumes with the next call: steps already undone are skipped, a step that was running when
the process died is retried once its lease expires (until then `rollback` stops at that step and
reports it in `in_progress_elsewhere`, so that older steps are never undone before newer ones). Undos must therefore be idempotent. An undo that
fails does not stop the others (each compensation is independent); the failures are raised together
as one `RollbackError` after the rest ran, and calling `rollback` again retries only those.
Undos are referenced by name so that any process can run them: register them with `@undo_action`
(or pass `undos={name: fn}`). Only the error type of a failed undo is stored.
"""

from __future__ import annotations

import contextvars
import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import or_, select, update

from railguard.errors import ConfigurationError, RollbackError
from railguard.model import current_context
from railguard.state._counters import ensure_tables, saga_steps
from railguard.store import Store

F = TypeVar("F", bound=Callable[..., Any])
UNDO_REGISTRY: dict[str, Callable[..., Any]] = {}
_current_saga: contextvars.ContextVar[Saga | None] = contextvars.ContextVar("railguard_saga", default=None)


def undo_action(name: str | None = None) -> Callable[[F], F]:
    """Register a function as an undo under `name` (default: module.qualname)."""

    def decorate(fn: F) -> F:
        UNDO_REGISTRY[name or _qualified(fn)] = fn
        return fn

    return decorate


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@dataclass(frozen=True, slots=True)
class SagaStep:
    id: int
    undo: str
    args: dict[str, Any]
    status: str  # pending | running | done | failed
    attempts: int
    error: str | None


@dataclass(frozen=True, slots=True)
class UndoFailure:
    step: int
    undo: str
    error_type: str
    exception: BaseException | None = None  # kept in memory only, for the caller to inspect


@dataclass
class RollbackReport:
    undone: list[str] = field(default_factory=list)  # undo names, in the order they ran
    failed: list[UndoFailure] = field(default_factory=list)
    in_progress_elsewhere: list[str] = field(default_factory=list)


class Saga:
    """The compensation log of one run (default: the current `railguard.run` scope's run id)."""

    def __init__(
        self,
        store: Store,
        run_id: str | None = None,
        *,
        undos: Mapping[str, Callable[..., Any]] | None = None,
        lease_s: float = 300.0,
    ) -> None:
        run_id = run_id or current_context().run
        if not run_id:
            raise ConfigurationError("a Saga needs a run id: pass run_id or open a railguard.run(...) scope")
        ensure_tables(store)
        self.store = store
        self.run_id = run_id
        self.undos = dict(undos or {})
        self.lease_s = lease_s

    def register(self, undo: str | Callable[..., Any], args: Mapping[str, Any] | None = None) -> int:
        """Record how to undo a step that just succeeded; returns the step id. `args` must be JSON."""
        if callable(undo):
            name = _qualified(undo)
            UNDO_REGISTRY.setdefault(name, undo)
        else:
            name = undo
        try:
            encoded = json.dumps(dict(args or {}), allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as err:
            raise ConfigurationError(f"the arguments of undo {name!r} must be JSON-serializable") from err
        now = time.time()
        with self.store.write_transaction() as conn:
            result = conn.execute(
                saga_steps.insert().values(
                    run_id=self.run_id,
                    undo=name,
                    args=encoded,
                    status="pending",
                    attempts=0,
                    error=None,
                    lease_until=0.0,
                    created_at=now,
                    updated_at=now,
                )
            )
            key = result.inserted_primary_key
            assert key is not None  # an INSERT of one row always has one
            return int(key[0])

    def compensate(
        self, *, undo: str | Callable[..., Any], args: Callable[..., Mapping[str, Any]] | None = None
    ) -> Callable[[F], F]:
        """Decorate a tool: after it returns, register `undo` with `args(result, *call_args,
        **call_kwargs)` (default: `{"result": result}`). A tool that raises registers nothing."""
        return _compensating(lambda: self, undo, args)

    def steps(self) -> list[SagaStep]:
        c = saga_steps.c
        with self.store.read_connection() as conn:
            rows = conn.execute(
                select(c.id, c.undo, c.args, c.status, c.attempts, c.error)
                .where(c.run_id == self.run_id)
                .order_by(c.id)
            ).all()
        return [SagaStep(int(r[0]), r[1], json.loads(r[2]), r[3], int(r[4]), r[5]) for r in rows]

    def rollback(self) -> RollbackReport:
        """Run the undos not yet done, newest first. Raises RollbackError if any failed."""
        report = RollbackReport()
        for step in reversed(self.steps()):
            if step.status == "done":
                continue
            if not self._claim(step):
                # Another rollback runs it, or its process died and the lease has not run out yet:
                # stop here, since undoing older steps first would break the reverse order.
                report.in_progress_elsewhere.append(step.undo)
                break
            fn = self.undos.get(step.undo) or UNDO_REGISTRY.get(step.undo)
            try:
                if fn is None:
                    raise LookupError(f"no undo registered under the name {step.undo!r}")
                fn(**step.args)
            except Exception as err:
                self._mark(step.id, "failed", type(err).__name__)
                report.failed.append(UndoFailure(step.id, step.undo, type(err).__name__, err))
                continue
            self._mark(step.id, "done", None)
            report.undone.append(step.undo)
        if report.failed:
            raise RollbackError(self.run_id, report)
        return report

    def _claim(self, step: SagaStep) -> bool:
        c = saga_steps.c
        now = time.time()
        with self.store.write_transaction() as conn:
            claimable = or_(
                c.status.in_(("pending", "failed")), (c.status == "running") & (c.lease_until < now)
            )
            result = conn.execute(
                update(saga_steps)
                .where(c.id == step.id, claimable)
                .values(
                    status="running", attempts=c.attempts + 1, lease_until=now + self.lease_s, updated_at=now
                )
            )
            return result.rowcount == 1

    def _mark(self, step_id: int, status: str, error: str | None) -> None:
        c = saga_steps.c
        with self.store.write_transaction() as conn:
            conn.execute(
                update(saga_steps)
                .where(c.id == step_id)
                .values(status=status, error=error, updated_at=time.time())
            )

    @contextmanager
    def active(self) -> Iterator[Saga]:
        """Make this the saga that the module-level `@compensate` decorator registers with."""
        token = _current_saga.set(self)
        try:
            yield self
        finally:
            _current_saga.reset(token)


def rollback(
    store: Store, run_id: str, *, undos: Mapping[str, Callable[..., Any]] | None = None
) -> RollbackReport:
    """Roll back a run's recorded steps from any process (see Saga.rollback)."""
    return Saga(store, run_id, undos=undos).rollback()


def compensate(
    *, undo: str | Callable[..., Any], args: Callable[..., Mapping[str, Any]] | None = None
) -> Callable[[F], F]:
    """Like `Saga.compensate`, for the saga made current with `with saga.active():`."""

    def current() -> Saga:
        saga = _current_saga.get()
        if saga is None:
            raise ConfigurationError(
                "@compensate needs an active saga: wrap the run in `with saga.active():`"
            )
        return saga

    return _compensating(current, undo, args)


def _compensating(
    saga_of: Callable[[], Saga], undo: str | Callable[..., Any], args: Callable[..., Mapping[str, Any]] | None
) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*call_args: Any, **call_kwargs: Any) -> Any:
            saga = saga_of()  # fail before acting if there is nowhere to record the undo
            result = fn(*call_args, **call_kwargs)
            undo_args = args(result, *call_args, **call_kwargs) if args else {"result": result}
            saga.register(undo, undo_args)
            return result

        return cast(F, wrapper)

    return decorate
