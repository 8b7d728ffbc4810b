"""Tables of the budget/limit/loop/idempotency/saga guards, and the atomic counter they share.

The counter is one row per key (`rg_counters`): `calls` (how many), `total` (a committed sum) and
`reserved` (in-flight estimates, for budgets). Sums are integers in fixed units (micro-units for
money and amounts) so that concurrent additions are exact and comparisons never drift.

`try_add` is a single conditional upsert, `INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE <still
under the caps> RETURNING ...`, the same statement on SQLite and PostgreSQL: the row lock taken by
the upsert (PostgreSQL) or the database write lock (SQLite, BEGIN IMMEDIATE) makes check+increment
one atomic step, so concurrent processes can never push a counter past its cap.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from railguard.model import Context, Mode
from railguard.store import Migration, Store, create_tables, register_migration
from railguard.store._connect import DriverTx

if TYPE_CHECKING:
    from railguard.engine import Facts

UNITS_PER_AMOUNT = 1_000_000  # money and summed amounts are stored as micro-units
_MAX_KEY = 200

metadata = MetaData()
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_AutoId = BigInteger().with_variant(Integer(), "sqlite")

counters = Table(
    "rg_counters",
    metadata,
    Column("key", String(_MAX_KEY + 16), primary_key=True),
    Column("calls", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_rg_counters_expires", "expires_at"),
)

loop_calls = Table(
    "rg_loop_calls",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("run_key", String(_MAX_KEY + 16), nullable=False),
    Column("sig", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_rg_loop_calls_run", "run_key", "id"),
    Index("ix_rg_loop_calls_sig", "run_key", "sig"),
)

loop_errors = Table(
    "rg_loop_errors",
    metadata,
    Column("run_key", String(_MAX_KEY + 16), primary_key=True),
    Column("tool", String(_MAX_KEY + 16), primary_key=True),
    Column("sig", String(32), primary_key=True),
    Column("n", Integer, nullable=False),
    Column("error_type", String(128), nullable=False),
    Column("at", Float, nullable=False),
)

idempotency = Table(
    "rg_idempotency",
    metadata,
    Column("key", String(_MAX_KEY + 16), primary_key=True),
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("owner", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("lease_until", Float, nullable=False),
    Column("result", Text, nullable=True),
    Column("error_type", String(128), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

saga_steps = Table(
    "rg_saga_steps",
    metadata,
    Column("id", _AutoId, primary_key=True, autoincrement=True),
    Column("run_id", String(_MAX_KEY + 16), nullable=False),
    Column("undo", String(256), nullable=False),
    Column("args", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | running | done | failed
    Column("attempts", Integer, nullable=False),
    Column("error", String(300), nullable=True),
    Column("lease_until", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_rg_saga_steps_run", "run_id", "id"),
)

register_migration(Migration("state.counters", 1, "budget and limit counters", create_tables(counters)))
register_migration(
    Migration("state.loops", 1, "loop calls and errors", create_tables(loop_calls, loop_errors))
)
register_migration(Migration("state.idempotency", 1, "idempotency records", create_tables(idempotency)))
register_migration(Migration("state.saga", 1, "saga compensation steps", create_tables(saga_steps)))


def ensure_tables(store: Store) -> None:
    """Apply these migrations if the store was opened before this module was imported (cheap when done)."""
    store.migrate()


def bounded_key(*parts: str) -> str:
    """A counter key from its parts; over-long keys (user-supplied names) become a stable digest."""
    key = "\x1f".join(parts)
    if len(key) <= _MAX_KEY:
        return key
    return key[:64] + "#" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def to_units(value: float, scale: int) -> int:
    return round(value * scale)


def dialect_insert(conn: Connection, table: Table) -> Any:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


@dataclass(frozen=True, slots=True)
class CounterState:
    calls: int = 0
    total: int = 0
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class Caps:
    """What an addition must keep true. `headroom`: refuse even a zero addition once the counter is
    at its cap (a budget that is used up blocks a call whose cost is unknown)."""

    max_calls: int | None = None
    max_total: int | None = None
    headroom: bool = False


def read_counter(conn: Connection | DriverTx, key: str) -> CounterState:
    """One counter (zero when absent); on a SQLAlchemy connection (tests, tools) or a `DriverTx`."""
    if isinstance(conn, DriverTx):
        return read_counters(conn, [key])[key]
    c = counters.c
    row = conn.execute(select(c.calls, c.total, c.reserved).where(c.key == key)).first()
    return CounterState() if row is None else CounterState(int(row[0]), int(row[1]), int(row[2]))


def read_counters(tx: DriverTx, keys: Sequence[str]) -> dict[str, CounterState]:
    """The counters named by `keys` in one statement (absent ones as zero)."""
    found = {key: CounterState() for key in keys}
    if found:
        for key, calls, total, reserved in tx.rows(counters_select(tx.mark, len(found)), tuple(found)):
            found[key] = CounterState(int(calls), int(total), int(reserved))
    return found


# The guards' statements are written out once per dialect and sent to the driver as they are
# (`DriverTx`): on the decision path, building SQLAlchemy expressions costs more than SQLite running them.
@functools.cache
def counters_select(p: str, n: int) -> str:
    marks = ", ".join([p] * n)
    return f'SELECT "key", calls, total, reserved FROM rg_counters WHERE "key" IN ({marks})'


@functools.cache
def _upsert(p: str, max_calls: bool, max_total: bool, headroom: bool) -> str:
    now = "rg_counters.total + rg_counters.reserved"
    conditions = []
    if max_calls:
        conditions.append(f"rg_counters.calls + excluded.calls <= {p}")
    if max_total:
        conditions.append(f"{now} + excluded.total + excluded.reserved <= {p}")
        if headroom:
            conditions.append(f"{now} < {p}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return (
        f'INSERT INTO rg_counters ("key", calls, total, reserved, expires_at) VALUES ({p}, {p}, {p}, {p}, {p}) '
        'ON CONFLICT ("key") DO UPDATE SET calls = rg_counters.calls + excluded.calls, '
        "total = rg_counters.total + excluded.total, reserved = rg_counters.reserved + excluded.reserved"
        f"{where} RETURNING calls, total, reserved"
    )


@functools.cache
def _adjust(p: str) -> str:
    return (
        f"UPDATE rg_counters SET calls = calls + {p}, total = total + {p}, reserved = reserved + {p} "
        f'WHERE "key" = {p}'
    )


Part = tuple[str, tuple[Any, ...]]  # a statement and its parameters, returning one row when applied


def upsert_part(
    mark: str, key: str, caps: Caps, *, calls: int = 0, total: int = 0, reserved: int = 0, expires_at: float
) -> Part | None:
    """The conditional upsert adding to a counter within `caps` (RETURNING the counter after it;
    no row when refused), or None when the addition alone exceeds the caps."""
    if not fits(CounterState(), caps, calls, total + reserved):
        return None
    params: list[object] = [key, calls, total, reserved, expires_at]
    if caps.max_calls is not None:
        params.append(caps.max_calls)
    if caps.max_total is not None:
        params.append(caps.max_total)
        if caps.headroom:
            params.append(caps.max_total)
    return _upsert(mark, caps.max_calls is not None, caps.max_total is not None, caps.headroom), tuple(params)


def run_parts(tx: DriverTx, parts: Sequence[Part | None], *, combine: bool) -> list[tuple[Any, ...] | None]:
    """Run each part; its first row, or None (refused, or not run). On PostgreSQL, `combine` sends
    them as ONE statement (each a data-modifying WITH query): one round trip instead of one per
    part. Only for parts that touch distinct rows (a row may change once per statement)."""
    live = [(i, part) for i, part in enumerate(parts) if part is not None]
    out: list[tuple[Any, ...] | None] = [None] * len(parts)
    if combine and tx.dialect == "postgresql" and len(live) > 1:
        withs = ", ".join(f"p{i} AS ({sql})" for i, (sql, _) in live)
        selects = " UNION ALL ".join(f"SELECT {i}, * FROM p{i}" for i, _ in live)
        params = tuple(value for _, (_, values) in live for value in values)
        for row in tx.rows(f"WITH {withs} {selects}", params):
            out[int(row[0])] = tuple(row[1:])
        return out
    for i, (sql, values) in live:
        rows = tx.rows(sql, values)
        out[i] = tuple(rows[0]) if rows else None
    return out


# The marker of a refused all-or-nothing charge: casting it to an integer fails the statement (so
# none of it is applied), and the server's log says why. Not a constant the planner could fold:
# the CASE depends on the rows.
_REFUSED = "railguard: charge refused, a cap was reached"


@functools.cache
def _at_once(sqls: tuple[str, ...]) -> str:
    withs = ", ".join(f"p{i} AS ({sql})" for i, sql in enumerate(sqls))
    rows = " UNION ALL ".join(f"SELECT {i}, * FROM p{i}" for i in range(len(sqls)))
    return (
        f"WITH {withs}, charged (part, a, b, c) AS ({rows}) "
        f"SELECT part, a, b, c, {RELAX_COMMIT_COLUMN}, CAST(CASE WHEN (SELECT count(*) FROM charged) < "
        f"{len(sqls)} THEN '{_REFUSED}' END AS integer) FROM charged"
    )


def charge_at_once(tx: DriverTx, parts: Sequence[Part | None]) -> list[tuple[Any, ...]] | None:
    """PostgreSQL, on `driver_statements`: every part in ONE statement that commits by itself
    (relaxed, as `counter_transaction`'s) and is all or nothing: when a part is refused the
    statement fails, so nothing is applied. Returns each part's row, or None when a part was
    refused (nothing changed: the caller charges in a transaction, to learn which and why). Only
    for parts that touch distinct rows (a row may change once per statement)."""
    if not parts or any(part is None for part in parts):
        return None
    live = [part for part in parts if part is not None]
    try:
        found = tx.rows(
            _at_once(tuple(sql for sql, _ in live)), tuple(v for _, values in live for v in values)
        )
    except Exception as exc:
        if getattr(exc, "sqlstate", None) != "22P02" or _REFUSED not in str(exc):
            raise  # not our refusal
        return None
    out: list[tuple[Any, ...]] = [()] * len(live)
    for row in found:
        out[int(row[0])] = tuple(row[1:4])
    return out if len(found) == len(live) else None


def charged_in_one_statement(store: Store, parts: Sequence[Part | None]) -> list[tuple[Any, ...]] | None:
    """PostgreSQL, for a direct check or reservation: `parts` charged by ONE autocommitted
    statement (`charge_at_once`: one round trip instead of BEGIN, SET, the statement and COMMIT).
    Each part's row, or None when nothing was applied (a part refused, or parts sharing a row):
    then the caller charges in `counter_transaction`, which tells which cap refused."""
    if store.dialect != "postgresql" or not parts or any(part is None for part in parts):
        return None
    keys = [part[1][0] for part in parts if part is not None]  # every upsert's first parameter: its key
    if len(set(keys)) != len(keys):
        return None  # a row may change once per statement
    with store.driver_statements() as tx:
        return charge_at_once(tx, parts)


def try_add(
    tx: DriverTx,
    key: str,
    caps: Caps,
    *,
    calls: int = 0,
    total: int = 0,
    reserved: int = 0,
    expires_at: float,
) -> tuple[bool, CounterState]:
    """Add to a counter if the result stays within `caps`, atomically. Returns (added, state): the
    state after the addition, or the current one when refused (nothing changed then)."""
    part = upsert_part(tx.mark, key, caps, calls=calls, total=total, reserved=reserved, expires_at=expires_at)
    return added_state(tx, key, run_parts(tx, [part], combine=False)[0])


def added_state(tx: DriverTx, key: str, row: tuple[Any, ...] | None) -> tuple[bool, CounterState]:
    """(added, state) from an upsert's row: the counter after it, or (refused) as it is now."""
    if row is None:
        return False, read_counter(tx, key)
    return True, CounterState(int(row[0]), int(row[1]), int(row[2]))


def fits(state: CounterState, caps: Caps, calls: int, amount: int) -> bool:
    """Whether adding `calls` and `amount` to a counter in `state` stays within `caps`."""
    if caps.max_calls is not None and state.calls + calls > caps.max_calls:
        return False
    if caps.max_total is not None:
        used = state.total + state.reserved
        if used + amount > caps.max_total or (caps.headroom and used >= caps.max_total):
            return False
    return True


def adjust(tx: DriverTx, key: str, *, calls: int = 0, total: int = 0, reserved: int = 0) -> None:
    """Move amounts unconditionally (settling a reservation: reserved -> total; giving back a charge)."""
    tx.rows(_adjust(tx.mark), (calls, total, reserved, key))


@contextlib.contextmanager
def counter_transaction(store: Store) -> Iterator[DriverTx]:
    """A write transaction for guard counters (budgets, limits, loops), on the bare driver
    connection. On PostgreSQL it commits without waiting for the WAL flush (`synchronous_commit =
    off`): atomicity and isolation are unchanged, so no two processes can both pass a cap, but a
    crash of the DATABASE server (not of an application process) may lose the last fraction of a
    second (at most 3 x wal_writer_delay) of increments: a few calls it admitted would not count
    against their budgets and limits afterwards. That costs ~0.2 ms instead of a several-ms disk
    flush per guarded call. Records that must survive (idempotency results, approvals, decisions)
    keep full durability. The decision's own charge (`charge_at_once`) is relaxed the same way."""
    with store.driver_transaction() as tx:
        if tx.dialect == "postgresql":
            tx.rows(RELAX_COMMIT)
        yield tx


RELAX_COMMIT = "SET LOCAL synchronous_commit TO OFF"
RELAX_COMMIT_COLUMN = "set_config('synchronous_commit', 'off', true)"  # the same, as a SELECT's column


def purge_expired(store: Store, now: float | None = None) -> int:
    """Delete counters whose window (or run retention) ended; returns how many."""
    with store.write_transaction() as conn:
        result = conn.execute(
            counters.delete().where(counters.c.expires_at < (time.time() if now is None else now))
        )
        return int(result.rowcount or 0)


def context_value(ctx: Context, field: str) -> str | None:
    """The identity a rule is keyed on: tenant, user, agent, session or run."""
    value = getattr(ctx, field, None)
    return None if value in (None, "") else str(value)


def hit_mode(facts: Facts | None) -> Mode:
    """Stateful guards follow the acting mode (the engine's, else the policy's): in audit mode their
    hits are recorded, not enforced."""
    return facts.mode if facts is not None else Mode.ENFORCE
