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
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import Boolean, Column, Float, MetaData, String, Table, select

from railguard.state._counters import dialect_insert
from railguard.store import Migration, Store, create_tables, register_migration

_KEY_LEN = 216
_ROWS_PER_STATEMENT = 500  # 8 bound parameters a row: stays under SQLite's and PostgreSQL's limits

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


class MemoryRecords:
    """One process: per-run maps in an LRU (the least recently used run is forgotten first)."""

    def __init__(self, max_runs: int = 10_000, max_per_run: int = 20_000) -> None:
        self._runs: OrderedDict[str, dict[str, TaintRecord]] = OrderedDict()
        self._max_runs = max_runs
        self._max_per_run = max_per_run
        self._lock = threading.Lock()

    def add(self, run: str, records: Iterable[TaintRecord]) -> None:
        batch = merge_batch(records)
        with self._lock:
            known = self._runs.get(run)
            if known is None:
                known = self._runs[run] = {}
                while len(self._runs) > self._max_runs:
                    self._runs.popitem(last=False)
            else:
                self._runs.move_to_end(run)
            for entity, record in batch.items():
                old = known.get(entity)
                if old is not None:
                    known[entity] = old.merged(record)
                elif len(known) < self._max_per_run:
                    known[entity] = record

    def lookup(self, run: str, entities: Iterable[str]) -> list[TaintRecord]:
        with self._lock:
            known = self._runs.get(run)
            if not known:
                return []
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
