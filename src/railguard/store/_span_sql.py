"""The span write path's statements, sent to the driver as written (sqlite3 or psycopg) inside the
caller's SQLAlchemy transaction. Built once per dialect with one parameter per value list (a JSON
array for SQLite's json_each, an array for PostgreSQL's ANY), so each statement has one text that both
drivers prepare once; SQLAlchemy's per-statement compile and per-row processing cost more CPU than
SQLite spends running them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from railguard.store._span_params import JSON_FIELDS, SPAN_FIELDS

IDENTITY = ("tenant", "session", "agent", "agent_version", "prompt_version")
COUNTERS = ("span_count", "tool_calls", "model_calls", "blocks", "asks", "errors")
SUMMED_RUN_COLUMNS = (*COUNTERS, "input_tokens", "output_tokens", "cost_usd")
# The order of a run row's values as `run_values` gives them and the upsert binds them.
RUN_COLUMNS = ("trace_id", *IDENTITY, "service", "start_ns", "end_ns", "root_name", *SUMMED_RUN_COLUMNS)


class SpanSql:
    """A cursor on the transaction's driver connection plus this dialect's statement texts."""

    __slots__ = ("_connection", "_cursor", "_dialect", "_mark")

    def __init__(self, conn: Connection) -> None:
        self._connection = conn
        self._dialect = conn.dialect.name
        self._mark = "?" if self._dialect == "sqlite" else "%s"
        self._cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def close(self) -> None:
        self._cursor.close()

    def driver_error(self, exc: BaseException) -> DBAPIError:
        """A driver exception as SQLAlchemy raises it (IntegrityError, DataError, ...), so the
        store's error translation treats both paths alike."""
        dialect = self._connection.dialect
        error = DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error, dialect=dialect)
        assert isinstance(error, DBAPIError)
        return error

    @property
    def dbapi_error(self) -> type[Exception]:
        return self._connection.dialect.loaded_dbapi.Error

    def _any(self, column: str) -> str:
        if self._dialect == "sqlite":
            return f"{column} IN (SELECT value FROM json_each(?))"
        return f"{column} = ANY(%s)"

    def _list(self, values: Iterable[str]) -> Any:
        return json.dumps(list(values)) if self._dialect == "sqlite" else list(values)

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql, params)
        return self._cursor.fetchall()

    def run_owners(self, trace_ids: Iterable[str]) -> dict[str, str | None]:
        sql = f"SELECT trace_id, tenant FROM runs WHERE {self._any('trace_id')}"
        return dict(self._rows(sql, (self._list(trace_ids),)))

    def run_identities(self, trace_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        sql = f"SELECT trace_id, {', '.join(IDENTITY)} FROM runs WHERE {self._any('trace_id')}"
        return {
            row[0]: dict(zip(IDENTITY, row[1:], strict=True))
            for row in self._rows(sql, (self._list(trace_ids),))
        }

    def stored_span_keys(self, trace_ids: Iterable[str], span_ids: Iterable[str]) -> set[tuple[str, str]]:
        """Which (trace, span) pairs of these ids are stored; looked up through the primary key."""
        sql = f"SELECT trace_id, span_id FROM spans WHERE {self._any('trace_id')} AND {self._any('span_id')}"
        return set(self._rows(sql, (self._list(trace_ids), self._list(span_ids))))

    def backfill(self, trace_id: str, column: str, value: Any) -> None:
        """Spans of the trace stored earlier without this identity column get it now."""
        assert column in IDENTITY  # a column name is spliced into the statement
        m = self._mark
        self._cursor.execute(
            f"UPDATE spans SET {column} = {m} WHERE trace_id = {m} AND {column} IS NULL", (value, trace_id)
        )

    def insert_spans(self, rows: list[tuple[Any, ...]]) -> None:
        """A plain executemany (no RETURNING): one statement text, prepared once by both drivers."""
        self._cursor.executemany(_SPAN_INSERT[self._dialect], rows)

    def upsert_runs(self, rows: list[tuple[Any, ...]]) -> None:
        self._cursor.executemany(_RUN_UPSERT[self._dialect], rows)


def _span_insert(mark: str, json_mark: str) -> str:
    values = ", ".join(json_mark if name in JSON_FIELDS else mark for name in SPAN_FIELDS)
    return f"INSERT INTO spans ({', '.join(SPAN_FIELDS)}) VALUES ({values})"


def _run_upsert(mark: str) -> str:
    """Counters add up; the run spans the earliest start to the latest end; identity, service and
    root name keep the first value stored (a later span only fills what is still NULL)."""
    updates = [f"{c} = runs.{c} + excluded.{c}" for c in SUMMED_RUN_COLUMNS]
    updates.append(
        "start_ns = CASE WHEN excluded.start_ns < runs.start_ns THEN excluded.start_ns ELSE runs.start_ns END"
    )
    updates.append(
        "end_ns = CASE WHEN excluded.end_ns > runs.end_ns THEN excluded.end_ns ELSE runs.end_ns END"
    )
    updates += [f"{c} = COALESCE(runs.{c}, excluded.{c})" for c in (*IDENTITY, "service", "root_name")]
    return (
        f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join(mark for _ in RUN_COLUMNS)}) "
        f"ON CONFLICT (trace_id) DO UPDATE SET {', '.join(updates)}"
    )


_SPAN_INSERT = {"sqlite": _span_insert("?", "?"), "postgresql": _span_insert("%s", "%s::jsonb")}
_RUN_UPSERT = {"sqlite": _run_upsert("?"), "postgresql": _run_upsert("%s")}
