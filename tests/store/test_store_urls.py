"""Store URLs: defaults, accepted forms, and errors that never leak a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from railguard.errors import StoreError
from railguard.store import open_store

SECRET = "s3cr3t-Pa55word"


def test_default_is_a_sqlite_file_under_dot_railguard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAILGUARD_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    with open_store() as store:
        assert store.dialect == "sqlite"
        assert store.url_display == "sqlite:///.railguard/railguard.db"
    assert (tmp_path / ".railguard" / "railguard.db").is_file()


def test_env_var_names_the_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "nested" / "dir" / "rg.db"
    monkeypatch.setenv("RAILGUARD_DB", str(target))
    with open_store() as store:
        assert store.url_display == f"sqlite:///{target}"
    assert target.is_file()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite://:memory:", "sqlite:///:memory:"])
def test_in_memory_forms(url: str) -> None:
    with open_store(url) as store:
        assert store.url_display == "sqlite://"
        assert store.list_runs(tenant=None) == []


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'x.db'}") as store, store.read_connection() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


@pytest.mark.parametrize(
    "url",
    [f"mysql://root:{SECRET}@localhost/db", f"postgresql+psycopg2://u:{SECRET}@h/db", "not a url at all"],
)
def test_unsupported_urls_say_how_to_fix_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert SECRET not in str(info.value)
    assert "postgresql://user@host:5432/dbname" in str(info.value)


def test_unreachable_postgres_error_hides_the_password() -> None:
    # Port 1 on localhost: connection refused immediately, no server needed.
    with pytest.raises(StoreError) as info:
        open_store(f"postgresql://railguard:{SECRET}@127.0.0.1:1/railguard")
    text = str(info.value) + repr(info.value) + str(info.value.__cause__) + str(info.value.__context__)
    assert SECRET not in text
    assert "***" in str(info.value)


def test_postgres_repr_and_display_mask_the_password(pg_url: str) -> None:
    # The test server trusts every connection, so a wrong password still connects (to a fresh schema).
    url = pg_url.replace("postgres@", f"postgres:{SECRET}@")
    with open_store(url) as store:
        assert store.dialect == "postgresql"
        assert SECRET not in repr(store) and SECRET not in store.url_display
        assert "***" in store.url_display
