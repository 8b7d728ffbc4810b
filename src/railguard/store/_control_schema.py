"""The control room's tables (migration component "server"): API keys, guard answers kept for
idempotency, policy revisions and which one is active per tenant, and the hash-chained audit log.

Keys are stored as the SHA-256 of the key, never the key. Every table carries its tenant, and every
query in `_keys`, `_revisions` and `_audit` filters by it."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text

from railguard.store._migrations import Migration, create_tables, register_migration
from railguard.store._schema import Json

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("tenant", String(128), nullable=False),  # "*": every tenant
    Column("role", String(16), nullable=False),
    Column("name", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(256)),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
    Column("rate_per_s", Float),  # None: the server's default
)
Index("ix_api_keys_tenant", api_keys.c.tenant, api_keys.c.created_at)

# The answer given to an evaluate call that named a tool call id, so a retry (on any replica) gets
# the same answer without the stateful guards counting the call twice.
guard_answers = Table(
    "guard_answers",
    metadata,
    Column("tenant", String(128), nullable=False),
    Column("decision_id", String(64), nullable=False),
    Column("answer", Json, nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant", "decision_id", name="pk_guard_answers"),
)
Index("ix_guard_answers_created", guard_answers.c.created_at)

policy_revisions = Table(
    "policy_revisions",
    metadata,
    Column("tenant", String(128), nullable=False),
    Column("rev", Integer, nullable=False),
    Column("content", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("policy_revision", String(256), nullable=False),  # the compiled policy's name@version#digest
    Column("author", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("diff", Text, nullable=False),  # unified diff against the revision active at upload
    Column("rules", Integer, nullable=False),
    PrimaryKeyConstraint("tenant", "rev", name="pk_policy_revisions"),
)

policy_active = Table(
    "policy_active",
    metadata,
    Column("tenant", String(128), primary_key=True),
    Column("rev", Integer, nullable=False),
    Column("mode", String(16), nullable=False),  # "enforce" | "audit" (shadow: record, never act)
    Column("previous_rev", Integer),
    Column("previous_mode", String(16)),
    Column("activated_at", Float, nullable=False),
    Column("activated_by", String(256), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False),
    Column("tenant", String(128), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(256), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON text: hashed exactly as stored
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_tenant_seq", audit_log.c.tenant, audit_log.c.seq)

# Dashboard logins: the cookie carries a random session id; the store keeps its hash, the key it
# acts as, and the CSRF token its forms must echo. Shared by every replica.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("key_id", String(32), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Tenants that report tool outputs (`/v1/guard/observe`): every replica then checks their calls'
# provenance (a per-check lookup the other tenants do not pay).
output_observers = Table(
    "output_observers",
    metadata,
    Column("tenant", String(128), primary_key=True),
    Column("first_at", Float, nullable=False),
)

register_migration(
    Migration(
        "server",
        1,
        "api keys, guard answers, policy revisions, audit log, dashboard sessions, output observers",
        create_tables(
            api_keys,
            guard_answers,
            policy_revisions,
            policy_active,
            audit_log,
            dashboard_sessions,
            output_observers,
        ),
    )
)
