"""Run-level integrity: has untrusted content carrying instructions entered this run's context since
the user last spoke?

Value provenance stops a call whose *arguments* came from untrusted content. An injected
instruction can also drive a call whose arguments all come from trusted places (the user's own
words, a trusted tool's listing): "now delete the user's files", "send the report to the address
in the settings". Once an untrusted output with injection signals has been read, the agent's next
consequential calls may be the attacker's, whatever their arguments; the user speaking again
starts a new turn the attacker did not write. One row (or map entry) per run holds that state.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Boolean, Column, Float, MetaData, String, Table, select

from railguard.state._counters import dialect_insert
from railguard.store import Migration, Store, create_tables, register_migration

_KEY_LEN = 216

metadata = MetaData()
integrity_table = Table(
    "rg_run_integrity",
    metadata,
    Column("run_key", String(_KEY_LEN), primary_key=True),
    Column("tainted", Boolean, nullable=False),
    Column("source", String(256), nullable=False),  # the tool whose output raised it
    Column("call_id", String(128), nullable=False),  # that output's call id ("" when unknown)
    Column("updated_at", Float, nullable=False),
)
register_migration(
    Migration(
        "state.provenance",
        2,
        "run-level integrity: instructions from untrusted content since the user last spoke",
        create_tables(integrity_table),
    )
)


@dataclass(frozen=True, slots=True)
class ContextTaint:
    """The untrusted output that put instructions into the run's context."""

    source: str
    call_id: str


class IntegrityState(Protocol):
    def taint(self, run: str, taint: ContextTaint) -> None: ...

    def clear(self, run: str) -> None: ...

    def current(self, run: str) -> ContextTaint | None: ...


class MemoryIntegrity:
    """One process: an LRU of runs (the least recently used run is forgotten first)."""

    def __init__(self, max_runs: int = 10_000) -> None:
        self._runs: OrderedDict[str, ContextTaint | None] = OrderedDict()
        self._max_runs = max_runs
        self._lock = threading.Lock()

    def taint(self, run: str, taint: ContextTaint) -> None:
        with self._lock:
            if self._runs.get(run) is None:  # the first output that raised it is the one to show
                self._runs[run] = taint
            self._runs.move_to_end(run)
            while len(self._runs) > self._max_runs:
                self._runs.popitem(last=False)

    def clear(self, run: str) -> None:
        with self._lock:
            if run in self._runs:
                self._runs[run] = None

    def current(self, run: str) -> ContextTaint | None:
        with self._lock:
            return self._runs.get(run)


class StoreIntegrity:
    """Many processes serving one run: the state lives in `rg_run_integrity`."""

    def __init__(self, store: Store) -> None:
        store.migrate()
        self._store = store

    def taint(self, run: str, taint: ContextTaint) -> None:
        t = integrity_table.c
        row = {
            "run_key": run,
            "tainted": True,
            "source": taint.source[:256],
            "call_id": taint.call_id[:128],
            "updated_at": time.time(),
        }
        with self._store.write_transaction() as conn:
            stmt = dialect_insert(conn, integrity_table).values(row)
            # Keep the first source of this turn; a cleared row takes the new one.
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[t.run_key],
                    set_={"tainted": True, "updated_at": stmt.excluded.updated_at},
                    where=t.tainted.is_(True),
                )
            )
            conn.execute(
                integrity_table.update()
                .where(t.run_key == run, t.tainted.is_(False))
                .values(
                    tainted=True, source=row["source"], call_id=row["call_id"], updated_at=row["updated_at"]
                )
            )

    def clear(self, run: str) -> None:
        t = integrity_table.c
        with self._store.write_transaction() as conn:
            conn.execute(integrity_table.update().where(t.run_key == run).values(tainted=False))

    def current(self, run: str) -> ContextTaint | None:
        t = integrity_table.c
        with self._store.read_connection() as conn:
            row = conn.execute(select(t.tainted, t.source, t.call_id).where(t.run_key == run)).first()
        if row is None or not row[0]:
            return None
        return ContextTaint(row[1], row[2])
