"""Shared fixtures. PostgreSQL tests run against the real server on 127.0.0.1:5432; when it is
unreachable they skip locally, but fail when $CI is set (CI must never silently stop testing it).
Tests that read the public evaluation data (`eval_data`) follow the same rule: a clone without the data
beside it gets a green run with a clear skip reason, CI gets a failure."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

PG_SERVER = os.environ.get("RAILGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

# A failure of Railguard itself that is a bug (not an unreachable store or collector) is re-raised
# instead of only logged (railguard._internal), here and in every subprocess a test starts. A test
# that injects such a failure on purpose unsets it (monkeypatch.delenv).
os.environ["RAILGUARD_RAISE_INTERNAL_ERRORS"] = "1"

# The parsed-data cache (railguard._parsed_cache) of this run, here and in its subprocesses: tests
# never read or write the developer's own ~/.cache.
if "RAILGUARD_CACHE_DIR" not in os.environ:
    os.environ["RAILGUARD_CACHE_DIR"] = tempfile.mkdtemp(prefix="railguard-test-cache-")
    atexit.register(shutil.rmtree, os.environ["RAILGUARD_CACHE_DIR"], ignore_errors=True)

# Hundreds of tests start `railguard` or Python subprocesses. With PYTHONDONTWRITEBYTECODE set (as on
# the CI machine) each of them would compile the package's modules from source again; letting the
# first subprocess write the bytecode cache saves that on every later start.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches PostgreSQL carries the `postgres` marker (`-m "not postgres"` runs
    without it), whether it asks for the server directly or through `pg_url` / `store_url`."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("store_url") if callspec is not None else None
        if backend == "postgresql" or "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _no_bug_in_a_background_thread() -> Iterator[None]:
    """A background consumer cannot re-raise (its thread would die): its bugs fail the test here."""
    from railguard import _background

    _background.BUGS.clear()
    yield
    bugs, _background.BUGS[:] = list(_background.BUGS), []
    assert not bugs, f"a Railguard background thread failed: {bugs!r}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        with psycopg.connect(PG_SERVER, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        skip_or_fail_in_ci(
            f"PostgreSQL at {PG_SERVER} is unreachable ({type(exc).__name__})", "PostgreSQL tests"
        )
    return PG_SERVER


def skip_or_fail_in_ci(message: str, what: str) -> None:
    """Skip locally; fail when $CI is set, because CI must never silently stop testing `what`."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} and CI is set: {what} must run in CI")
    pytest.skip(message)


@pytest.fixture(scope="session")
def eval_data() -> Path:
    """The public evaluation data folder ($RAILGUARD_EVAL_DATA, else shared/data beside the checkout)."""
    from railguard.detect.injection._corpus import DATA_DIR

    if not (DATA_DIR / "injection").is_dir():
        skip_or_fail_in_ci(
            f"the evaluation data is not at {DATA_DIR} (set RAILGUARD_EVAL_DATA to its folder)",
            "tests that read the evaluation data",
        )
    return DATA_DIR


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


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A private folder with a short path, for UNIX sockets: a socket's path must fit in 107 bytes,
    which pytest's per-test folders (longer still under xdist workers) can exceed."""
    folder = Path(tempfile.mkdtemp(prefix="rg-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
