"""The run list's query plans: a page is one index range read in order, never a sort of every
matching run, even on a database that has no planner statistics yet (PostgreSQL with autovacuum off,
or a fresh bulk load). Also the store v2 migration that brought v1 databases to those indexes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, inspect, text
from store_helpers import agent_run

from railguard.store import RunSummary, Store, open_store

NEW_INDEXES = {"ix_runs_tenant_agent_start_id", "ix_runs_tenant_session_start_id"}
OLD_INDEXES = {"ix_runs_tenant_agent_start", "ix_runs_tenant_session"}


@contextmanager
def captured_sql(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """The statements (as sent to the driver, with their parameters) the store runs in the block."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)


def plan_of(store: Store, call: Callable[[], list[RunSummary]]) -> str:
    """The plan the database chooses for the run-list SELECT that `call` sends, as one string."""
    with captured_sql(store) as seen:
        call()
    statement, parameters = next((s, p) for s, p in seen if "FROM runs" in s)
    with store.read_connection() as conn:
        if store.dialect == "postgresql":
            rows = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
            return json.dumps(rows)
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return " | ".join(str(row[-1]) for row in rows)


def _fill(store: Store) -> None:
    rows = []
    for i in range(60):
        agent = "support" if i % 2 else "billing"
        rows += agent_run(f"t{i:03d}", tenant="acme", agent=agent, session=f"s{i % 3}", start_s=i * 10)
    store.write_spans(rows)


def _reads_an_index(plan: str) -> bool:
    return "ix_runs_" in plan  # which one is the planner's choice; every run-list index fits the order


def _sorts(plan: str) -> bool:
    return '"Sort"' in plan or "Incremental Sort" in plan or "TEMP B-TREE" in plan


def test_first_and_later_pages_of_an_agent_read_one_index_without_sorting(store: Store) -> None:
    _fill(store)
    first = store.list_runs(tenant="acme", agent="support", limit=5)
    pages = {
        "first page": lambda: store.list_runs(tenant="acme", agent="support", limit=5),
        "next page": lambda: store.list_runs(
            tenant="acme", agent="support", limit=5, before=first[-1].cursor
        ),
    }
    for what, call in pages.items():
        plan = plan_of(store, call)
        assert _reads_an_index(plan) and not _sorts(plan), (what, plan)


def test_session_runs_read_one_index_without_sorting(store: Store) -> None:
    _fill(store)
    for call in (
        lambda: store.session_runs("s1", tenant="acme"),
        lambda: store.list_runs(tenant="acme", session="s1", limit=5),
    ):
        plan = plan_of(store, call)
        assert _reads_an_index(plan) and not _sorts(plan), plan


def test_a_cursor_between_runs_with_the_same_start_resumes_on_the_trace_id(store: Store) -> None:
    rows = []
    for i in range(6):  # three pairs of runs starting at the same instant
        rows += agent_run(f"t{i}", tenant="acme", start_s=(i // 2) * 60)
    store.write_spans(rows)
    first = store.list_runs(tenant="acme", limit=3)
    rest = store.list_runs(tenant="acme", limit=10, before=first[-1].cursor)
    assert [r.trace_id for r in first] == ["t5", "t4", "t3"]
    assert [r.trace_id for r in rest] == ["t2", "t1", "t0"]


def _run_indexes(store: Store) -> set[str]:
    with store.read_connection() as conn:
        return {str(index["name"]) for index in inspect(conn).get_indexes("runs")}


def test_a_v1_database_gets_the_run_list_indexes_from_migration_v2(store_url: str) -> None:
    with open_store(store_url) as store:
        _fill(store)
        # Put the database back in the state store v1 left it in before v2 existed.
        with store.write_transaction() as conn:
            for name in NEW_INDEXES:
                conn.execute(text(f"DROP INDEX {name}"))
            conn.execute(text("CREATE INDEX ix_runs_tenant_agent_start ON runs (tenant, agent, start_ns)"))
            conn.execute(text("CREATE INDEX ix_runs_tenant_session ON runs (tenant, session, start_ns)"))
            conn.execute(text("DELETE FROM schema_version WHERE component = 'store' AND version = 2"))
        assert _run_indexes(store) >= OLD_INDEXES

    with open_store(store_url) as upgraded:
        indexes = _run_indexes(upgraded)
        assert indexes >= NEW_INDEXES
        assert not OLD_INDEXES & indexes
        runs = upgraded.list_runs(tenant="acme", agent="support", limit=3)
        assert [r.trace_id for r in runs] == ["t059", "t057", "t055"]
        assert upgraded.migrate() == []


def trace_plan(store: Store, trace_id: str, tenant: str) -> str:
    with captured_sql(store) as seen:
        store.get_trace(trace_id, tenant=tenant)
    statement, parameters = next((s, p) for s, p in seen if "FROM spans" in s)
    with store.read_connection() as conn:
        prefix = "EXPLAIN " if store.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
        return " | ".join(str(row[-1]) for row in conn.exec_driver_sql(prefix + statement, parameters))


def test_a_trace_is_read_through_its_key_not_through_the_tenants_spans(store: Store) -> None:
    _fill(store)
    plan = trace_plan(store, "t007", "acme")
    assert "ix_spans_tenant_start" not in plan, plan
    assert len(store.get_trace("t007", tenant="acme")) == 4
    assert store.get_trace("t007", tenant="globex") == []
