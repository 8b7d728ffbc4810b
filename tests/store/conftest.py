"""Store fixtures: `store_url` runs each test on SQLite and on PostgreSQL.

`pg_url` gives a PostgreSQL URL whose connections use a fresh schema (dropped afterwards), so parallel
test runs never collide. When the server is unreachable it skips, unless $CI is set: then it fails,
so CI can never silently stop testing PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from railguard.store import Store, open_store

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
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'railguard.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
