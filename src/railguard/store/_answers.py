"""Guard answers by (tenant, decision_id): a retried evaluate call gets the first answer again, on
any replica, and the stateful guards do not count it twice. First writer wins.

`get_many`/`put_many` do the same for many calls in one transaction: the server groups the calls
that arrive while one transaction runs into the next (group commit), so a busy replica pays one
commit per group, not one per call, and still answers each call only after its answer is stored.

A stored answer never changes, so the answers this process has seen stored are also kept in a
bounded in-memory LRU: a retry that comes back to the same replica is answered without the store.
A miss asks the store, which stays the authority (another replica may have answered first). The
two statements per new answer run on the bare driver (`DriverTx`): they are on the decision path.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select

from railguard.store._connect import DriverTx, json_dumps, json_loads
from railguard.store._control_schema import guard_answers, output_observers
from railguard.store._ingest import dialect_insert
from railguard.store._store import Store

_SELECT = "SELECT answer FROM guard_answers WHERE tenant = {m} AND decision_id = {m}"
_INSERT = (
    "INSERT INTO guard_answers (tenant, decision_id, answer, created_at) VALUES ({m}, {m}, {answer}, {m}) "
    "ON CONFLICT (tenant, decision_id) DO NOTHING"
)


class GuardAnswers:
    def __init__(self, store: Store, *, cache_size: int = 10_000) -> None:
        store.migrate()
        self.store = store
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        cached = self.cached(tenant, decision_id)
        if cached is not None:
            return cached
        with self.store.driver_transaction(write=False) as tx:
            found = _stored(tx, tenant, decision_id)
        if found is not None:
            self._remember(tenant, decision_id, found)
        return found

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """`get` for each (tenant, decision_id), the store's in one read transaction."""
        found: list[dict[str, Any] | None] = [
            self.cached(tenant, decision_id) for tenant, decision_id in keys
        ]
        missing = [i for i, answer in enumerate(found) if answer is None]
        if missing:
            with self.store.driver_transaction(write=False) as tx:
                for i in missing:
                    found[i] = _stored(tx, *keys[i])
            for i in missing:
                if found[i] is not None:
                    self._remember(*keys[i], found[i])  # type: ignore[arg-type]
        return found

    def put(self, tenant: str, decision_id: str, answer: Mapping[str, Any]) -> dict[str, Any]:
        """Store `answer` unless one is stored already; returns the stored one (the first writer's)."""
        return self.put_many([(tenant, decision_id, answer)])[0]

    def put_many(self, items: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """`put` for each (tenant, decision_id, answer), in one write transaction (one commit)."""
        ours = [dict(answer) for _, _, answer in items]
        stored: list[dict[str, Any] | None] = []
        now = time.time()
        with self.store.driver_transaction(write=True) as tx:
            mark = tx.mark
            sql = _INSERT.format(m=mark, answer=mark if tx.dialect == "sqlite" else f"CAST({mark} AS jsonb)")
            for (tenant, decision_id, _), answer in zip(items, ours, strict=True):
                inserted = tx.count(sql, (tenant, decision_id, json_dumps(answer), now))
                stored.append(answer if inserted else _stored(tx, tenant, decision_id))
        out = []
        for (tenant, decision_id, _), answer, first in zip(items, ours, stored, strict=True):
            kept = answer if first is None else first  # None: deleted meanwhile (retention): ours stands
            self._remember(tenant, decision_id, kept)
            out.append(dict(kept))
        return out

    def cached(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        """The stored answer if this process has seen it (no store access); else None."""
        with self._lock:
            found = self._cache.get((tenant, decision_id))
            if found is None:
                return None
            self._cache.move_to_end((tenant, decision_id))
        return dict(found)

    def _remember(self, tenant: str, decision_id: str, answer: dict[str, Any]) -> None:
        if self.cache_size <= 0:
            return
        with self._lock:
            self._cache[(tenant, decision_id)] = answer
            self._cache.move_to_end((tenant, decision_id))
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def mark_observer(self, tenant: str) -> None:
        """Remember that `tenant` reports tool outputs (see output_observers)."""
        with self.store.write_transaction() as conn:
            stmt = dialect_insert(conn, output_observers).values(tenant=tenant, first_at=time.time())
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["tenant"]))

    def observers(self) -> set[str]:
        with self.store.read_connection() as conn:
            return {tenant for (tenant,) in conn.execute(select(output_observers.c.tenant))}

    def delete_older_than(self, seconds: float) -> int:
        with self.store.write_transaction() as conn:
            return int(
                conn.execute(
                    delete(guard_answers).where(guard_answers.c.created_at < time.time() - seconds)
                ).rowcount
            )


def _stored(tx: DriverTx, tenant: str, decision_id: str) -> dict[str, Any] | None:
    rows = tx.rows(_SELECT.format(m=tx.mark), (tenant, decision_id))
    if not rows:
        return None
    value = rows[0][0]  # text on SQLite; psycopg decodes jsonb itself
    return dict(json_loads(value) if isinstance(value, str | bytes) else value)
