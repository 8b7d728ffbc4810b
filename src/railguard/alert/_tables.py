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

# The latest result of each named beat (per tenant), for the API and the dashboard; `error` is set when
# a scheduled beat failed to run (the server reports it there and in its log, and keeps serving).
beat_results = Table(
    "rg_heartbeat_results",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("tenant", String(128), nullable=False),  # "*": a beat over every tenant
    Column("beat_at", Float, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("items", _Json, nullable=False),
    Column("sent", Integer, nullable=False),
    Column("notify_errors", _Json, nullable=False),
    Column("error", Text),
)

# Who runs the scheduled beat of an interval: a replica claims the interval starting at T by moving
# `slot_start` forward to T with a conditional update, so of several replicas on one database exactly
# one beats per interval (a start time, not an interval number: changing the interval keeps working).
leases = Table(
    "rg_alert_leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("slot_start", Float, nullable=False),
    Column("holder", String(256), nullable=False),
    Column("claimed_at", Float, nullable=False),
)

register_migration(
    Migration("alert", 1, "heartbeat state, outbox", create_tables(alert_state, outbox, beats))
)
register_migration(
    Migration("alert", 2, "heartbeat results, schedule leases", create_tables(beat_results, leases))
)
