"""Shared fixtures. PostgreSQL tests run against the real server on 127.0.0.1:5432; when it is
unreachable they skip locally, but fail when $CI is set (CI must never silently stop testing it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

PG_SERVER = os.environ.get("RAILGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        with psycopg.connect(PG_SERVER, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {PG_SERVER} is unreachable ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(message + " and CI is set: PostgreSQL tests must run in CI")
        pytest.skip(message)
    return PG_SERVER


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema, dropped afterwards."""
    schema = f"rg_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{pg_server}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'railguard.db'}"
    return str(request.getfixturevalue("pg_url"))


class FakeClock:
    """A deterministic clock for the engine's deadline: `spend_cpu` is work (CPU and wall time pass),
    `wait` is a thread preempted or blocked (only wall time passes)."""

    def __init__(self) -> None:
        self.cpu_ns = 0
        self.wall_ns = 0

    def spend_cpu(self, ms: float) -> None:
        self.cpu_ns += int(ms * 1e6)
        self.wall_ns += int(ms * 1e6)

    def wait(self, ms: float) -> None:
        self.wall_ns += int(ms * 1e6)

    def clock(self) -> object:
        from railguard.engine import Clock

        return Clock(cpu_ns=lambda: self.cpu_ns, wall_ns=lambda: self.wall_ns)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
