"""Store fixtures. `store_url`, `pg_url` and `pg_server` come from the root conftest (each test runs
on a SQLite file and on PostgreSQL; PostgreSQL failing to answer fails the run when $CI is set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from railguard.store import Store, open_store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
