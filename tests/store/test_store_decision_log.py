"""The decision log is honest: one record per decision event, never overwritten, numbered per
decision id, linked to its span, saying what it masked; and store v3 brings v1 databases (one row per
decision id) to it without losing a row."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Column, Index, MetaData, Table, insert, inspect, text
from typer.testing import CliRunner

from railguard import Action, Engine, run
from railguard._demo import run_demo
from railguard.cli import app
from railguard.store import open_store
from railguard.store._migrations import V3_DECISION_COLUMNS
from railguard.store._schema import decisions
from railguard.trace import configure_tracing, trace_engine

POLICY = """
name: log-test
rules:
  - rule: pay/large
    tools: [pay]
    when: args.amount > 100
    verdict: ask
    message: "large payment (${args.note})"
"""


def _events(url: str, **filters: Any) -> list[dict[str, Any]]:
    with open_store(url) as store:
        return sorted(store.list_decisions(tenant=None, limit=1000, **filters), key=lambda r: r["timestamp"])


def test_three_identical_calls_are_three_events_of_one_decision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = Engine.from_yaml(POLICY)
    tracing = configure_tracing(url)
    unsubscribe = trace_engine(engine)
    try:
        with run(agent="a", tenant="acme", session="s1"):
            decisions = [
                engine.check(Action("pay", {"amount": 500, "note": "key AKIAZ3MHK2LQ7NPXV4TD"}))
                for _ in range(3)
            ]
        assert tracing.flush()
    finally:
        unsubscribe()
        tracing.shutdown()
    events = _events(url)
    assert len({d.decision_id for d in decisions}) == 1  # a retry keeps its decision id ...
    assert [(e["decision_id"], e["seq"]) for e in events] == [
        (decisions[0].decision_id, n) for n in (1, 2, 3)
    ]
    assert len({e["event_id"] for e in events}) == 3  # ... and is still its own event
    assert all(e["trace_id"] and e["span_id"] for e in events)
    assert len({e["span_id"] for e in events}) == 3
    # What was masked is listed by path and kind; the value is not stored anywhere.
    assert {"path": "reason", "kind": "aws_access_key"} in events[0]["masked"]
    assert "AKIAZ3MHK2LQ7NPXV4TD" not in json.dumps(events)


def test_check_db_appends_every_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    line = json.dumps({"tool": "pay", "args": {"amount": 500}, "id": "c1", "context": {"run": "r1"}})
    for _ in range(2):
        result = CliRunner().invoke(app, ["check", "-p", str(policy), "--db", url], input=line + "\n")
        assert result.exit_code == 0, result.output
    events = _events(url)
    assert [(e["verdict"], e["seq"]) for e in events] == [("ask", 1), ("ask", 2)]
    assert events[0]["decision_id"] == events[1]["decision_id"]


def test_the_demo_log_holds_the_ask_and_the_allow_and_every_poll(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    steps = run_demo(Console(file=open("/dev/null", "w")), as_json=False, db_url=url)  # noqa: SIM115
    (decision_id,) = {s.decision.decision_id for s in steps if s.action.args.get("amount") == 2500}
    refunds = [e for e in _events(url, tool="refund") if e["decision_id"] == decision_id]
    verdicts = [e["verdict"] for e in refunds]
    assert verdicts[0] == "ask" and verdicts[-1] == "allow", verdicts
    assert [e["seq"] for e in refunds] == list(range(1, len(refunds) + 1))
    polls = [s for s in steps if s.action.tool == "check_refund_status"]
    logged = _events(url, tool="check_refund_status")
    assert len(polls) >= 4 and len(logged) == len(polls)
    assert [e["verdict"] for e in logged] == [s.decision.verdict.value for s in polls]
    assert len(_events(url)) >= len(steps)


# The decisions table as store v1 created it: keyed by decision id, without v3's columns.
_v1 = MetaData()
_v1_decisions = Table(
    "decisions",
    _v1,
    *(
        Column(c.name, c.type, nullable=c.nullable, primary_key=c.name == "decision_id")
        for c in decisions.columns
        if c.name not in V3_DECISION_COLUMNS
    ),
)
# v1's index names, which the v3 table reuses.
Index("ix_decisions_tenant_ts", _v1_decisions.c.tenant, _v1_decisions.c.ts)
Index("ix_decisions_ts", _v1_decisions.c.ts)


def _v1_row(decision_id: str, verdict: str, ts: float) -> dict[str, Any]:
    record = {"v": 1, "decision_id": decision_id, "tool": "pay", "verdict": verdict, "timestamp": ts}
    record["context"] = {"tenant": "acme"}
    return {"decision_id": decision_id, "ts": ts, "tenant": "acme", "tool": "pay", "verdict": verdict,
            "record": record}  # fmt: skip


def test_a_v1_database_keeps_its_decisions_as_first_events(store_url: str) -> None:
    now = time.time()
    with open_store(store_url) as store, store.write_transaction() as conn:
        # Put the database back in the state store v1 left it in.
        conn.execute(text("DROP TABLE decisions"))
        _v1.create_all(conn)
        conn.execute(insert(_v1_decisions), [_v1_row("d1", "ask", now - 2), _v1_row("d2", "block", now - 1)])
        conn.execute(text("DELETE FROM schema_version WHERE component = 'store' AND version = 3"))

    with open_store(store_url) as upgraded:
        columns = {c["name"] for c in inspect(upgraded.engine).get_columns("decisions")}
        assert {"event_id", "seq", "trace_id", "span_id"} <= columns
        kept = upgraded.list_decisions(tenant="acme")
        assert [(r["decision_id"], r["seq"], r["verdict"]) for r in kept] == [
            ("d2", 1, "block"),
            ("d1", 1, "ask"),
        ]
        # A later event of a migrated decision is its second, not a replacement.
        later = {**_v1_row("d1", "allow", now)["record"], "event_id": "e-after"}
        assert upgraded.write_decisions([later]) == 1
        d1 = [r for r in upgraded.list_decisions(tenant="acme") if r["decision_id"] == "d1"]
        assert [(r["seq"], r["verdict"]) for r in d1] == [(2, "allow"), (1, "ask")]
        assert upgraded.migrate() == []
        assert [r["decision_id"] for r in upgraded.list_decisions(tenant="acme", verdict="block")] == ["d2"]
