"""The prompt version: read from the usual attribute keys, copied across a run's spans onto the run
(store v4 columns, added to an older database by the migration), and compared by the `regression`
detector like the agent version and the policy revision (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import uuid

import pytest
from sqlalchemy import inspect, select, text

from railguard.alert.digest import build_digest
from railguard.diagnose import run_detectors
from railguard.store import SpanRow, Store, open_store
from railguard.store._schema import runs

NS = 1_000_000_000
DAY = 86_400
T0 = 1_780_000_000 - 1_780_000_000 % DAY
CHANGE_DAY = 6


def _run(
    at: float, agent: str, prompt: str, failed: bool, key: str = "railguard.prompt.version"
) -> list[SpanRow]:
    """A run whose prompt version is only on its model call (as prompt managers record it)."""
    trace_id, root = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    start = int(at * NS)
    return [
        SpanRow(trace_id, root, None, f"invoke_agent {agent}", "internal", start, start + 4 * 10**8,
                tenant="acme", agent=agent, agent_version="1.0", operation="invoke_agent"),
        SpanRow.from_otel(
            trace_id=trace_id, span_id=uuid.uuid4().hex[:16], parent_span_id=root, name="chat", kind="client",
            start_ns=start + 10**7, end_ns=start + 2 * 10**8, status="unset", status_message=None,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", key: prompt},
            resource={}, events=[],
        ),
        SpanRow(trace_id, uuid.uuid4().hex[:16], root, "execute_tool send_reply", "internal", start + 2 * 10**8,
                start + 3 * 10**8, status="error" if failed else "unset", tenant="acme", agent=agent,
                operation="execute_tool", tool_name="send_reply", error_type="Rejected" if failed else None),
    ]  # fmt: skip


def _history(store: Store, seed: int) -> None:
    """Two agents over ten days; both move from prompt p1 to p2 on CHANGE_DAY (their agent version never
    changes). `writer` fails a third of its runs on p2 (2% before); `helper` does not get worse."""
    rng = random.Random(seed)
    rows: list[SpanRow] = []
    for day in range(10):
        for i in range(20):
            at = T0 + day * DAY + (i + rng.random()) * DAY / 21
            prompt = "p2" if day >= CHANGE_DAY else "p1"
            writer_fails = rng.random() < (0.33 if day >= CHANGE_DAY else 0.02)
            rows += _run(at, "writer", prompt, writer_fails)
            rows += _run(at, "helper", prompt, rng.random() < 0.02, key="llm.prompt_template.version")
    store.write_spans(rows)


def test_a_prompt_version_that_fails_more_is_a_regression(store_url: str) -> None:
    with open_store(store_url) as store:
        _history(store, seed=3)
        with store.read_connection() as conn:
            versions = dict(conn.execute(select(runs.c.agent, runs.c.prompt_version).distinct()).all())
        assert set(versions) == {"writer", "helper"} and set(versions.values()) <= {"p1", "p2"}
        result = run_detectors(store, since=T0, until=T0 + 10 * DAY, now=T0 + 10 * DAY, save=False)
        changed = build_digest(store, since=T0 + 5 * DAY, until=T0 + 7 * DAY, tenant="acme").changes
    assert sorted(c.split(" first seen")[0] for c in changed) == [
        "agent helper: prompt version p2",
        "agent writer: prompt version p2",
    ]
    found = [f for f in result.findings if f.kind == "regression"]
    assert [(f.agent, f.subject) for f in found] == [("writer", "prompt version p2")]
    finding = found[0]
    assert abs(finding.first_seen - (T0 + CHANGE_DAY * DAY)) < DAY
    assert "p1" in finding.summary and "failed-run rate" in finding.summary
    assert "prompt back to p1" in finding.suggestion
    assert finding.evidence and all(e["why"] == "failed" for e in finding.evidence)


def test_an_older_database_gets_the_columns(store_url: str) -> None:
    with open_store(store_url) as store, store.write_transaction() as conn:  # back to a v3 schema
        for table in ("spans", "runs"):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN prompt_version"))
        conn.execute(text("DELETE FROM schema_version WHERE component = 'store' AND version = 4"))
    with open_store(store_url) as store:
        with store.read_connection() as conn:
            for table in ("spans", "runs"):
                assert "prompt_version" in {c["name"] for c in inspect(conn).get_columns(table)}
        rows = _run(T0, "writer", "p7", False, key="traceloop.prompt.version")
        store.write_spans(rows)
        stored = store.get_trace(rows[0].trace_id, tenant="acme")
        assert {s.prompt_version for s in stored} == {"p7"}  # copied from the model call to every span


@pytest.mark.parametrize("key", ["gen_ai.prompt.version", "langfuse.observation.prompt.version"])
def test_prompt_version_keys(key: str) -> None:
    row = SpanRow.from_otel(
        trace_id="a" * 32, span_id="b" * 16, parent_span_id=None, name="chat", kind="client", start_ns=1,
        end_ns=2, status="unset", status_message=None, attributes={key: "v9"}, resource={}, events=[],
    )  # fmt: skip
    assert row.prompt_version == "v9"
