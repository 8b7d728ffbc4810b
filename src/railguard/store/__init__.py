"""railguard.store: spans, runs and decisions in SQLite (default) or PostgreSQL, via SQLAlchemy Core.

    store = open_store()                      # ./.railguard/railguard.db, or $RAILGUARD_DB
    store = open_store("postgresql://railguard@db:5432/railguard")
    store.write_spans([SpanRow.from_otel(...)])
    store.list_runs(tenant="acme", agent="support")

Other components add their own tables with `register_migration` (see _migrations.py).
"""

from railguard.store._migrations import Migration, create_tables, register_migration
from railguard.store._rows import RunSummary, SpanRow
from railguard.store._store import Store, open_store
from railguard.store._tree import SpanNode, build_tree
from railguard.store._writer import BatchWriter

# isort: split
# The control room's tables (keys, revisions, audit chain, rate windows): registered with every store.
from railguard.store._answers import GuardAnswers
from railguard.store._audit import AuditLog, AuditRecord, ChainStatus
from railguard.store._keys import ALL_TENANTS, ROLES, ApiKey, CreatedKey, KeyNotFound, KeyRing
from railguard.store._labels import LABELS, RunLabel, RunLabels
from railguard.store._rate_windows import claim_window
from railguard.store._revisions import PolicyRevision, PolicyRevisions, RevisionNotFound
from railguard.store._sessions import Session, Sessions

__all__ = [
    "ALL_TENANTS",
    "LABELS",
    "ROLES",
    "ApiKey",
    "AuditLog",
    "AuditRecord",
    "BatchWriter",
    "ChainStatus",
    "CreatedKey",
    "GuardAnswers",
    "KeyNotFound",
    "KeyRing",
    "Migration",
    "PolicyRevision",
    "PolicyRevisions",
    "RevisionNotFound",
    "RunLabel",
    "RunLabels",
    "RunSummary",
    "Session",
    "Sessions",
    "SpanNode",
    "SpanRow",
    "Store",
    "build_tree",
    "claim_window",
    "create_tables",
    "open_store",
    "register_migration",
]
