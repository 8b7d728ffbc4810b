"""Writes and reads on both backends (the `store` fixture is parametrized over SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest
from store_helpers import BASE_NS, SECOND, agent_run, span

from railguard.model import Context, Decision, RuleHit, Verdict
from railguard.store import Store, build_tree

BASE_S = BASE_NS / SECOND


def test_run_aggregates_come_from_the_spans(store: Store) -> None:
    assert store.write_spans(agent_run("t1", tenant="acme", session="s1")) == 4
    [run] = store.list_runs(tenant="acme")
    assert (run.trace_id, run.tenant, run.agent, run.session) == ("t1", "acme", "support", "s1")
    assert (run.span_count, run.tool_calls, run.model_calls, run.blocks, run.asks) == (4, 2, 1, 1, 0)
    assert (run.input_tokens, run.output_tokens, run.cost_usd) == (100, 20, pytest.approx(0.01))
    assert run.status == "error"
    assert run.root_name == "span t1-root"
    assert run.duration_ms == pytest.approx(10_000)


def test_identity_is_copied_onto_every_span_even_when_the_root_arrives_last(store: Store) -> None:
    root, *children = agent_run("t1", tenant="acme", session="s1")
    store.write_spans(children)  # children end first, so they are exported first
    assert store.get_trace("t1", tenant="acme") == []
    store.write_spans([root])
    spans = store.get_trace("t1", tenant="acme")
    assert len(spans) == 4
    assert {(s.tenant, s.session, s.agent) for s in spans} == {("acme", "s1", "support")}
    assert [s.span_id for s in spans] == ["t1-root", "t1-chat", "t1-tool1", "t1-tool2"]
    [run] = store.list_runs(tenant="acme")
    assert (run.span_count, run.root_name, run.agent) == (4, "span t1-root", "support")


def test_resent_spans_are_stored_and_counted_once(store: Store) -> None:
    rows = agent_run("t1", tenant="acme")
    assert store.write_spans(rows) == 4
    assert store.write_spans(rows + rows[:1]) == 0
    [run] = store.list_runs(tenant="acme")
    assert (run.span_count, run.input_tokens, run.blocks) == (4, 100, 1)


def test_span_columns_and_json_round_trip(store: Store) -> None:
    store.write_spans(agent_run("t1", tenant="acme"))
    by_id = {s.span_id: s for s in store.get_trace("t1", tenant="acme")}
    blocked = by_id["t1-tool2"]
    assert (blocked.tool_name, blocked.verdict, blocked.rules) == ("shell", "block", "no-rm,no-sudo")
    assert blocked.attributes["railguard.rules"] == ["no-rm", "no-sudo"]
    assert blocked.resource == {"service.name": "svc"}
    assert by_id["t1-chat"].input_tokens == 100
    tree = build_tree(list(by_id.values()))
    assert [n.span.span_id for n in tree] == ["t1-root"]
    assert [c.span.span_id for c in tree[0].children] == ["t1-chat", "t1-tool1", "t1-tool2"]


def test_tenant_data_never_crosses_tenants(store: Store) -> None:
    store.write_spans(agent_run("ta", tenant="acme", session="shared-session"))
    store.write_spans(agent_run("tb", tenant="globex", session="shared-session"))
    store.write_decisions(
        [_decision("d-acme", "acme").to_record(), _decision("d-globex", "globex").to_record()]
    )

    assert [r.trace_id for r in store.list_runs(tenant="acme")] == ["ta"]
    assert store.get_trace("tb", tenant="acme") == []
    assert [r.trace_id for r in store.session_runs("shared-session", tenant="acme")] == ["ta"]
    assert [d["decision_id"] for d in store.list_decisions(tenant="acme")] == ["d-acme"]
    assert store.list_runs(tenant="initech") == []
    series = store.timeseries(tenant="acme", bucket_s=3600, since=BASE_S, until=BASE_S + 3600)
    assert series[0]["tool_calls"] == 2
    # tenant=None is the admin view: everything.
    assert {r.trace_id for r in store.list_runs(tenant=None)} == {"ta", "tb"}
    assert len(store.get_trace("tb", tenant=None)) == 4


def test_keyset_pagination_walks_every_run_once(store: Store) -> None:
    rows = []
    for i in range(23):
        # Pairs of runs share a start time, so the cursor must break ties on the trace id.
        rows += agent_run(f"t{i:02d}", tenant="acme", start_s=(i // 2) * 60)
    store.write_spans(rows)
    seen: list[str] = []
    before = None
    while page := store.list_runs(tenant="acme", limit=5, before=before):
        seen += [r.trace_id for r in page]
        before = page[-1].cursor
    assert sorted(seen) == [f"t{i:02d}" for i in range(23)]
    assert len(seen) == len(set(seen))
    starts = [r.start_ns for r in store.list_runs(tenant="acme", limit=100)]
    assert starts == sorted(starts, reverse=True)


def test_run_filters(store: Store) -> None:
    store.write_spans(agent_run("t1", tenant="acme", agent="support", start_s=0))
    store.write_spans(agent_run("t2", tenant="acme", agent="billing", start_s=100))
    store.write_spans(
        [span("t3", "t3-root", start_s=200, railguard__tenant="acme", gen_ai__agent__name="billing")]
    )
    assert [r.trace_id for r in store.list_runs(tenant="acme", agent="billing")] == ["t3", "t2"]
    assert [r.trace_id for r in store.list_runs(tenant="acme", since=BASE_S + 50)] == ["t3", "t2"]
    assert [r.trace_id for r in store.list_runs(tenant="acme", until=BASE_S + 50)] == ["t1"]
    assert [r.trace_id for r in store.list_runs(tenant="acme", status="ok")] == ["t3"]
    assert [r.trace_id for r in store.list_runs(tenant="acme", verdict="block")] == ["t2", "t1"]
    assert [r.trace_id for r in store.list_runs(tenant="acme", verdict="allow")] == ["t3"]
    with pytest.raises(ValueError, match="cursor"):
        store.list_runs(tenant="acme", before="not-a-cursor")
    with pytest.raises(ValueError, match="status"):
        store.list_runs(tenant="acme", status="weird")


def test_session_runs_are_oldest_first(store: Store) -> None:
    store.write_spans(agent_run("t2", tenant="acme", session="s", start_s=60))
    store.write_spans(agent_run("t1", tenant="acme", session="s", start_s=0))
    store.write_spans(agent_run("t3", tenant="acme", session="other", start_s=30))
    assert [r.trace_id for r in store.session_runs("s", tenant="acme")] == ["t1", "t2"]


def test_timeseries_buckets_are_dense(store: Store) -> None:
    store.write_spans(agent_run("t1", tenant="acme", start_s=0))
    store.write_spans(agent_run("t2", tenant="acme", start_s=125, agent="billing"))
    series = store.timeseries(tenant="acme", bucket_s=60, since=BASE_S, until=BASE_S + 180)
    assert [b["start"] for b in series] == [BASE_S, BASE_S + 60, BASE_S + 120]
    first, empty, third = series
    assert (first["calls"], first["tool_calls"], first["model_calls"]) == (3, 2, 1)
    assert (first["blocks"], first["errors"], first["input_tokens"]) == (1, 1, 100)
    assert first["cost_usd"] == pytest.approx(0.01)
    assert first["tool_latency_avg_ms"] == pytest.approx(300.0)
    assert first["tool_latency_max_ms"] == pytest.approx(500.0)
    assert (empty["calls"], empty["tool_latency_avg_ms"]) == (0, None)
    assert third["tool_calls"] == 2
    only_billing = store.timeseries(
        tenant="acme", bucket_s=60, since=BASE_S, until=BASE_S + 180, agent="billing"
    )
    assert [b["tool_calls"] for b in only_billing] == [0, 0, 2]


def _decision(
    decision_id: str, tenant: str, verdict: Verdict = Verdict.BLOCK, tool: str = "shell"
) -> Decision:
    hit = RuleHit(rule="no-rm", verdict=verdict, message="rm -rf is not allowed")
    return Decision(
        verdict=verdict,
        reason="rm -rf is not allowed",
        decision_id=decision_id,
        tool=tool,
        hits=(hit,),
        context=Context(tenant=tenant, session="s1", agent="support"),
        timestamp=time.time(),
    )


def test_decisions_are_events_appended_never_overwritten_and_filtered(store: Store) -> None:
    first = _decision("d1", "acme", Verdict.ASK).to_record() | {"event_id": "e1"}
    second = _decision("d2", "acme", Verdict.ALLOW, tool="search").to_record() | {"event_id": "e2"}
    assert store.write_decisions([first, second]) == 2
    later = {**first, "event_id": "e3", "verdict": "block", "reason": "denied", "timestamp": time.time() + 1}
    assert store.write_decisions([later]) == 1  # same decision id: a second event of d1
    assert store.write_decisions([later, first]) == 0  # re-sent events are stored once
    records = store.list_decisions(tenant="acme")
    assert [(r["decision_id"], r["seq"], r["verdict"]) for r in records] == [
        ("d1", 2, "block"),
        ("d2", 1, "allow"),
        ("d1", 1, "ask"),
    ]
    assert [r["event_id"] for r in store.list_decisions(tenant="acme", verdict="block")] == ["e3"]
    assert [r["decision_id"] for r in store.list_decisions(tenant="acme", tool="search")] == ["d2"]
    assert store.list_decisions(tenant="acme", since=time.time() + 60) == []
    assert records[0]["context"]["tenant"] == "acme"


def test_retention_deletes_old_rows_in_batches(store: Store) -> None:
    now_s = time.time()
    old_start = now_s - 10 * 86_400 - BASE_S  # start_s offsets are relative to BASE_NS
    rows = []
    for i in range(7):
        rows += agent_run(f"old{i}", tenant="acme", start_s=old_start + i)
    rows += agent_run("new", tenant="acme", start_s=now_s - BASE_S)
    store.write_spans(rows)
    old = _decision("d-old", "acme").to_record() | {"timestamp": now_s - 10 * 86_400}
    store.write_decisions([old, _decision("d-new", "acme").to_record()])

    # batch_size 5 < 7 runs x 4 spans: several batches are needed.
    deleted = store.delete_older_than(7, batch_size=5)
    assert deleted == 7 * 4 + 7 + 1  # spans + runs + decisions
    assert [r.trace_id for r in store.list_runs(tenant=None)] == ["new"]
    assert store.get_trace("old0", tenant=None) == []
    assert [d["decision_id"] for d in store.list_decisions(tenant=None)] == ["d-new"]
    assert store.delete_older_than(7) == 0


def test_two_stores_writing_the_same_spans_at_once_count_each_span_once(store_url: str) -> None:
    import threading

    from railguard.store import open_store

    batches = [agent_run(f"t{i}", tenant="acme") for i in range(40)]
    stores = [open_store(store_url), open_store(store_url)]
    threads = [threading.Thread(target=lambda s=s: [s.write_spans(b) for b in batches]) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = stores[0].list_runs(tenant="acme", limit=100)
    for s in stores:
        s.close()
    assert len(runs) == 40
    assert {(r.span_count, r.input_tokens, r.blocks) for r in runs} == {(4, 100, 1)}
