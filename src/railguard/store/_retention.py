"""Deleting old data in bounded batches: each batch is its own short transaction, so retention never
holds the write lock long enough to stall ingest."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Connection, delete, select

from railguard.store._schema import decisions, runs, spans

WriteTransaction = Callable[[], AbstractContextManager[Connection]]


def delete_older_than(
    write_transaction: WriteTransaction,
    days: float,
    *,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete runs (with their spans) that ended, and decisions taken, more than `days` ago.
    Returns the number of rows deleted (spans + runs + decisions); `on_batch(rows)` after each batch."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff_s = time.time() - days * 86_400
    deleted = 0
    while (count := _delete_run_batch(write_transaction, int(cutoff_s * 1e9), batch_size)) > 0:
        deleted += count
        if on_batch is not None:
            on_batch(count)
    while (count := _delete_decision_batch(write_transaction, cutoff_s, batch_size)) > 0:
        deleted += count
        if on_batch is not None:
            on_batch(count)
    return deleted


def _delete_run_batch(write_transaction: WriteTransaction, cutoff_ns: int, batch_size: int) -> int:
    """Up to `batch_size` spans' worth of whole runs (at least one run, however large)."""
    with write_transaction() as conn:
        candidates = conn.execute(
            select(runs.c.trace_id, runs.c.span_count)
            .where(runs.c.end_ns < cutoff_ns)
            .order_by(runs.c.end_ns)
            .limit(batch_size)
        ).all()
        chosen: list[str] = []
        span_total = 0
        for trace_id, span_count in candidates:
            if chosen and span_total + span_count > batch_size:
                break
            chosen.append(trace_id)
            span_total += span_count
        if not chosen:
            return 0
        removed_spans = conn.execute(delete(spans).where(spans.c.trace_id.in_(chosen))).rowcount
        removed_runs = conn.execute(delete(runs).where(runs.c.trace_id.in_(chosen))).rowcount
        return int(removed_spans) + int(removed_runs)


def _delete_decision_batch(write_transaction: WriteTransaction, cutoff_s: float, batch_size: int) -> int:
    with write_transaction() as conn:
        ids = conn.scalars(
            select(decisions.c.event_id).where(decisions.c.ts < cutoff_s).limit(batch_size)
        ).all()
        if not ids:
            return 0
        return int(conn.execute(delete(decisions).where(decisions.c.event_id.in_(ids))).rowcount)
