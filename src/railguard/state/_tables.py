"""Tables of the approvals and kill switch guards, created by their own store migrations.

Identity columns hold "" rather than NULL for "not set": equality lookups (`session = ?`) then work the
same on SQLite and PostgreSQL, and unique keys are not bypassed by NULLs. Changing a table means a
new migration version, never editing v1.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, MetaData, String, Table, Text, literal_column
from sqlalchemy.dialects.postgresql import JSONB

from railguard.store import Migration, create_tables, register_migration

metadata = MetaData()
_Json = JSON().with_variant(JSONB(), "postgresql")

approvals = Table(
    "rg_approvals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("agent", String(256), nullable=False),
    Column("user", String(256), nullable=False),
    Column("session", String(256), nullable=False),
    Column("run", String(256), nullable=False),
    Column("tool", String(256), nullable=False),
    Column("args_digest", String(64), nullable=False),
    Column("args_redacted", _Json, nullable=False),  # never the raw arguments: they may hold secrets
    Column("reason", Text, nullable=False),
    Column("rules", _Json, nullable=False),
    Column("scope", String(16), nullable=False),  # call | session | tool
    Column("match", Text),  # the policy's CEL pattern for session/tool scope, for display
    Column("status", String(16), nullable=False),  # pending | approved | denied | expired
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),  # a pending request expires (= denied) then
    Column("decided_at", Float),
    Column("decided_by", String(256)),
    Column("note", Text),
    Column("grant_ttl_s", Float, nullable=False),  # how long an answer stays in force (the rule's ttl)
    Column("valid_until", Float),  # an approval covers calls (a denial blocks retries) until then
    Column("decision_id", String(64), nullable=False),
    Column("context", _Json, nullable=False),
)
Index("ix_rg_approvals_lookup", approvals.c.tenant, approvals.c.tool, approvals.c.status)
Index("ix_rg_approvals_status_expiry", approvals.c.status, approvals.c.expires_at)
Index("ix_rg_approvals_tenant_created", approvals.c.tenant, approvals.c.created_at)
# One pending request per call: retries and concurrent workers share it instead of paging a human twice.
# A literal, not a bound parameter: PostgreSQL matches ON CONFLICT targets to partial indexes by text.
PENDING_PREDICATE = approvals.c.status == literal_column("'pending'")
PENDING_CALL_KEY = (approvals.c.tenant, approvals.c.tool, approvals.c.args_digest, approvals.c.session)
Index(
    "uq_rg_approvals_pending_call",
    *PENDING_CALL_KEY,
    unique=True,
    sqlite_where=PENDING_PREDICATE,
    postgresql_where=PENDING_PREDICATE,
)

# One row per switch; "" in a column means "any". A global switch is ("", "", "").
kill_switches = Table(
    "rg_kill_switches",
    metadata,
    Column("tenant", String(128), primary_key=True),
    Column("agent", String(256), primary_key=True),
    Column("tool", String(256), primary_key=True),
    Column("engaged", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_by", String(256), nullable=False),
    Column("changed_at", Float, nullable=False),
)
Index("ix_rg_kill_switches_engaged", kill_switches.c.engaged)

register_migration(Migration("state.approvals", 1, "approval requests", create_tables(approvals)))
register_migration(Migration("state.killswitch", 1, "kill switches", create_tables(kill_switches)))
