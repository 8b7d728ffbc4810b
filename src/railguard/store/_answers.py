"""Guard answers by (tenant, decision_id): a retried evaluate call gets the first answer again, on
any replica, and the stateful guards do not count it twice. First writer wins."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from railguard.store._control_schema import guard_answers, output_observers
from railguard.store._ingest import dialect_insert
from railguard.store._store import Store


class GuardAnswers:
    def __init__(self, store: Store) -> None:
        store.migrate()
        self.store = store

    def get(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        query = select(guard_answers.c.answer).where(
            guard_answers.c.tenant == tenant, guard_answers.c.decision_id == decision_id
        )
        with self.store.read_connection() as conn:
            found = conn.execute(query).scalar_one_or_none()
        return None if found is None else dict(found)

    def put(self, tenant: str, decision_id: str, answer: Mapping[str, Any]) -> dict[str, Any]:
        """Store `answer` unless one is stored already; returns the stored one (the first writer's)."""
        with self.store.write_transaction() as conn:
            stmt = dialect_insert(conn, guard_answers).values(
                tenant=tenant, decision_id=decision_id, answer=dict(answer), created_at=time.time()
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["tenant", "decision_id"]))
            stored = conn.execute(
                select(guard_answers.c.answer).where(
                    guard_answers.c.tenant == tenant, guard_answers.c.decision_id == decision_id
                )
            ).scalar_one()
        return dict(stored)

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
