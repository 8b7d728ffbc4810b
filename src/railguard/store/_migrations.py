"""Ordered, versioned, idempotent migrations, recorded in `schema_version` and run when a store opens.

Each component (the store itself, the stateful guards, ...) owns a sequence of versions 1, 2, 3...
and registers them with `register_migration`. Applying runs under a lock (a PostgreSQL advisory lock,
SQLite BEGIN IMMEDIATE), inside one transaction per migration, and re-checks `schema_version` after
taking the lock, so several processes opening the same database at once apply each migration once.

    from railguard.store import Migration, create_tables, register_migration
    register_migration(Migration("state", 1, "approvals table", create_tables(approvals)))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.exc import OperationalError, ProgrammingError

from railguard.errors import ConfigurationError, StoreError
from railguard.store._connect import write_transaction
from railguard.store._schema import (
    RETIRED_DECISION_INDEXES,
    RETIRED_RUN_INDEXES,
    STORE_TABLES,
    decisions,
    runs,
    spans,
)

_version_metadata = MetaData()
schema_version = Table(
    "schema_version",
    _version_metadata,
    Column("component", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(256), nullable=False),
    Column("applied_at", Float, nullable=False),
)

# Any constant works; it namespaces Railguard's advisory lock from other users of the database.
_PG_LOCK_CLASS = 0x5247  # "RG"


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step. `apply` receives a connection inside the migration's transaction."""

    component: str
    version: int
    name: str
    apply: Callable[[Connection], None]


_registry: dict[tuple[str, int], Migration] = {}


def register_migration(migration: Migration) -> Migration:
    """Add a migration; registering the same (component, version) again with the same name is a no-op."""
    if migration.version < 1:
        raise ConfigurationError(f"migration {migration.component} v{migration.version}: versions start at 1")
    key = (migration.component, migration.version)
    existing = _registry.get(key)
    if existing is not None and existing.name != migration.name:
        raise ConfigurationError(
            f"migration {migration.component} v{migration.version} is registered twice "
            f"({existing.name!r} and {migration.name!r}); give the new one the next free version"
        )
    _registry.setdefault(key, migration)
    return migration


def create_tables(*tables: Table) -> Callable[[Connection], None]:
    """An `apply` function that creates the given tables and their indexes."""

    def apply(conn: Connection) -> None:
        tables[0].metadata.create_all(conn, tables=list(tables))

    return apply


def registered() -> list[Migration]:
    """Every known migration, in apply order: the store's own first, then by component and version."""
    return sorted(_registry.values(), key=lambda m: (m.component != "store", m.component, m.version))


def run_migrations(engine: Engine) -> list[str]:
    """Apply what is pending; returns the applied migrations as "component vN name"."""
    known = registered()
    applied_before = _applied_without_lock(engine)
    if applied_before is not None:
        _refuse_newer_schema(applied_before, known)
        if not _pending(applied_before, known):
            return []
    done: list[str] = []
    for migration in known:
        with write_transaction(engine) as conn:
            _lock(conn)
            _version_metadata.create_all(conn)
            applied = _applied(conn)
            _refuse_newer_schema(applied, known)
            if (migration.component, migration.version) in applied:
                continue  # another process got here first
            migration.apply(conn)
            conn.execute(
                schema_version.insert().values(
                    component=migration.component,
                    version=migration.version,
                    name=migration.name,
                    applied_at=time.time(),
                )
            )
            done.append(f"{migration.component} v{migration.version} {migration.name}")
    return done


def _pending(applied: set[tuple[str, int]], known: list[Migration]) -> bool:
    return any((m.component, m.version) not in applied for m in known)


def _applied_without_lock(engine: Engine) -> set[tuple[str, int]] | None:
    """The fast path for every open after the first: read-only, no lock. None = no table yet."""
    try:
        with engine.connect() as conn:
            return _applied(conn)
    except (OperationalError, ProgrammingError):
        return None


def _applied(conn: Connection) -> set[tuple[str, int]]:
    rows = conn.execute(select(schema_version.c.component, schema_version.c.version))
    return {(component, version) for component, version in rows}


def _refuse_newer_schema(applied: set[tuple[str, int]], known: list[Migration]) -> None:
    latest_known: dict[str, int] = {}
    for m in known:
        latest_known[m.component] = max(latest_known.get(m.component, 0), m.version)
    for component, version in applied:
        if component in latest_known and version > latest_known[component]:
            raise StoreError(
                f"the database schema is newer than this Railguard ({component} v{version}, this version "
                f"knows up to v{latest_known[component]}); upgrade railguard or point it at another database"
            )


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # Per schema, so that separate schemas (one per test run, one per deployment) do not wait on each other.
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:cls, hashtext(current_schema()))"), {"cls": _PG_LOCK_CLASS}
        )
    # SQLite: write_transaction already began with BEGIN IMMEDIATE, which is the database-wide write lock.


def _replace_indexes(conn: Connection, table: Table, retired: tuple[str, ...]) -> None:
    """Drop `retired` indexes and create the table's current ones that are missing. Idempotent, so a
    database that v1 created from the current metadata (which has them already) passes through."""
    for name in retired:
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))  # names are constants, not input
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        index.create(conn, checkfirst=True)


def _run_indexes_match_order(conn: Connection) -> None:
    """Store v2: run-list indexes that end in (start_ns, trace_id)."""
    _replace_indexes(conn, runs, RETIRED_RUN_INDEXES)


def _decision_indexes_match_order(conn: Connection) -> None:
    """Store v5: decision-list indexes that end in (ts, event_id), and one by run."""
    _replace_indexes(conn, decisions, RETIRED_DECISION_INDEXES)


_V1_DECISIONS = "decisions_v1"
V3_DECISION_COLUMNS = ("event_id", "seq", "trace_id", "span_id")  # what v3 added to the v1 table


def _decisions_are_events(conn: Connection) -> None:
    """Store v3: the v1 decisions table kept one row per decision id (a later event overwrote an
    earlier one); the v3 table keeps one row per event. Each v1 row becomes the first event (`seq`
    1) of its decision, its event id the decision id (unique in v1). A database that v1 created from
    the current metadata already has the v3 table and passes through unchanged."""
    if "event_id" in {c["name"] for c in inspect(conn).get_columns(decisions.name)}:
        return
    for name in RETIRED_DECISION_INDEXES:  # v1's index names (v5 replaced them)
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))  # names are constants, not input
    conn.execute(text(f"ALTER TABLE {decisions.name} RENAME TO {_V1_DECISIONS}"))
    decisions.create(conn)
    copied = [c.name for c in decisions.columns if c.name not in V3_DECISION_COLUMNS]
    old = Table(_V1_DECISIONS, MetaData(), *(Column(name) for name in copied))
    conn.execute(
        insert(decisions).from_select(
            ["event_id", "seq", *copied],
            select(old.c.decision_id, literal(1), *(old.c[name] for name in copied)),
        )
    )
    conn.execute(text(f"DROP TABLE {_V1_DECISIONS}"))


def _prompt_version_columns(conn: Connection) -> None:
    """Store v4: a `prompt_version` column on spans and runs (what the regression detector compares,
    besides the agent version and the policy revision). Idempotent: a database that v1 created from the
    current metadata has them already. Older rows keep NULL (their version is unknown)."""
    for table in (spans, runs):
        if "prompt_version" not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
            conn.execute(
                text(f"ALTER TABLE {table.name} ADD COLUMN prompt_version VARCHAR(128)")
            )  # constants


register_migration(Migration("store", 1, "spans, runs, decisions", create_tables(*STORE_TABLES)))
register_migration(
    Migration("store", 2, "run-list indexes end in start_ns, trace_id", _run_indexes_match_order)
)
register_migration(Migration("store", 3, "decisions: one row per decision event", _decisions_are_events))
register_migration(Migration("store", 4, "prompt version on spans and runs", _prompt_version_columns))
register_migration(
    Migration(
        "store", 5, "decision indexes end in ts, event_id; decisions by run", _decision_indexes_match_order
    )
)
