"""The proposals table (migration component "proposals"): one row per proposed policy change,
identified by a fingerprint of what it is about (kind, tenant, subject), so generating again updates
the row instead of adding one, and a rejection is remembered."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from railguard.store import Migration, create_tables, register_migration

metadata = MetaData()
_Json = JSON().with_variant(JSONB(), "postgresql")

proposals = Table(
    "rg_proposals",
    metadata,
    Column("id", String(32), primary_key=True),  # derived from the fingerprint: stable across runs
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("tenant", String(128), nullable=False),
    Column("kind", String(48), nullable=False),  # the source: violation_cluster, loop, audit_confirmed ...
    Column("source", String(64), nullable=False),  # the finding id, or "decisions"
    Column("subject", String(512), nullable=False),
    Column("title", Text, nullable=False),
    Column("rationale", Text, nullable=False),
    Column("evidence", _Json, nullable=False),  # [{decision_id, trace_id, run, tool, why}]
    Column("evidence_count", Integer, nullable=False),
    Column("patch", Text, nullable=False),  # YAML in the policy format
    Column("cases", Text, nullable=False),  # YAML: a `cases:` list for `railguard test`
    Column("backtest", _Json, nullable=False),  # the backtest summary at generation
    Column("status", String(16), nullable=False),  # open | accepted | rejected | shadow
    Column("status_by", String(256)),
    Column("status_reason", Text),
    Column("status_at", Float),
    Column("status_evidence", Integer),  # evidence count when it was last decided (rejections)
    Column("applied_to", String(512)),  # "r7" (a revision) or the policy file it was written into
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_rg_proposals_tenant_status", proposals.c.tenant, proposals.c.status, proposals.c.updated_at)

register_migration(Migration("proposals", 1, "proposals", create_tables(proposals)))
