"""One store transaction per stateful decision: the kill switch (from its snapshot), budgets,
limits and loop history of one call are read and charged together, all or nothing; a refused or
asked call changes nothing; and under real contention (4 processes x 8 threads through
`Engine.admit`) no cap is ever passed and every guard counts exactly the calls admitted."""

from __future__ import annotations

from collections.abc import Iterator
from multiprocessing.pool import Pool
from typing import Any

import pytest
from _workers import PROCESSES, THREADS, cushioned_admit_worker, pool, run_everywhere
from sqlalchemy import event

import railguard as rg
from railguard.engine import Engine
from railguard.state.cushions import Cushions, install_cushions
from railguard.state.killswitch import KillSwitch
from railguard.store import Store, open_store

__all__ = ["pool"]

POLICY = """
name: every-cushion
budgets:
  - {name: run-steps, scope: run, metric: steps, limit: 3}
limits:
  - {name: refunds, tools: [refund], key: run, max_sum: 100, sum_of: amount}
loops: {max_repeats: 5}
rules:
  - {rule: big, tools: [refund], when: args.amount > 50, verdict: ask}
"""
RUN = rg.Context(tenant="acme", agent="a", run="run-1", session="s")


class Transactions:
    """Counts the transactions, statements and round trips a store's database receives, at the
    driver (the guards talk to it directly). SQLite: its own trace of every statement run (a
    transaction is a BEGIN). PostgreSQL: every statement a psycopg cursor sends, and what psycopg
    sends around them: a BEGIN before the first statement of a transaction, the COMMIT or ROLLBACK
    ending it; a statement run in autocommit is a transaction of its own. Each is a round trip.
    The pool's liveness check on checkout (`SELECT 1`) is left out."""

    def __init__(self, store: Store) -> None:
        self.statements: list[str] = []
        self.round_trips = 0
        self._ended = 0  # PostgreSQL: transactions ended (COMMIT, ROLLBACK, an autocommit statement)
        self._dialect = store.dialect
        self._seen: set[int] = set()
        event.listen(store.engine, "checkout", self._checkout)

    @property
    def transactions(self) -> int:
        if self._dialect == "sqlite":
            return sum(s.startswith("BEGIN") for s in self.statements)
        return self._ended

    def _checkout(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if id(dbapi_conn) in self._seen:
            return
        self._seen.add(id(dbapi_conn))
        if self._dialect == "sqlite":
            dbapi_conn.set_trace_callback(self._statement)
            return
        counts = self

        class Traced(dbapi_conn.cursor_factory):  # type: ignore[misc, name-defined]
            def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                if dbapi_conn.autocommit:
                    counts._ended += 1
                elif dbapi_conn.info.transaction_status == 0:  # idle: psycopg sends BEGIN first
                    counts.round_trips += 1
                counts.round_trips += 1
                counts._statement(str(query))
                return super().execute(query, *args, **kwargs)

        dbapi_conn.cursor_factory = Traced
        commit, rollback = dbapi_conn.commit, dbapi_conn.rollback

        def ended() -> None:
            if dbapi_conn.info.transaction_status != 0:  # idle: nothing to end, nothing sent
                self._ended += 1
                self.round_trips += 1

        def traced_commit() -> None:
            ended()
            commit()

        def traced_rollback() -> None:
            ended()
            rollback()

        dbapi_conn.commit, dbapi_conn.rollback = traced_commit, traced_rollback

    def _statement(self, sql: str) -> None:
        if sql.strip() != "SELECT 1":
            self.statements.append(sql.strip())

    def reset(self) -> None:
        self.statements.clear()
        self.round_trips = self._ended = 0


@pytest.fixture
def cushioned(store_url: str) -> Iterator[tuple[Engine, Store, Cushions]]:
    with open_store(store_url) as store:
        engine = Engine(text=POLICY)
        cushions = install_cushions(engine, store, killswitch_refresh_s=60)
        try:
            yield engine, store, cushions
        finally:
            cushions.close()


def _used(store: Store) -> tuple[int, int, int]:
    """(steps the budgets hold, calls the limits counted, loop history rows), over every counter."""
    with store.read_connection() as conn:
        steps, refunds = (
            conn.exec_driver_sql(
                f"SELECT coalesce(sum({column}), 0) FROM rg_counters "
                f"WHERE substr(\"key\", 1, {len(kind)}) = '{kind}'"
            ).scalar_one()
            for kind, column in (("budget", "total + reserved"), ("limit", "calls"))
        )
        rows = conn.exec_driver_sql("SELECT count(*) FROM rg_loop_calls").scalar_one()
    return int(steps), int(refunds), int(rows)


def test_a_decision_with_every_cushion_reads_once_and_charges_once(
    cushioned: tuple[Engine, Store, Cushions],
) -> None:
    engine, store, _ = cushioned
    counted = Transactions(store)
    engine.admit(rg.Action("refund", {"amount": 1}, context=RUN))  # warm: connections checked out once
    counted.reset()
    decision = engine.admit(rg.Action("refund", {"amount": 2}, context=RUN))
    assert decision.allowed
    if store.dialect == "sqlite":
        assert counted.transactions == 1, counted.statements  # BEGIN IMMEDIATE: read, then charge
    else:  # the read, then the charge: one statement each, each a transaction (no BEGIN, no COMMIT)
        assert (counted.transactions, counted.round_trips) == (2, 2), counted.statements
    reads = [s for s in counted.statements if s.startswith("SELECT")]
    writes = [s for s in counted.statements if s.startswith(("INSERT", "UPDATE", "DELETE", "WITH"))]
    assert len(reads) == 1  # every guard's state in one statement
    # the loop history row, the limit's counter, the budget's counter: one statement on PostgreSQL
    assert len(writes) == (3 if store.dialect == "sqlite" else 1)
    assert sum(w.count("INSERT INTO") for w in writes) == 3
    assert decision.store_us > 0 and decision.store_us <= decision.latency_us
    assert _used(store) == (2, 2, 2)


def test_a_blocked_or_asked_call_changes_nothing_and_a_blocked_one_reads_nothing(
    cushioned: tuple[Engine, Store, Cushions],
) -> None:
    engine, store, cushions = cushioned
    counted = Transactions(store)
    assert engine.admit(rg.Action("refund", {"amount": 60}, context=RUN)).verdict is rg.Verdict.ASK
    assert _used(store) == (0, 0, 0)
    KillSwitch(store).engage(tool="refund", reason="incident", by="oncall")
    cushions.killswitch.refresh()
    counted.reset()
    stopped = engine.admit(rg.Action("refund", {"amount": 1}, context=RUN))
    assert stopped.verdict is rg.Verdict.BLOCK and stopped.rules == ("killswitch/engaged",)
    assert counted.transactions == 0 and stopped.store_us == 0  # the snapshot answered: no store access
    assert _used(store) == (0, 0, 0)


def test_the_tightest_cap_refuses_and_no_other_guard_is_charged(
    cushioned: tuple[Engine, Store, Cushions],
) -> None:
    engine, store, _ = cushioned
    for amount in (40, 45):
        assert engine.admit(rg.Action("refund", {"amount": amount}, context=RUN)).allowed
    over = engine.admit(rg.Action("refund", {"amount": 30}, context=RUN))  # 85 + 30 > 100
    assert over.verdict is rg.Verdict.BLOCK and "refunds" in over.rules
    assert _used(store) == (2, 2, 2)  # the refused call took no step and left no history
    assert engine.admit(rg.Action("lookup", {}, context=RUN)).allowed
    spent = engine.admit(rg.Action("lookup", {"again": 1}, context=RUN))
    assert spent.verdict is rg.Verdict.BLOCK and "run-steps" in spent.rules
    assert _used(store) == (3, 2, 3)


def test_a_call_refused_after_the_guards_charged_gets_everything_back(
    cushioned: tuple[Engine, Store, Cushions],
) -> None:
    engine, store, _ = cushioned

    def late_block(action: rg.Action, facts: rg.Facts) -> rg.RuleHit | None:
        if action.args.get("late"):
            return rg.RuleHit("late/block", rg.Verdict.BLOCK, "refused after the guards", rg.Severity.HIGH)
        return None

    engine.add_step(late_block, stage="approval", name="late")
    refused = engine.admit(rg.Action("refund", {"amount": 5, "late": True}, context=RUN))
    assert refused.verdict is rg.Verdict.BLOCK and refused.rules[-1] == "late/block"
    assert _used(store) == (0, 0, 0)
    assert engine.admit(rg.Action("refund", {"amount": 5}, context=RUN)).allowed
    assert _used(store) == (1, 1, 1)


def test_an_approved_ask_is_charged_once(cushioned: tuple[Engine, Store, Cushions]) -> None:
    engine, store, cushions = cushioned
    big = rg.Action("refund", {"amount": 60}, context=RUN)
    assert engine.admit(big).verdict is rg.Verdict.ASK
    (request,) = cushions.approvals.list_requests(status="pending")
    cushions.approvals.approve(request.id, by="lead")
    assert engine.admit(big).allowed  # the approval in force turns the ask into allow
    assert _used(store) == (1, 1, 1)


def test_explain_reads_in_one_statement_and_charges_nothing(
    cushioned: tuple[Engine, Store, Cushions],
) -> None:
    engine, store, _ = cushioned
    explained = engine.explain(rg.Action("refund", {"amount": 500}, context=RUN))
    assert explained.decision.verdict is rg.Verdict.BLOCK  # over the sum cap, read but not charged
    assert _used(store) == (0, 0, 0)


@pytest.mark.slow
@pytest.mark.parametrize(("steps", "refunds", "admitted"), [(1000, 37, 37), (29, 1000, 29)])
def test_every_cap_holds_through_admit_under_contention(
    store_url: str, pool: Pool, steps: int, refunds: int, admitted: int
) -> None:
    open_store(store_url).close()
    allowed = sum(run_everywhere(pool, cushioned_admit_worker, store_url, 3, steps, refunds))
    assert PROCESSES * THREADS * 3 == 96
    assert allowed == admitted  # the tightest cap, exactly: never passed, never under-used
    with open_store(store_url) as store:
        # all or nothing: every guard counted exactly the calls admitted, none a refused one
        assert _used(store) == (admitted, admitted, admitted)


def test_aadmit_takes_the_same_one_transaction_off_the_event_loop(
    cushioned: tuple[Engine, Store, Cushions],
) -> None:
    import asyncio

    engine, store, _ = cushioned
    counted = Transactions(store)

    async def admit_twice() -> tuple[rg.Decision, rg.Decision]:
        first = await engine.aadmit(rg.Action("refund", {"amount": 5}, context=RUN))
        counted.reset()
        over = await engine.aadmit(rg.Action("refund", {"amount": 96}, context=RUN))  # 5 + 96 > 100
        return first, over

    first, over = asyncio.run(admit_twice())
    assert first.allowed and over.verdict is rg.Verdict.BLOCK and "refunds" in over.rules
    assert counted.transactions == 1  # the refused call: read in one transaction, nothing written
    assert not [s for s in counted.statements if s.startswith(("INSERT", "UPDATE", "DELETE", "WITH"))]
    assert _used(store) == (1, 1, 1)


def test_a_cap_reached_between_the_read_and_the_charge_refuses_and_charges_nothing(pg_url: str) -> None:
    """PostgreSQL charges in one statement that commits by itself: when another process reaches a
    cap after the read, that statement must apply none of its parts (not the loop history, not the
    budget), and the call is refused by the cap that was reached."""
    with open_store(pg_url) as store, open_store(pg_url) as other:
        engine = Engine(text=POLICY)
        cushions = install_cushions(engine, store, killswitch_refresh_s=60)
        try:
            assert engine.admit(rg.Action("refund", {"amount": 2}, context=RUN)).allowed
            counted = Transactions(store)
            engine.admit(rg.Action("lookup", {}, context=RUN))  # our connection is traced from now on
            counted.reset()
            sent = counted._statement

            def another_process_first(sql: str) -> None:
                if sql.startswith("WITH") and "rg_loop_calls" in sql:  # the charge, after the read
                    with other.write_transaction() as conn:  # 97 of the run's 100 refunded now
                        conn.exec_driver_sql(
                            "UPDATE rg_counters SET total = total + 95000000 WHERE substr(\"key\", 1, 5) = 'limit'"
                        )
                sent(sql)

            counted._statement = another_process_first  # type: ignore[method-assign]
            refused = engine.admit(rg.Action("refund", {"amount": 5}, context=RUN))
        finally:
            cushions.close()
        assert refused.verdict is rg.Verdict.BLOCK and "refunds" in refused.rules, refused.reason
        assert any(s.startswith("WITH") for s in counted.statements)  # the one-statement charge was tried
        assert _used(store) == (2, 1, 2)  # the first refund and the lookup, nothing of the refused call


def test_direct_checks_on_postgresql_are_one_round_trip_and_a_refusal_still_names_its_cap(
    pg_url: str,
) -> None:
    """`limits.check` and `budgets.reserve` within their caps: one autocommitted statement (no
    BEGIN, SET or COMMIT). A refused one applies nothing and says which cap refused it."""
    from railguard.state.budgets import BudgetRule, Budgets
    from railguard.state.limits import LimitRule, Limits

    with open_store(pg_url) as store:
        limits = Limits(store, [LimitRule(tools=["refund"], key="tenant", max_sum=20, sum_of="amount")])
        budgets = Budgets(store, [BudgetRule("tenant", "cost", limit=1.0, warn_at=0.5)])
        refund = rg.Action("refund", {"amount": 12}, context=RUN)
        assert limits.check(refund).ok  # opens and traces the pooled connection
        counted = Transactions(store)
        assert budgets.reserve(RUN, cost=0.1).ok
        counted.reset()
        warned = budgets.reserve(RUN, cost=0.5)
        assert warned.ok and counted.round_trips == 1, counted.statements
        assert [h.rule for h in warned.hits] == ["budget/tenant/cost/warn"]  # 60% of the budget used
        counted.reset()
        refused = limits.check(refund)  # 24 of 20
        assert not refused.ok and "12.00 of 20.00" in refused.reason, refused.reason
        assert not budgets.reserve(RUN, cost=0.5).ok  # 1.1 of 1.0
        with store.read_connection() as conn:
            rows = conn.exec_driver_sql('SELECT substr("key", 1, 6), total + reserved FROM rg_counters')
            totals = {prefix: int(used) for prefix, used in rows}
        assert totals == {"limit\x1f": 12_000_000, "budget": 600_000}  # nothing of the refused calls
