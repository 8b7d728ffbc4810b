"""Store URL -> SQLAlchemy engine, with the per-dialect connection settings.

SQLite: WAL journal, synchronous=NORMAL, a busy timeout, and transactions begun explicitly (the sqlite3
module's implicit BEGIN is switched off) so that write transactions can use BEGIN IMMEDIATE: taking
the write lock up front means two processes never both read, then both fail to upgrade to a write.
PostgreSQL: the psycopg 3 driver, pooled connections checked on checkout WITHOUT a round trip: a
connection whose server went away (restart, terminated backend) has its socket readable while it
idles (the server's goodbye, or end of file), which one poll(2) sees; SQLAlchemy then replaces it
before use. (`pool_pre_ping` sent a statement per checkout: a round trip on every stateful
decision.) A connection that breaks in use is invalidated, never handed out again.

Every wait on the database is bounded, so a store that is down, hung or locked fails a call with a
StoreError instead of stalling it: SQLite waits at most SQLITE_BUSY_TIMEOUT_MS for a lock; PostgreSQL
gets a connect timeout and per-session statement and lock timeouts (a URL's own `connect_timeout` or
`options` query parameter replaces ours).
"""

from __future__ import annotations

import json
import os
import re
import select
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.pool import StaticPool

from railguard.errors import StoreError

DEFAULT_PATH = Path(".railguard") / "railguard.db"
ENV_VAR = "RAILGUARD_DB"
SQLITE_BUSY_TIMEOUT_MS = 5_000
PG_CONNECT_TIMEOUT_S = 5
PG_STATEMENT_TIMEOUT_MS = 30_000
PG_LOCK_TIMEOUT_MS = 10_000
_IMMEDIATE = "railguard_begin_immediate"
_HOW_TO_FIX = "use sqlite:///path/to/railguard.db or postgresql://user@host:5432/dbname"
# Only for masking a URL that failed to parse; config strings are short, and the pattern has no
# nested quantifiers, so it cannot backtrack catastrophically.
_USERINFO_PASSWORD = re.compile(r"(//[^:/@]*):[^@/]*@")


def resolve_url(url: str | None, *, create: bool = True) -> URL:
    """The SQLAlchemy URL for a store URL (None -> the default SQLite file, its folder created unless
    `create` is false: readers never leave a folder behind)."""
    if url is None:
        env = os.environ.get(ENV_VAR)
        if env and "://" in env:
            url = env
        else:
            path = Path(env) if env else DEFAULT_PATH
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            return URL.create("sqlite+pysqlite", database=str(path))
    if url in ("sqlite://:memory:", "sqlite:///:memory:"):  # make_url rejects the first form
        url = "sqlite://"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(f"cannot parse the store URL {mask_url(url)!r}; {_HOW_TO_FIX}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return _sqlite_url(parsed, create)
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    shown = parsed.render_as_string(hide_password=True)
    raise StoreError(f"unsupported store URL {shown!r} (driver {parsed.drivername!r}); {_HOW_TO_FIX}")


def _sqlite_url(parsed: URL, create: bool) -> URL:
    database = parsed.database or ":memory:"
    if database != ":memory:" and create:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return URL.create("sqlite+pysqlite", database=database)


def mask_url(url: str) -> str:
    return _USERINFO_PASSWORD.sub(r"\1:***@", url)


def display_url(url: URL) -> str:
    """The URL as shown to people: driver hidden for SQLite, password always masked."""
    if url.get_backend_name() == "sqlite":
        return "sqlite://" if url.database in (None, "", ":memory:") else f"sqlite:///{url.database}"
    return url.render_as_string(hide_password=True)


def create_store_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    engine = create_engine(
        url,
        connect_args=_postgres_timeouts(url),
        pool_size=5,
        max_overflow=10,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
    )
    event.listen(engine, "checkout", _alive_on_checkout)
    return engine


def _alive_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has hung up on (see the module docstring): an idle
    PostgreSQL connection has nothing to read unless the server closed it or is closing it."""
    if dbapi_connection.closed:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    try:
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        events = poller.poll(0)
    except (OSError, ValueError) as exc:
        raise DisconnectionError(f"the connection's socket is unusable: {exc}") from None
    if events:
        raise DisconnectionError("the server closed the connection while it was idle")


def _postgres_timeouts(url: URL) -> dict[str, Any]:
    """connect_timeout, and statement/lock timeouts added to the URL's own `options` (kept as given;
    a timeout it already sets wins)."""
    args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    given = url.query.get("options", "")
    options = " ".join(given) if isinstance(given, tuple) else given
    for name, value in (("statement_timeout", PG_STATEMENT_TIMEOUT_MS), ("lock_timeout", PG_LOCK_TIMEOUT_MS)):
        if name not in options:
            options = f"{options} -c {name}={value}".strip()
    args["options"] = options
    return args


def json_dumps(value: Any) -> str:
    """The JSON columns' serializer (default=str: a foreign SDK's odd attribute value, bytes or a
    datetime, must not fail the whole batch)."""
    return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


_DECODER = json.JSONDecoder()
_EMPTY_OBJECTS = frozenset({"{}", b"{}"})
_EMPTY_ARRAYS = frozenset({"[]", b"[]"})


def json_loads(value: str | bytes) -> Any:
    """The JSON columns' decoder, tuned for get_trace (three values per span row): most events and
    many attribute maps are empty, and psycopg hands JSONB over as UTF-8 bytes, which json.loads
    would sniff for their encoding value by value."""
    if value in _EMPTY_OBJECTS:
        return {}
    if value in _EMPTY_ARRAYS:
        return []
    text = value.decode() if isinstance(value, bytes) else value
    try:
        # Our serializer and PostgreSQL's jsonb output have no surrounding whitespace to skip.
        return _DECODER.raw_decode(text)[0]
    except ValueError:
        return json.loads(text)  # the general path, for text written by someone else


def _sqlite_engine(url: URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # An in-memory database lives in its one connection, so every caller must share it.
        poolclass=StaticPool if memory else None,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its first statement (SQLite) and
    commits when the block exits without an exception."""
    with engine.connect() as conn:
        conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn


class DriverTx:
    """A transaction on the bare driver connection (sqlite3 / psycopg), for statements written out
    per dialect and run many times per second (the stateful guards' decision path): SQLAlchemy's
    per-statement work costs several times what SQLite spends running them. `mark` is the
    driver's positional parameter marker."""

    __slots__ = ("_cursor", "dialect", "integrity_error", "mark")

    def __init__(self, cursor: Any, dialect: str, integrity_error: type[Exception] = Exception) -> None:
        self._cursor = cursor
        self.dialect = dialect
        self.mark = "?" if dialect == "sqlite" else "%s"
        self.integrity_error = integrity_error  # the driver's, to tell a conflict from other failures

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; the rows it returned (none for a statement that returns none)."""
        cursor = self._cursor
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement that returns no rows; how many rows it changed."""
        cursor = self._cursor
        cursor.execute(sql, params)
        return int(cursor.rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each parameter row (the driver's executemany)."""
        self._cursor.executemany(sql, rows)


@contextmanager
def driver_transaction(engine: Engine, *, write: bool) -> Iterator[DriverTx]:
    """A `DriverTx` on a pooled connection, committed when the block exits without an exception
    (rolled back otherwise). `write` on SQLite takes the write lock up front (BEGIN IMMEDIATE); a
    read is one statement, atomic by itself: on PostgreSQL it runs as `driver_statements` (a read
    committed transaction gives each statement its own snapshot anyway), sparing the BEGIN and
    COMMIT round trips."""
    if not write and engine.dialect.name == "postgresql":
        with driver_statements(engine) as tx:
            yield tx
        return
    raw = engine.raw_connection()
    try:
        dialect = engine.dialect.name
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        if write and dialect == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        try:
            yield DriverTx(cursor, dialect, engine.dialect.loaded_dbapi.IntegrityError)
        except BaseException:
            if _broken(raw.driver_connection):
                raw.invalidate()  # not back into the pool
            else:
                raw.rollback()
            raise
        raw.commit()
    finally:
        raw.close()


@contextmanager
def driver_statements(engine: Engine) -> Iterator[DriverTx]:
    """PostgreSQL: a `DriverTx` whose statements each commit on their own (psycopg autocommit), so
    a statement is ONE round trip where a transaction adds two (psycopg's BEGIN before the first
    statement, the COMMIT). For reads, and for writes made all or nothing in one statement. The
    pooled connection goes back to the pool in transaction mode, as SQLAlchemy expects it."""
    raw = engine.raw_connection()
    try:
        connection: Any = raw.driver_connection
        connection.autocommit = True
        try:
            yield DriverTx(connection.cursor(), "postgresql", engine.dialect.loaded_dbapi.IntegrityError)
        finally:
            _back_to_transactions(raw, connection)
    finally:
        raw.close()


def _back_to_transactions(raw: Any, connection: Any) -> None:
    """Autocommit off again before the pool takes the connection back (idle: a failed statement
    rolled itself back); one that cannot be (broken, or left mid-statement) is not reused."""
    if not _broken(connection):
        try:
            connection.autocommit = False
            return
        except Exception:  # whatever the driver says, the connection is unusable
            pass
    raw.invalidate()


def _broken(connection: Any) -> bool:
    """True when the driver connection can no longer be used (psycopg marks a lost server so)."""
    return bool(getattr(connection, "broken", False) or getattr(connection, "closed", False))


def scrub(message: str, url: URL) -> str:
    """A driver's error message with the URL's password removed, cut to its first line."""
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    if url.password:
        first_line = first_line.replace(str(url.password), "***")
    return first_line
