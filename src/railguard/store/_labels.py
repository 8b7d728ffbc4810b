"""Failure labels on runs and steps: a person marks what went wrong (with a note); the diagnosis
reads them. Scoped by tenant like every other read."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from railguard.store._control_schema import run_labels
from railguard.store._store import Store

LABELS = ("failure", "wrong_tool", "bad_arguments", "loop", "unsafe", "should_have_asked", "ok")


@dataclass(frozen=True, slots=True)
class RunLabel:
    tenant: str
    trace_id: str
    span_id: str | None
    label: str
    note: str
    created_by: str
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant, "trace_id": self.trace_id, "span_id": self.span_id, "label": self.label,
            "note": self.note, "created_by": self.created_by, "created_at": self.created_at,
        }  # fmt: skip


class RunLabels:
    def __init__(self, store: Store) -> None:
        store.migrate()
        self.store = store

    def add(
        self, *, tenant: str, trace_id: str, span_id: str | None, label: str, note: str, by: str
    ) -> RunLabel:
        if label not in LABELS:
            raise ValueError(f"unknown label {label[:40]!r}; use one of {', '.join(LABELS)}")
        row = RunLabel(
            tenant, trace_id[:64], (span_id or None) and span_id[:32], label, note[:4000], by, time.time()
        )
        with self.store.write_transaction() as conn:
            conn.execute(run_labels.insert().values(**row.to_dict()))
        return row

    def for_run(self, trace_id: str, *, tenant: str | None) -> list[RunLabel]:
        query = select(run_labels).where(run_labels.c.trace_id == trace_id)
        if tenant is not None:
            query = query.where(run_labels.c.tenant == tenant)
        with self.store.read_connection() as conn:
            rows = conn.execute(query.order_by(run_labels.c.created_at)).all()
        return [
            RunLabel(r.tenant, r.trace_id, r.span_id, r.label, r.note, r.created_by, float(r.created_at))
            for r in rows
        ]
