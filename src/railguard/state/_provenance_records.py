"""Where taint records live: a bounded in-memory map for one process, or the `rg_provenance` table
shared by every process serving a run.

A record is keyed by (run, entity digest) and holds only a masked preview, the tool that first
brought the value in, whether a trusted source (the user, a trusted tool) also carried it, and
whether an output that carried it had injection signals. Raw values are never stored. Untyped
values (`_provenance_text`) use the same rows: kind "text", a run-salted digest of a word gram, and
an empty preview.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from sqlalchemy import Boolean, Column, Float, MetaData, String, Table, select

from railguard.state._counters import dialect_insert
from railguard.store import Migration, Store, create_tables, register_migration

_KEY_LEN = 216
_ROWS_PER_STATEMENT = 500  # 8 bound parameters a row: stays under SQLite's and PostgreSQL's limits

_Entry = TypeVar("_Entry")

metadata = MetaData()
provenance_table = Table(
    "rg_provenance",
    metadata,
    Column("run_key", String(_KEY_LEN), primary_key=True),
    Column("entity", String(32), primary_key=True),  # blake2b digest of (kind, normalized value)
    Column("kind", String(16), nullable=False),
    Column("preview", String(128), nullable=False),  # masked: never the value
    Column("source", String(256), nullable=False),  # the tool whose output first carried it
    Column("trusted", Boolean, nullable=False),
    Column("injected", Boolean, nullable=False),
    Column("first_at", Float, nullable=False),
)
register_migration(
    Migration("state.provenance", 1, "values seen in tool outputs, per run", create_tables(provenance_table))
)


@dataclass(frozen=True, slots=True)
class TaintRecord:
    entity: str
    kind: str
    preview: str
    source: str
    trusted: bool
    injected: bool

    def merged(self, other: TaintRecord) -> TaintRecord:
        """The first source stays; trust and injection signals accumulate."""
        return replace(self, trusted=self.trusted or other.trusted, injected=self.injected or other.injected)


class Records(Protocol):
    def add(self, run: str, records: Iterable[TaintRecord]) -> None: ...

    def lookup(self, run: str, entities: Iterable[str]) -> list[TaintRecord]: ...


def merge_batch(records: Iterable[TaintRecord]) -> dict[str, TaintRecord]:
    """One record per entity (a multi-row upsert may not touch a row twice)."""
    out: dict[str, TaintRecord] = {}
    for record in records:
        known = out.get(record.entity)
        out[record.entity] = record if known is None else known.merged(record)
    return out


def lru_entry(
    runs: OrderedDict[str, _Entry],
    run: str,
    make: Callable[[], _Entry],
    max_runs: int,
    forgotten: Callable[[_Entry], None] | None = None,
) -> _Entry:
    """`runs[run]`, made when missing, as the most recently used; the least recently used run is
    forgotten (and handed to `forgotten`) past `max_runs`."""
    found = runs.get(run)
    if found is None:
        found = runs[run] = make()
        while len(runs) > max_runs:
            _, gone = runs.popitem(last=False)
            if forgotten is not None:
                forgotten(gone)
    else:
        runs.move_to_end(run)
    return found


class _RunRecords:
    __slots__ = ("known", "pending", "pending_chars", "untrusted")

    def __init__(self) -> None:
        self.known: dict[str, TaintRecord] = {}
        # Records not made yet, in arrival order (see `MemoryRecords.add_later`).
        self.pending: list[Callable[[], Iterable[TaintRecord]]] = []
        self.pending_chars = 0
        self.untrusted = False  # an untrusted record reached the run (made or still pending)


class MemoryRecords:
    """One process: per-run maps in an LRU (the least recently used run is forgotten first).

    Records handed over lazily (`add_later`: an output's typed values, extracted only when made)
    wait in arrival order and are made when a lookup in their run could see them: a run with an
    untrusted record (a trusted record only matters next to one, it vouches for it) looked up by
    a check. A run no check looks typed values up in never pays for extracting them, and every
    lookup answers as if each record had been made as it came (same cap, same order)."""

    def __init__(
        self,
        max_runs: int = 10_000,
        max_per_run: int = 20_000,
        max_pending_chars: int = 4_000_000,
        max_pending_total: int = 64_000_000,
    ) -> None:
        self._runs: OrderedDict[str, _RunRecords] = OrderedDict()
        self._max_runs = max_runs
        self._max_per_run = max_per_run
        # Past these (a run's pending text, all runs' together), a run's pending records are made
        # at once: held-back texts stay bounded in memory however many runs are open.
        self._max_pending_chars = max_pending_chars
        self._max_pending_total = max_pending_total
        self._pending_total = 0
        self._lock = threading.Lock()

    def _state(self, run: str) -> _RunRecords:
        return lru_entry(self._runs, run, _RunRecords, self._max_runs, self._forget)

    def _forget(self, state: _RunRecords) -> None:
        self._pending_total -= state.pending_chars

    def _merge(self, state: _RunRecords, records: Iterable[TaintRecord]) -> None:
        known = state.known
        for entity, record in merge_batch(records).items():
            state.untrusted = state.untrusted or not record.trusted
            old = known.get(entity)
            if old is not None:
                known[entity] = old.merged(record)
            elif len(known) < self._max_per_run:
                known[entity] = record

    def _make_pending(self, state: _RunRecords) -> None:
        self._pending_total -= state.pending_chars
        pending, state.pending, state.pending_chars = state.pending, [], 0
        for make in pending:
            self._merge(state, make())

    def add(self, run: str, records: Iterable[TaintRecord]) -> None:
        batch = list(records)
        with self._lock:
            state = self._state(run)
            if state.pending:
                self._make_pending(state)  # first, so the per-run bound keeps the arrival order
            self._merge(state, batch)

    def add_later(
        self, run: str, make: Callable[[], Iterable[TaintRecord]], chars: int, *, untrusted: bool
    ) -> None:
        """Records (`make()`, from a text of `chars` characters; `untrusted`: whether they are),
        made when a lookup in the run could first see them, or at once past the pending bounds."""
        with self._lock:
            state = self._state(run)
            state.pending.append(make)
            state.pending_chars += chars
            state.untrusted = state.untrusted or untrusted
            self._pending_total += chars
            if state.pending_chars > self._max_pending_chars or self._pending_total > self._max_pending_total:
                self._make_pending(state)

    def lookup(self, run: str, entities: Iterable[str]) -> list[TaintRecord]:
        with self._lock:
            state = self._runs.get(run)
            if state is None:
                return []
            if state.pending and state.untrusted:
                self._make_pending(state)  # an untrusted record may answer, and trusted ones vouch
            known = state.known
            return [known[e] for e in entities if e in known] if known else []

    def lookup_made(self, run: str, entities: Iterable[str]) -> list[TaintRecord]:
        """`lookup` among the records made so far, for keys no pending record can carry: records
        added at once (`add`) are made after everything pending before them, so only later
        `add_later` records are left pending, and their keys (digests of typed values) never equal
        a user pointer's digest."""
        with self._lock:
            state = self._runs.get(run)
            if state is None or not state.known:
                return []
            known = state.known
            return [known[e] for e in entities if e in known]


class StoreRecords:
    """Many processes: records in the store; an upsert merges what concurrent writers saw."""

    def __init__(self, store: Store) -> None:
        store.migrate()  # cheap when done; needed if the store was opened before this module loaded
        self._store = store

    def add(self, run: str, records: Iterable[TaintRecord]) -> None:
        batch = merge_batch(records)
        if not batch:
            return
        now = time.time()
        rows = [
            {
                "run_key": run,
                "entity": r.entity,
                "kind": r.kind,
                "preview": r.preview[:128],
                "source": r.source[:256],
                "trusted": r.trusted,
                "injected": r.injected,
                "first_at": now,
            }
            for r in batch.values()
        ]
        t = provenance_table.c
        with self._store.write_transaction() as conn:
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                stmt = dialect_insert(conn, provenance_table).values(
                    rows[start : start + _ROWS_PER_STATEMENT]
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[t.run_key, t.entity],
                        set_={
                            "trusted": t.trusted | stmt.excluded.trusted,
                            "injected": t.injected | stmt.excluded.injected,
                        },
                    )
                )

    def lookup(self, run: str, entities: Iterable[str]) -> list[TaintRecord]:
        wanted = list(dict.fromkeys(entities))
        if not wanted:
            return []
        t = provenance_table.c
        columns = (t.entity, t.kind, t.preview, t.source, t.trusted, t.injected)
        out: list[TaintRecord] = []
        with self._store.read_connection() as conn:
            for start in range(0, len(wanted), _ROWS_PER_STATEMENT):
                chunk = wanted[start : start + _ROWS_PER_STATEMENT]
                query = select(*columns).where(t.run_key == run, t.entity.in_(chunk))
                out.extend(
                    TaintRecord(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5])) for r in conn.execute(query)
                )
        return out

    def purge_older_than(self, seconds: float) -> int:
        """Forget runs whose first record is older than `seconds` (retention)."""
        t = provenance_table.c
        with self._store.write_transaction() as conn:
            result = conn.execute(provenance_table.delete().where(t.first_at < time.time() - seconds))
            return int(result.rowcount or 0)
