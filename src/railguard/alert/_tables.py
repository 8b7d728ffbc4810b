"""The heartbeat's memory (migration component "alert"): what was sent when, and the notifications
that failed and wait to be retried."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from railguard.store import Migration, create_tables, register_migration

metadata = MetaData()
_Json = JSON().with_variant(JSONB(), "postgresql")

# One row per problem the heartbeat reported: dedup and the re-notify interval read it.
alert_state = Table(
    "rg_alert_state",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("severity", String(16), nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("last_sent", Float),
    Column("sends", Integer, nullable=False),
)

# Notifications that could not be delivered: retried on the next beat, and reported until they go out.
outbox = Table(
    "rg_alert_outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("target", String(64), nullable=False),  # a digest of the target (it may hold a secret)
    Column("target_display", String(512), nullable=False),
    Column("message", _Json, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
)

beats = Table(
    "rg_heartbeats",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("last_beat", Float, nullable=False),
)

register_migration(
    Migration("alert", 1, "heartbeat state, outbox", create_tables(alert_state, outbox, beats))
)
