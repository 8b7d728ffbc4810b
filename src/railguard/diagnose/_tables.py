"""The diagnosis tables (migration component "diagnose"): findings, run labels, watermarks.

Identity columns hold "" rather than NULL for "not set", so equality lookups and unique keys behave the
same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from railguard.store import Migration, create_tables, register_migration

metadata = MetaData()
_Json = JSON().with_variant(JSONB(), "postgresql")

findings = Table(
    "rg_findings",
    metadata,
    Column("id", String(32), primary_key=True),  # derived from the fingerprint: stable across runs
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("tenant", String(128), nullable=False),
    Column("agent", String(256), nullable=False),
    Column("subject", String(512), nullable=False),  # the tool, model, rule or version it is about
    Column("summary", Text, nullable=False),
    Column("evidence", _Json, nullable=False),
    Column("suggestion", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("first_seen", Float, nullable=False),  # the onset: first evidence of the problem
    Column("last_seen", Float, nullable=False),
    Column("detail", _Json, nullable=False),  # the measured numbers (baseline, after, p value ...)
    Column("status", String(16), nullable=False),  # open | acknowledged | resolved | muted
    Column("status_by", String(256)),
    Column("status_note", Text),
    Column("status_at", Float),
    Column("times_seen", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("worsened_at", Float),  # severity went up, or a resolved finding came back
)
Index("ix_rg_findings_tenant_status", findings.c.tenant, findings.c.status, findings.c.last_seen)
Index("ix_rg_findings_updated", findings.c.updated_at)

labels = Table(
    "rg_run_labels",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("span_id", String(32), nullable=False),  # "" labels the whole run
    Column("label", String(16), nullable=False),  # failure | ok
    Column("note", Text, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ix_rg_run_labels_trace", labels.c.tenant, labels.c.trace_id)

watermarks = Table(
    "rg_diagnose_watermarks",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("value", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# The last root-cause answer shown for a run (deterministic or a validated LLM answer).
why_answers = Table(
    "rg_why_answers",
    metadata,
    Column("trace_id", String(64), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("answer", _Json, nullable=False),
    Column("created_at", Float, nullable=False),
)

register_migration(
    Migration("diagnose", 1, "findings, run labels, watermarks", create_tables(findings, labels, watermarks))
)
register_migration(Migration("diagnose", 2, "why answers", create_tables(why_answers)))
