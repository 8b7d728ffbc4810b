"""`Store`: the one object the rest of Railguard reads and writes traces and decisions through."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError

from railguard.errors import StoreError, UnstorableData
from railguard.store import _ingest, _queries, _retention
from railguard.store._connect import (
    ENV_VAR,
    DriverTx,
    create_store_engine,
    display_url,
    driver_statements,
    driver_transaction,
    resolve_url,
    scrub,
    write_transaction,
)
from railguard.store._decision_writes import DecisionRow, insert_decision_events
from railguard.store._migrations import run_migrations
from railguard.store._rows import RunSummary, SpanRow

_DUPLICATE_RETRIES = 5


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """Open (and migrate) a store.

    None -> the SQLite file at $RAILGUARD_DB, or ./.railguard/railguard.db (its folder created);
    "sqlite:///path/x.db", "sqlite://" (in memory), or "postgresql://user@host:5432/db" (psycopg 3).
    A bad URL or an unreachable database raises StoreError; no message contains the password.
    `create=False` (readers): a SQLite file that does not exist raises StoreError naming it instead
    of being created empty.
    """
    resolved = resolve_url(url, create=create)
    database = resolved.database if resolved.get_backend_name() == "sqlite" else None
    if (
        not create
        and database not in (None, "", ":memory:")
        and not Path(str(database)).expanduser().is_file()
    ):
        raise StoreError(
            f"no Railguard store at {display_url(resolved)}: nothing has been recorded there yet "
            f"(run from the folder that holds .railguard/, or pass --db URL / set ${ENV_VAR})"
        )
    return Store(resolved)


class Store:
    """Spans, runs and decisions in SQLite or PostgreSQL. Thread-safe: writes from one process are
    serialized on one lock (SQLite allows one writer anyway; on PostgreSQL it keeps run-row upserts
    from contending), reads run concurrently on pooled connections."""

    def __init__(self, url: URL) -> None:
        self._url = url
        self.dialect: str = url.get_backend_name()
        self.url_display: str = display_url(url)
        self._write_lock = threading.Lock()
        # An in-memory SQLite database is one shared connection: reads must take the lock too.
        memory = self.dialect == "sqlite" and url.database in (None, "", ":memory:")
        self._read_lock: contextlib.AbstractContextManager[Any] = (
            self._write_lock if memory else contextlib.nullcontext()
        )
        self.engine: Engine = create_store_engine(url)
        try:
            self.migrate()
        except BaseException:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"Store(dialect={self.dialect!r}, url={self.url_display!r})"

    # -- transactions (also for components with their own tables, e.g. stateful guards) --

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[Connection]:
        """One write transaction, committed on a clean exit; store failures surface as StoreError."""
        with self._translate_errors("write"), self._write_lock, write_transaction(self.engine) as conn:
            yield conn

    @contextlib.contextmanager
    def read_connection(self) -> Iterator[Connection]:
        with self._translate_errors("read"), self._read_lock, self.engine.connect() as conn:
            yield conn

    def driver_transaction(self, *, write: bool = True) -> contextlib.AbstractContextManager[DriverTx]:
        """One transaction on the bare driver connection (`DriverTx`: SQL written per dialect, sent
        as is), for the few statements run on every decision; failures surface as StoreError."""
        lock = self._write_lock if write else self._read_lock
        return self._on_driver(
            "write" if write else "read", lock, driver_transaction(self.engine, write=write)
        )

    def driver_statements(self) -> contextlib.AbstractContextManager[DriverTx]:
        """PostgreSQL only: statements that each commit on their own (`driver_statements` in
        `railguard.store._connect`: one round trip each, no BEGIN or COMMIT), under the write lock
        like a write transaction; failures surface as StoreError."""
        return self._on_driver("write", self._write_lock, driver_statements(self.engine))

    @contextlib.contextmanager
    def _on_driver(
        self,
        what: str,
        lock: contextlib.AbstractContextManager[Any],
        opened: contextlib.AbstractContextManager[DriverTx],
    ) -> Iterator[DriverTx]:
        with self._translate_errors(what), lock:
            try:
                with opened as tx:
                    yield tx
            except self.engine.dialect.loaded_dbapi.Error as exc:  # the driver's own errors
                dbapi = self.engine.dialect.loaded_dbapi
                raise DBAPIError.instance(None, None, exc, dbapi.Error) from None  # DataError stays one

    @contextlib.contextmanager
    def _translate_errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            detail = scrub(str(exc.orig), self._url)
            error = UnstorableData if isinstance(exc, DataError) else StoreError
            raise error(f"store {what} failed on {self.url_display}: {detail}") from None
        except SQLAlchemyError as exc:
            raise StoreError(f"store {what} failed on {self.url_display}: {type(exc).__name__}") from None

    def migrate(self) -> list[str]:
        """Apply pending migrations (open does this; call again after registering new ones)."""
        with self._translate_errors("migration"), self._write_lock:
            return run_migrations(self.engine)

    # -- writes --

    def write_spans(self, rows: Sequence[SpanRow], *, isolate_tenants: bool = False) -> int:
        """Store spans in one transaction, durable when this returns. Returns how many were new
        (a span already stored, same trace and span id, is ignored). `isolate_tenants` for spans
        from an untrusted sender: a span joins only a trace stored under its own tenant."""
        if not rows:
            return 0
        insert = functools.partial(_ingest.insert_spans, isolate_tenants=isolate_tenants)
        try:
            return self._write_retrying("spans", insert, rows)
        except UnstorableData:
            if len(rows) == 1:
                raise
        # Values were sanitized, yet the database refused the batch: one span must not lose the
        # others, so each is written on its own and only the refused ones are dropped.
        outcomes = [self._write_one_span(row, insert) for row in rows]
        if all(n is None for n in outcomes):
            raise UnstorableData(f"none of the {len(rows)} spans could be stored on {self.url_display}")
        return sum(n or 0 for n in outcomes)

    def _write_one_span(self, row: SpanRow, insert: Callable[[Connection, Sequence[Any]], int]) -> int | None:
        try:
            return self._write_retrying("spans", insert, [row])
        except UnstorableData:
            return None

    def write_decisions(self, records: Sequence[Mapping[str, Any] | DecisionRow]) -> int:
        """Append decision events (DecisionV1 records, see railguard.trace.DecisionLog, or their
        `decision_row`s) in one transaction; never overwrites. Returns how many were new (a stored
        `event_id` is skipped)."""
        if not records:
            return 0
        detail = ""
        for _attempt in range(_DUPLICATE_RETRIES):
            try:
                with self.driver_transaction(write=True) as tx:
                    return insert_decision_events(tx, records)
            except _ingest.ConcurrentDuplicate as exc:
                detail = str(exc)  # rolled back; the next attempt sees the other writer's rows
        raise StoreError(
            f"decision events could not be stored on {self.url_display} (integrity error: {detail})"
        )

    def _write_retrying(
        self, what: str, insert: Callable[[Connection, Sequence[Any]], int], rows: Sequence[Any]
    ) -> int:
        if not rows:
            return 0
        detail = ""
        for _attempt in range(_DUPLICATE_RETRIES):
            try:
                with self.write_transaction() as conn:
                    return insert(conn, rows)
            except _ingest.ConcurrentDuplicate as exc:
                detail = str(exc)  # rolled back; the next attempt sees the other writer's rows
        raise StoreError(f"{what} could not be stored on {self.url_display} (integrity error: {detail})")

    def delete_older_than(
        self, days: float, *, batch_size: int = 5000, on_batch: Callable[[int], None] | None = None
    ) -> int:
        """Delete runs and their spans that ended, and decisions taken, more than `days` ago, in
        batches of about `batch_size` rows. Returns the rows deleted (spans + runs + decisions);
        `on_batch(rows)` is called after each batch (progress)."""
        return _retention.delete_older_than(
            self.write_transaction, days, batch_size=batch_size, on_batch=on_batch
        )

    # -- reads (tenant=None means every tenant: for admin callers only) --

    def list_runs(
        self,
        *,
        tenant: str | None,
        agent: str | None = None,
        session: str | None = None,
        since: float | None = None,
        until: float | None = None,
        status: str | None = None,
        verdict: str | None = None,
        limit: int = 50,
        before: str | None = None,
        min_cost: float | None = None,
    ) -> list[RunSummary]:
        """Newest runs first. `since`/`until` are Unix seconds on the run's start; `status` is
        "ok"|"error"; `verdict` is "block"|"ask"|"allow"; `before` is the last row's `.cursor`;
        `min_cost` keeps runs that cost at least that many USD."""
        with self.read_connection() as conn:
            return _queries.list_runs(
                conn,
                tenant=tenant,
                agent=agent,
                session=session,
                since=since,
                until=until,
                status=status,
                verdict=verdict,
                limit=limit,
                before=before,
                min_cost=min_cost,
            )

    def get_trace(self, trace_id: str, *, tenant: str | None) -> list[SpanRow]:
        """Every span of a trace, in start order (see build_tree for the tree)."""
        with self.read_connection() as conn:
            return _queries.get_trace(conn, trace_id, tenant=tenant)

    def session_runs(self, session: str, *, tenant: str | None) -> list[RunSummary]:
        """The runs of one session (conversation), oldest first."""
        with self.read_connection() as conn:
            return _queries.session_runs(conn, session, tenant=tenant)

    def timeseries(
        self, *, tenant: str | None, bucket_s: int, since: float, until: float, agent: str | None = None
    ) -> list[dict[str, Any]]:
        """Per time bucket: calls, tool_calls, model_calls, spans, blocks, asks, errors, tokens,
        cost_usd, tool_latency_avg_ms/max_ms."""
        with self.read_connection() as conn:
            return _queries.timeseries(
                conn, tenant=tenant, bucket_s=bucket_s, since=since, until=until, agent=agent
            )

    def list_decisions(
        self,
        *,
        tenant: str | None,
        since: float | None = None,
        verdict: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        rule: str | None = None,
    ) -> list[dict[str, Any]]:
        """DecisionV1 records, newest first; `rule` keeps those where that rule fired."""
        with self.read_connection() as conn:
            return _queries.list_decisions(
                conn, tenant=tenant, since=since, verdict=verdict, tool=tool, limit=limit, rule=rule
            )

    def decision_stats(
        self,
        *,
        tenant: str | None,
        since: float | None = None,
        verdict: str | None = None,
        tool: str | None = None,
        rule: str | None = None,
        top: int = 10,
    ) -> dict[str, Any]:
        """`total`, `verdicts` (count each), `block_rate`, `ask_rate`, `top_rules` and `top_tools`
        (of blocks and asks, as (name, count)), `per_day` ((UTC day start, {verdict: count}))."""
        with self.read_connection() as conn:
            return _queries.decision_stats(
                conn, tenant=tenant, since=since, verdict=verdict, tool=tool, rule=rule, top=top
            )

    def match_decision_ids(self, prefix: str, *, tenant: str | None, limit: int = 2) -> list[str]:
        """Decision ids that start with `prefix` (at most `limit`)."""
        with self.read_connection() as conn:
            return _queries.match_decision_ids(conn, prefix, tenant=tenant, limit=limit)

    def get_decision(self, decision_id: str, *, tenant: str | None) -> dict[str, Any] | None:
        """One DecisionV1 record by its full id."""
        with self.read_connection() as conn:
            return _queries.get_decision(conn, decision_id, tenant=tenant)

    def match_trace_ids(self, key: str, *, tenant: str | None, limit: int = 2) -> list[str]:
        """Trace ids that start with `key`, or whose run has the run id `key` (at most `limit`)."""
        with self.read_connection() as conn:
            return _queries.match_trace_ids(conn, key, tenant=tenant, limit=limit)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
