"""The store's tables, as SQLAlchemy Core metadata: the current schema. A fresh database gets it from
migration `store` v1 (see _migrations.py); changing a table or an index means adding a migration that
brings older databases to the same state, never editing an applied one."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSON text on SQLite, JSONB on PostgreSQL (indexable, compact).
Json = JSON().with_variant(JSONB(), "postgresql")

# Nanosecond timestamps need 64 bits: BIGINT on PostgreSQL (SQLite integers are 64-bit already).
Nanos = BigInteger

spans = Table(
    "spans",
    metadata,
    Column("trace_id", String(64), nullable=False),
    Column("span_id", String(32), nullable=False),
    Column("parent_span_id", String(32)),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("start_ns", Nanos, nullable=False),
    Column("end_ns", Nanos, nullable=False),
    Column("status", String(8), nullable=False),
    Column("status_message", Text),
    Column("tenant", String(128)),
    Column("session", String(256)),
    Column("agent", String(256)),
    Column("agent_version", String(128)),
    Column("service", String(256)),
    Column("operation", String(64)),
    Column("provider", String(128)),
    Column("request_model", String(256)),
    Column("response_model", String(256)),
    Column("tool_name", String(256)),
    Column("tool_call_id", String(256)),
    Column("input_tokens", BigInteger),
    Column("output_tokens", BigInteger),
    Column("cache_read_tokens", BigInteger),
    Column("reasoning_tokens", BigInteger),
    Column("cost_usd", Float),
    Column("price_version", String(64)),
    Column("verdict", String(16)),
    Column("decision_id", String(64)),
    Column("rules", Text),
    Column("error_type", String(256)),
    Column("attributes", Json, nullable=False),
    Column("events", Json, nullable=False),
    Column("resource", Json, nullable=False),
    Column("prompt_version", String(128)),  # store v4
    # The primary key doubles as the by-trace index (get_trace reads a trace's spans through it).
    PrimaryKeyConstraint("trace_id", "span_id", name="pk_spans"),
)
Index("ix_spans_tenant_session", spans.c.tenant, spans.c.session)
Index("ix_spans_tenant_start", spans.c.tenant, spans.c.start_ns)

# One row per trace, aggregates upserted at ingest, so the run list never scans spans.
runs = Table(
    "runs",
    metadata,
    Column("trace_id", String(64), primary_key=True),
    Column("tenant", String(128)),
    Column("agent", String(256)),
    Column("agent_version", String(128)),
    Column("session", String(256)),
    Column("service", String(256)),
    Column("root_name", Text),
    Column("start_ns", Nanos, nullable=False),
    Column("end_ns", Nanos, nullable=False),
    Column("span_count", Integer, nullable=False),
    Column("tool_calls", Integer, nullable=False),
    Column("model_calls", Integer, nullable=False),
    Column("blocks", Integer, nullable=False),
    Column("asks", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("prompt_version", String(128)),  # store v4: copied from the run's spans, like agent_version
)
# Every run-list index ends in (start_ns, trace_id), the list's ORDER BY and page cursor: a first page
# is then the top of one index range with no sort, whatever the planner believes about row counts
# (without statistics PostgreSQL sorted every run of the agent to keep 50). Migration store v2
# replaced the v1 indexes that stopped at start_ns.
Index("ix_runs_start", runs.c.start_ns, runs.c.trace_id)
Index("ix_runs_tenant_start", runs.c.tenant, runs.c.start_ns, runs.c.trace_id)
Index("ix_runs_tenant_agent_start_id", runs.c.tenant, runs.c.agent, runs.c.start_ns, runs.c.trace_id)
Index("ix_runs_tenant_session_start_id", runs.c.tenant, runs.c.session, runs.c.start_ns, runs.c.trace_id)
Index("ix_runs_end", runs.c.end_ns)
# Store v1 indexes that v2 dropped (each one is a prefix of its replacement).
RETIRED_RUN_INDEXES = ("ix_runs_tenant_agent_start", "ix_runs_tenant_session")

# The decision log: one row per decision event (Decision.to_record() as written by the one writer,
# railguard.trace.DecisionLog), never overwritten. Events of one decision id (a retry, a re-check
# after approval, a later identical call) are numbered by `seq`; the filter columns are copied out of
# `record`. Migration store v3 turned the v1 table (one row per decision id) into this one.
decisions = Table(
    "decisions",
    metadata,
    Column("event_id", String(64), nullable=False),
    Column("decision_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("ts", Float, nullable=False),
    Column("tenant", String(128)),
    Column("session", String(256)),
    Column("agent", String(256)),
    Column("run", String(256)),
    Column("tool", String(256), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("would_verdict", String(16)),
    Column("mode", String(16)),
    Column("severity", String(16)),
    Column("rules", Text),
    Column("policy_revision", String(128)),
    Column("trace_id", String(64)),
    Column("span_id", String(32)),
    Column("record", Json, nullable=False),
    # Named: the v1 table's primary key keeps PostgreSQL's default name until v3 drops that table.
    PrimaryKeyConstraint("event_id", name="pk_decision_events"),
)
# Unique: two writers numbering the same decision's events at once conflict, and one retries.
Index("ux_decisions_decision_seq", decisions.c.decision_id, decisions.c.seq, unique=True)
# As for runs, every decision-list index ends in (ts, event_id), the dashboard's ORDER BY and page
# cursor, so a page is the top of one index range with no sort. The time indexes also carry what
# the overview counts (verdict, would_verdict, rules): a day of decisions is then counted from the
# index alone, not from the wide rows (5x less to read). A run's decisions (its replay) are found
# by `run`. Migration store v5 replaced the v1/v3 indexes that stopped at ts.
_OVERVIEW_COLUMNS = (decisions.c.verdict, decisions.c.would_verdict, decisions.c.rules)
Index(
    "ix_decisions_tenant_ts_id", decisions.c.tenant, decisions.c.ts, decisions.c.event_id, *_OVERVIEW_COLUMNS
)
Index(
    "ix_decisions_tenant_verdict_ts_id",
    decisions.c.tenant,
    decisions.c.verdict,
    decisions.c.ts,
    decisions.c.event_id,
)
Index("ix_decisions_ts_id", decisions.c.ts, decisions.c.event_id, *_OVERVIEW_COLUMNS)
Index("ix_decisions_run_ts_id", decisions.c.run, decisions.c.ts, decisions.c.event_id)
# Indexes that v5 dropped (each one is a prefix of its replacement).
RETIRED_DECISION_INDEXES = ("ix_decisions_tenant_ts", "ix_decisions_tenant_verdict_ts", "ix_decisions_ts")

STORE_TABLES = (spans, runs, decisions)
