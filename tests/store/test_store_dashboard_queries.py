"""The dashboard's queries at scale: the overview aggregated in the database (the same numbers as
adding up the run list and the decision pages by hand, per tenant), decision pages read from one
index range without sorting (also a run's decisions, for its replay), and store v5, which brought
older databases to those indexes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import inspect, text
from store_helpers import BASE_NS, SECOND, agent_run, span
from test_store_run_list_plan import captured_sql

from railguard.store import Store, open_store
from railguard.store._decision_pages import decision_page
from railguard.store._overview import dashboard_overview

T0 = BASE_NS / SECOND  # the helpers' time origin, in seconds
HOUR = 3600


def _decision(
    n: int, *, tenant: str, agent: str, run: str, at: float, verdict: str, **extra: Any
) -> dict[str, Any]:
    return {
        "v": 1,
        "decision_id": f"d{n:04d}",
        "event_id": f"e{n:04d}",
        "timestamp": at,
        "tool": extra.pop("tool", "bash"),
        "verdict": verdict,
        "would_verdict": extra.pop("would_verdict", verdict),
        "mode": extra.pop("mode", "enforce"),
        "rules": extra.pop("rules", []),
        "reason": "",
        "context": {"tenant": tenant, "agent": agent, "run": run},
        **extra,
    }


def _fill(store: Store) -> None:
    """Two tenants over three hours, a run before the window, decisions of every kind."""
    plan = [  # (trace, tenant, agent, start seconds after T0)
        ("a1", "acme", "support", 60), ("a2", "acme", "support", 1900), ("a3", "acme", "billing", 3700),
        ("a4", "acme", "billing", 7300), ("a5", "acme", "support", 9000), ("a0", "acme", "support", -600),
        ("g1", "globex", "support", 100), ("g2", "globex", "ops", 5000),
    ]  # fmt: skip
    rows = []
    for trace, tenant, agent, start in plan:
        rows += agent_run(trace, tenant=tenant, agent=agent, start_s=start)
    store.write_spans(rows)
    records = []
    for n, (trace, tenant, agent, start) in enumerate(plan):
        at = T0 + start + 2
        records += [
            _decision(3 * n, tenant=tenant, agent=agent, run=trace, at=at, verdict="allow"),
            _decision(3 * n + 1, tenant=tenant, agent=agent, run=trace, at=at + 1, verdict="block",
                      rules=["no-rm", "no-sudo"] if n % 2 else ["no-rm"]),
            _decision(3 * n + 2, tenant=tenant, agent=agent, run=trace, at=at + 2, verdict="allow",
                      would_verdict="block" if n % 3 else "ask", mode="audit", rules=["egress"]),
        ]  # fmt: skip
    store.write_decisions(records)


def _by_hand(store: Store, tenant: str | None, since: float, until: float) -> dict[str, Any]:
    """The overview's numbers the slow way: every run and decision of the window, added up here."""
    runs = store.list_runs(tenant=tenant, since=since, until=until, limit=1000)
    records, _ = decision_page(store, tenant=tenant, since=since, until=until, limit=1000)
    per_bucket: Counter[int] = Counter()
    agents: dict[str | None, list[Any]] = {}
    for r in runs:
        per_bucket[int((r.start_ns / SECOND - since) // HOUR)] += 1
        entry = agents.setdefault(r.agent, [0, 0.0])
        entry[0] += 1
        entry[1] += r.cost_usd
    return {
        "per_bucket": per_bucket,
        "agents": {a: (n, round(c, 9)) for a, (n, c) in agents.items()},
        "tool_calls": sum(r.tool_calls for r in runs),
        "blocks": sum(r.blocks for r in runs),
        "tokens": sum(r.input_tokens + r.output_tokens for r in runs),
        "verdicts": Counter(d["verdict"] for d in records),
        "would_block": sum(d["verdict"] != "block" and d["would_verdict"] == "block" for d in records),
        "rules": Counter(rule for d in records for rule in d["rules"]),
    }


def test_the_overview_adds_up_what_the_pages_list_per_tenant(store: Store) -> None:
    _fill(store)
    since, until = T0, T0 + 3 * HOUR
    for tenant in ("acme", "globex", None):
        found = dashboard_overview(store, tenant=tenant, since=since, until=until, bucket_s=HOUR)
        expected = _by_hand(store, tenant, since, until)
        assert len(found.buckets) == 3 and [b["start"] for b in found.buckets] == [
            since,
            since + HOUR,
            since + 2 * HOUR,
        ]
        assert {i: b["runs"] for i, b in enumerate(found.buckets) if b["runs"]} == dict(
            expected["per_bucket"]
        )
        assert {a: (n, round(c, 9)) for a, n, c in found.agents} == expected["agents"]
        assert [c for _, _, c in found.agents] == sorted((c for _, _, c in found.agents), reverse=True)
        assert sum(b["tool_calls"] for b in found.buckets) == expected["tool_calls"]
        assert sum(b["blocks"] for b in found.buckets) == expected["blocks"]
        assert sum(b["input_tokens"] + b["output_tokens"] for b in found.buckets) == expected["tokens"]
        assert found.verdicts == dict(expected["verdicts"])
        assert found.would_block == expected["would_block"]
        assert found.rules == expected["rules"]
    acme = dashboard_overview(store, tenant="acme", since=since, until=until)
    assert acme.runs == 5  # a0 started before the window; globex's runs are not acme's
    assert {a for a, _, _ in acme.agents} == {"support", "billing"}
    assert acme.verdicts == {"allow": 10, "block": 5}
    assert acme.rules == {"no-rm": 5, "no-sudo": 2, "egress": 5}
    nobody = dashboard_overview(store, tenant="initech", since=since, until=until)
    assert nobody.runs == 0 and nobody.agents == [] and nobody.verdicts == {} and not nobody.rules


def test_the_overview_cost_matches_the_span_timeseries(store: Store) -> None:
    """Runs that start and end inside the window: the run rows and the spans tell the same cost."""
    _fill(store)
    since, until = T0, T0 + 3 * HOUR
    found = dashboard_overview(store, tenant="acme", since=since, until=until)
    spans = store.timeseries(tenant="acme", bucket_s=HOUR, since=since, until=until)
    for mine, theirs in zip(found.buckets, spans, strict=True):
        assert mine["cost_usd"] == pytest.approx(theirs["cost_usd"], rel=1e-12)
        assert mine["calls"] == theirs["calls"] and mine["input_tokens"] == theirs["input_tokens"]
    assert found.runs and sum(b["cost_usd"] for b in found.buckets) > 0


def test_the_overview_counts_every_run_not_the_first_thousand(store: Store) -> None:
    roots = [
        span(f"r{i:05d}", f"r{i:05d}-root", start_s=i, gen_ai__operation__name="invoke_agent",
             gen_ai__agent__name=f"agent-{i % 3}", railguard__tenant="acme")
        for i in range(1203)
    ]  # fmt: skip
    store.write_spans(roots)
    found = dashboard_overview(store, tenant="acme", since=T0, until=T0 + HOUR)
    assert found.runs == 1203
    assert sorted((a, n) for a, n, _ in found.agents) == [
        ("agent-0", 401),
        ("agent-1", 401),
        ("agent-2", 401),
    ]


def test_the_overview_refuses_a_window_cut_too_fine(store: Store) -> None:
    for bad in ({"bucket_s": 0}, {"bucket_s": 1, "until": T0 + 10**6}):
        try:
            dashboard_overview(store, tenant="acme", since=T0, **{"until": T0 + 10, **bad})
        except ValueError as err:
            assert "bucket" in str(err)
        else:
            raise AssertionError(f"{bad} was accepted")


# -- decision pages: plans and store v5 --------------------------------------------------------------


def _plan(store: Store, call: Any) -> str:
    with captured_sql(store) as seen:
        call()
    statement, parameters = next((s, p) for s, p in seen if "FROM decisions" in s)
    with store.read_connection() as conn:
        prefix = "EXPLAIN " if store.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
        if store.dialect == "postgresql":
            # A table of a few rows is rightly read whole and sorted; off, the planner shows whether
            # an index gives the order (what it picks on a big table, measured by bench_dashboard).
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return " | ".join(str(row[-1]) for row in conn.exec_driver_sql(prefix + statement, parameters))


def _sorts(plan: str) -> bool:
    return "Sort" in plan or "TEMP B-TREE" in plan


def _pages(store: Store) -> dict[str, Any]:
    return {
        "tenant's first page": lambda: decision_page(store, tenant="acme", limit=5),
        "blocks": lambda: decision_page(store, tenant="acme", verdict="block", limit=5),
        "every tenant": lambda: decision_page(store, tenant=None, limit=5),
        "a run": lambda: decision_page(store, tenant="acme", run="a3", limit=1000),
        "a run, every tenant": lambda: decision_page(store, tenant=None, run="a3", limit=1000),
    }


def test_decision_pages_read_one_index_range_without_sorting(store: Store) -> None:
    _fill(store)
    for what, call in _pages(store).items():
        plan = _plan(store, call)
        assert "ix_decisions_" in plan and not _sorts(plan), (what, plan)
        if what.startswith("a run"):
            assert "ix_decisions_run_ts_id" in plan, (what, plan)
    records, _ = decision_page(store, tenant="acme", run="a3", limit=1000)
    assert [r["event_id"] for r in records] == ["e0008", "e0007", "e0006"]
    assert decision_page(store, tenant="globex", run="a3", limit=1000) == ([], None)


NEW_INDEXES = {"ix_decisions_tenant_ts_id", "ix_decisions_tenant_verdict_ts_id", "ix_decisions_ts_id",
               "ix_decisions_run_ts_id"}  # fmt: skip
OLD_INDEXES = {"ix_decisions_tenant_ts", "ix_decisions_tenant_verdict_ts", "ix_decisions_ts"}


def _decision_indexes(store: Store) -> set[str]:
    with store.read_connection() as conn:
        return {str(index["name"]) for index in inspect(conn).get_indexes("decisions")}


def test_a_v4_database_gets_the_decision_indexes_from_migration_v5(store_url: str) -> None:
    with open_store(store_url) as store:
        _fill(store)
        before = {what: call() for what, call in _pages(store).items()}
        # Put the database back in the state store v4 left it in before v5 existed.
        with store.write_transaction() as conn:
            for name in NEW_INDEXES:
                conn.execute(text(f"DROP INDEX {name}"))
            conn.execute(text("CREATE INDEX ix_decisions_tenant_ts ON decisions (tenant, ts)"))
            conn.execute(
                text("CREATE INDEX ix_decisions_tenant_verdict_ts ON decisions (tenant, verdict, ts)")
            )
            conn.execute(text("CREATE INDEX ix_decisions_ts ON decisions (ts)"))
            conn.execute(text("DELETE FROM schema_version WHERE component = 'store' AND version = 5"))
        assert _decision_indexes(store) >= OLD_INDEXES and not NEW_INDEXES & _decision_indexes(store)

    with open_store(store_url) as upgraded:
        indexes = _decision_indexes(upgraded)
        assert indexes >= NEW_INDEXES
        assert not OLD_INDEXES & indexes
        assert {what: call() for what, call in _pages(upgraded).items()} == before
        assert upgraded.migrate() == []


def test_a_rule_filter_matches_whole_rule_ids_literally(store: Store) -> None:
    records = [
        _decision(n, tenant="acme", agent="a", run="r", at=T0 + n, verdict="block", rules=rules)
        for n, rules in enumerate([["no_rm"], ["noxrm"], ["no_rm2", "sudo"], ["sudo", "no_rm"], ["50%"], []])
    ]
    store.write_decisions([*records, _decision(9, tenant="globex", agent="a", run="r", at=T0, verdict="block",
                                               rules=["no_rm"])])  # fmt: skip

    def matched(rule: str, tenant: str | None = "acme") -> list[str]:
        return [r["event_id"] for r in decision_page(store, tenant=tenant, rule=rule, limit=100)[0]]

    assert matched("no_rm") == ["e0003", "e0000"]  # `_` is no wildcard; "no_rm2" is another rule
    assert matched("sudo") == ["e0003", "e0002"]
    assert matched("50%") == ["e0004"] and matched("5") == [] and matched("%") == []
    assert matched("no_rm", tenant=None) == ["e0003", "e0009", "e0000"]  # same time: newest event id first
