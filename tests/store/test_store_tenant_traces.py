"""Tenant integrity of ingested traces (issue 10 item 7): a span joins only a trace of its own
tenant. Trace ids travel in `traceparent` headers, so another tenant can know them."""

from __future__ import annotations

from dataclasses import replace

from store_helpers import agent_run, span

from railguard.store import Store
from railguard.store._ingest import tenant_trace_id


def _tagged(rows: list, tenant: str | None) -> list:
    return [replace(row, tenant=tenant) for row in rows]


def test_a_span_of_another_tenant_never_joins_or_inflates_a_run(store: Store) -> None:
    victim = _tagged(agent_run("t1", tenant="acme"), "acme")
    store.write_spans(victim, isolate_tenants=True)
    before = store.list_runs(tenant="acme")[0]

    # The attacker reuses the victim's trace id: a root, a big chat and a copy of a victim span id.
    attack = [
        span("t1", "evil-root", gen_ai__operation__name="invoke_agent", gen_ai__agent__name="attacker"),
        span(
            "t1",
            "evil-chat",
            "evil-root",
            gen_ai__operation__name="chat",
            gen_ai__usage__input_tokens=50_000_000,
        ),
        span("t1", "t1-chat", "evil-root", gen_ai__operation__name="chat", gen_ai__usage__input_tokens=7),
    ]
    assert store.write_spans(_tagged(attack, "globex"), isolate_tenants=True) == 3

    after = store.list_runs(tenant="acme")
    assert len(after) == 1 and after[0] == before  # same totals, same identity
    assert {row.name for row in store.get_trace("t1", tenant="acme")} == {r.name for r in victim}
    assert store.get_trace("t1", tenant="globex") == []
    theirs = store.list_runs(tenant="globex")
    assert [run.trace_id for run in theirs] == [tenant_trace_id("t1", "globex")]
    assert theirs[0].span_count == 3 and theirs[0].input_tokens == 50_000_007
    # Later spans of the attacker's trace keep joining the attacker's own run.
    store.write_spans(_tagged([span("t1", "evil-2", "evil-root")], "globex"), isolate_tenants=True)
    assert store.list_runs(tenant="globex")[0].span_count == 4


def test_untagged_spans_are_never_relabelled_into_a_tenant(store: Store) -> None:
    """A trace stored without a tenant is not claimed by a tenant's root arriving later."""
    store.write_spans(_tagged(agent_run("t2", tenant="x")[1:], None), isolate_tenants=True)
    store.write_spans(_tagged(agent_run("t2", tenant="x")[:1], "globex"), isolate_tenants=True)
    assert {row.tenant for row in store.get_trace("t2", tenant=None)} == {None}
    assert store.get_trace(tenant_trace_id("t2", "globex"), tenant="globex") != []


def test_same_tenant_spans_still_join_and_backfill(store: Store) -> None:
    rows = _tagged(agent_run("t3", tenant="acme"), "acme")
    store.write_spans(rows[1:], isolate_tenants=True)  # children first, the root last
    store.write_spans(rows[:1], isolate_tenants=True)
    runs = store.list_runs(tenant="acme")
    assert [(r.trace_id, r.span_count) for r in runs] == [("t3", 4)]


def test_trusted_local_writers_keep_back_filling_untagged_children(store: Store) -> None:
    rows = agent_run("t4", tenant="acme")  # identity on the root only, as the library's tracer writes it
    store.write_spans(rows[1:])
    store.write_spans(rows[:1])
    assert {row.tenant for row in store.get_trace("t4", tenant=None)} == {"acme"}
