"""Migrations: recorded once, idempotent, safe when processes open the same database at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text

from railguard.errors import ConfigurationError, StoreError
from railguard.store import Migration, _migrations, create_tables, open_store, register_migration

probe_metadata = MetaData()
probe = Table(
    "probe_counters", probe_metadata, Column("name", String(32), primary_key=True), Column("n", Integer)
)


def _versions(url: str) -> list[tuple[str, int]]:
    """The store's and the probe's versions (components imported by other tests, e.g. the stateful
    guards, register their own migrations in this process too)."""
    with open_store(url) as store, store.read_connection() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT component, version FROM schema_version ORDER BY 1, 2"))
            if r[0] in ("store", "probe")
        ]


STORE_VERSIONS = [("store", 1), ("store", 2), ("store", 3), ("store", 4), ("store", 5)]


def test_opening_again_applies_nothing(store_url: str) -> None:
    with open_store(store_url) as first:
        assert first.migrate() == []
    with open_store(store_url) as second:
        assert second.migrate() == []
    assert _versions(store_url) == STORE_VERSIONS


def test_a_component_adds_its_tables_through_a_migration(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(store_url) as store:
        extra = Migration("probe", 1, "probe counters", create_tables(probe))
        # setitem: the registration is undone after the test, so other tests' stores stay clean.
        monkeypatch.setitem(_migrations._registry, ("probe", 1), extra)
        assert store.migrate() == ["probe v1 probe counters"]
        assert store.migrate() == []
        with store.write_transaction() as conn:
            conn.execute(insert(probe).values(name="x", n=1))
        with store.read_connection() as conn:
            assert conn.execute(select(probe.c.n)).scalar() == 1
    assert _versions(store_url) == [("probe", 1), *STORE_VERSIONS]


def test_a_database_from_a_newer_railguard_is_refused(store_url: str) -> None:
    with open_store(store_url) as store, store.write_transaction() as conn:
        conn.execute(text("INSERT INTO schema_version VALUES ('store', 99, 'future', 0)"))
    with pytest.raises(StoreError, match="newer than this Railguard"):
        open_store(store_url)


def test_registering_a_different_migration_under_a_taken_version_fails() -> None:
    with pytest.raises(ConfigurationError, match="registered twice"):
        register_migration(Migration("store", 1, "something else", lambda conn: None))
    with pytest.raises(ConfigurationError, match="start at 1"):
        register_migration(Migration("x", 0, "zero", lambda conn: None))


_OPENER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sqlalchemy import text
    from railguard.store import Migration, open_store, register_migration

    def slow_probe(conn):
        # No IF NOT EXISTS: a second, unlocked run would fail here, or count 2 below.
        conn.execute(text("CREATE TABLE probe_runs (n INTEGER)"))
        time.sleep(0.5)  # widen the window in which the other process could interleave
        conn.execute(text("INSERT INTO probe_runs VALUES (1)"))

    register_migration(Migration("probe", 1, "slow probe", slow_probe))
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.01)
    open_store(sys.argv[1]).close()
    print("opened")
    """
)


def test_two_processes_opening_a_fresh_database_migrate_it_once(store_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, store_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # let both interpreters import and reach the barrier
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == "opened"
    with open_store(store_url) as store, store.read_connection() as conn:
        assert conn.execute(text("SELECT count(*) FROM probe_runs")).scalar() == 1
    assert _versions(store_url) == [("probe", 1), *STORE_VERSIONS]
