"""A request counter per API key shared by every server replica (migration component "ratelimit"):
one row per key holding its current window's start and how many requests of it were handed out.
A replica claims a share of the window with one upsert and serves that many requests from memory,
so the store sees one statement per share, not one per request, and the replicas together never
hand out more than the window's limit."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from railguard.store._migrations import Migration, create_tables, register_migration
from railguard.store._store import Store

metadata = MetaData()

rate_windows = Table(
    "rate_windows",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("started", Float, nullable=False),  # the window's start (a replica's wall clock)
    Column("used", Integer, nullable=False),  # requests of the window handed out to replicas
    Column("granted", Integer, nullable=False),  # what the last claim got (RETURNING reads it)
)

register_migration(Migration("ratelimit", 1, "shared per-key request windows", create_tables(rate_windows)))


def claim_window(
    store: Store, key_id: str, *, now: float, span_s: float, limit: int, share: int
) -> tuple[float, int]:
    """Up to `share` requests of the key's current window (a new window when the stored one has
    ended by `now`): returns (window start, requests granted, 0 when the window is used up).

    One statement, so two replicas claiming at once are serialized by the row, never double-count.
    A replica whose clock runs behind sees the stored window as still open, so windows only move
    forward. Runs on its own connection, not behind the store's write lock: a claim must not wait
    for a batch of spans being written."""
    t = rate_windows
    insert = (pg_insert if store.dialect == "postgresql" else sqlite_insert)(t)
    first = min(share, limit)
    statement = insert.values(key_id=key_id, started=now, used=first, granted=first)
    ended = statement.excluded.started >= t.c.started + span_s
    more = case((t.c.used >= limit, 0), (t.c.used + share > limit, limit - t.c.used), else_=share)
    upsert = statement.on_conflict_do_update(
        index_elements=[t.c.key_id],
        set_={
            "started": case((ended, statement.excluded.started), else_=t.c.started),
            "used": case((ended, statement.excluded.used), else_=t.c.used + more),
            "granted": case((ended, statement.excluded.granted), else_=more),
        },
    ).returning(t.c.started, t.c.granted)
    with store._translate_errors("write"), store.engine.begin() as conn:  # failures: StoreError
        started, granted = conn.execute(upsert).one()
    return float(started), int(granted)
