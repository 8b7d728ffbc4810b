"""The one admission path: `Engine.admit` decides whether a call may run, every entry point follows
it, the engine's `mode=` wins over the file, `explain` changes nothing, and the stateful guards charge
a call once, only when it is admitted to run. Each test here failed on the engine before issue 9."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

import railguard as rg
from railguard.engine import Engine
from railguard.integrations._toolcalls import BlockedCall, ToolCallRequest, decide
from railguard.integrations.generic import GuardedToolkit, ToolOutcome
from railguard.state import BudgetRule, Budgets, LimitRule, Limits, LoopRules, Loops
from railguard.state._counters import read_counter
from railguard.store import Store, open_store

ASKING = "rules:\n  - {rule: big-payment, tools: [pay], when: args.amount > 100, verdict: ask}\n"


class StillAsking:
    """A custom approval handler that answers with the decision it was given: still `ask`."""

    def __init__(self) -> None:
        self.asked = 0

    def request(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
        self.asked += 1
        return decision

    async def arequest(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
        return self.request(action, decision)


class Approving:
    """A custom approval handler whose human always says yes."""

    def request(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
        return replace(decision, verdict=rg.Verdict.ALLOW, approval_id="apr-9")

    async def arequest(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
        return self.request(action, decision)


def test_a_handler_answering_still_ask_never_runs_the_tool_on_any_entry_point() -> None:
    engine = Engine(text=ASKING)
    handler = StillAsking()
    engine.approval_handler = handler
    paid: list[int] = []

    @engine.guard
    def pay(amount: int) -> str:
        paid.append(amount)
        return "paid"

    async def apay(amount: int) -> str:
        paid.append(amount)
        return "paid"

    with pytest.raises(rg.ApprovalRequired):
        pay(500)
    with pytest.raises(rg.ApprovalRequired):
        asyncio.run(engine.guard(name="pay")(apay)(amount=500))
    toolkit = GuardedToolkit(engine, {"pay": lambda amount: paid.append(amount)})
    outcome = toolkit.call("pay", {"amount": 500})
    assert isinstance(outcome, ToolOutcome) and outcome.verdict is rg.Verdict.ASK
    assert isinstance(decide(engine, ToolCallRequest("c1", "pay", {"amount": 500})), BlockedCall)
    assert engine.admit("pay", {"amount": 500}).verdict is rg.Verdict.ASK
    assert paid == [] and handler.asked == 5
    assert pay(5) == "paid" and paid == [5]  # under the threshold: no human needed


def test_an_approval_is_checked_again_and_covers_only_the_asks_it_answered() -> None:
    engine = Engine(
        text=ASKING + "  - {rule: sanctioned, tools: [pay], when: args.to == 'KP', verdict: block}\n"
    )
    engine.approval_handler = Approving()
    approved = engine.admit("pay", {"amount": 500, "to": "FR"})
    assert approved.verdict is rg.Verdict.ALLOW and approved.approval_id == "apr-9"
    assert approved.reason.startswith("approved by a human (request apr-9)")
    assert engine.admit("pay", {"amount": 500, "to": "KP"}).verdict is rg.Verdict.BLOCK


def test_the_engine_mode_wins_over_the_file_and_the_decision_says_which_mode_acted() -> None:
    audit_file = "mode: audit\nrules:\n  - {rule: no-rm, tools: [sh], verdict: block, message: no}\n"
    enforcing = Engine(text=audit_file, mode="enforce")
    assert enforcing.mode is rg.Mode.ENFORCE
    d = enforcing.check("sh", {})
    assert d.verdict is rg.Verdict.BLOCK and d.mode is rg.Mode.ENFORCE
    assert d.hits[0].mode is rg.Mode.ENFORCE
    broken = Engine(
        text="mode: audit\nrules:\n  - {rule: r, when: args.n > 1, verdict: ask}\n", mode="enforce"
    )
    assert broken.check("t", {}).verdict is rg.Verdict.BLOCK  # on_error follows the acting mode too
    auditing = Engine(text=audit_file.replace("mode: audit\n", "mode: enforce\n"), mode="audit")
    d = auditing.check("sh", {})
    assert (d.verdict, d.would_verdict, d.mode) == (rg.Verdict.ALLOW, rg.Verdict.BLOCK, rg.Mode.AUDIT)
    assert Engine(text=audit_file).check("sh", {}).mode is rg.Mode.AUDIT


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as s:
        yield s


STEP_BUDGET = BudgetRule("run", "steps", limit=2, warn_at=None)
RUN = rg.Context(tenant="acme", agent="a", run="run-1", session="s")


def _steps_used(store: Store) -> int:
    with store.read_connection() as conn:
        state = read_counter(conn, STEP_BUDGET.key(RUN, time.time()) or "")
    return state.total + state.reserved


def _guarded(store: Store, policy: str = ASKING) -> tuple[Engine, Limits, Loops]:
    engine = Engine(text=policy)
    loops = Loops(store, LoopRules(max_repeats=1))
    limits = Limits(store, [LimitRule(tools=["pay"], key="run", window_s=None, max_count=5)])
    engine.add_step(loops, stage="guards", name="loops")
    engine.add_step(limits, stage="guards", name="limits")
    engine.add_step(Budgets(store, [STEP_BUDGET]), stage="guards", name="budgets")
    return engine, limits, loops


def test_explain_and_dry_runs_change_no_counter_budget_or_loop_history(store: Store) -> None:
    engine, limits, _ = _guarded(store)
    pay = rg.Action("pay", {"amount": 5}, context=RUN)
    for _ in range(3):
        assert engine.explain(pay).decision.verdict is rg.Verdict.ALLOW
        assert engine.dry_run(pay).verdict is rg.Verdict.ALLOW
    assert _steps_used(store) == 0 and limits.preview(pay).ok
    assert engine.check(pay).verdict is rg.Verdict.ALLOW  # first real call: not a repeat
    assert _steps_used(store) == 1
    again = engine.check(rg.Action("pay", {"amount": 5}, context=RUN))
    assert again.verdict is rg.Verdict.BLOCK and "loop/repeat" in again.rules


def test_an_approved_call_is_charged_once_and_an_unanswered_ask_not_at_all(store: Store) -> None:
    engine, limits, _ = _guarded(store)
    big = rg.Action("pay", {"amount": 500}, context=RUN)
    assert engine.admit(big).verdict is rg.Verdict.ASK  # no handler: refused, nothing spent
    assert engine.check(big).verdict is rg.Verdict.ASK
    assert _steps_used(store) == 0
    engine.approval_handler = Approving()
    assert engine.admit(big).allowed
    assert _steps_used(store) == 1  # the ask and its re-check under the approval: one charge
    with store.read_connection() as conn:
        (rule,) = limits.rules
        counted = read_counter(conn, f"limit\x1f{rule.name}\x1frun-1\x1fall")
    assert counted.calls == 1


def test_a_retry_of_the_same_call_id_is_not_charged_again(store: Store) -> None:
    engine, _, _ = _guarded(store)
    first = rg.Action("pay", {"amount": 5}, call_id="call-1", context=RUN)
    assert engine.check(first).allowed
    retry = rg.Action("pay", {"amount": 5}, call_id="call-1", context=RUN)
    assert engine.check(retry).allowed  # the same call again: not a repeat, not a second step
    assert _steps_used(store) == 1
    assert engine.check(rg.Action("lookup", {}, call_id="call-2", context=RUN)).allowed
    spent = engine.check(rg.Action("other", {}, call_id="call-3", context=RUN))
    assert spent.verdict is rg.Verdict.BLOCK and "budget/run/steps" in spent.rules


def test_a_cap_reached_between_evaluation_and_admission_refuses_and_gives_back_the_rest(
    store: Store,
) -> None:
    engine, limits, loops = _guarded(store, "rules: []\n")
    budgets = Budgets(store, [STEP_BUDGET])
    pay = rg.Action("pay", {"amount": 5}, context=RUN)
    # another process spends the run's last steps after this call was evaluated, before it is admitted
    assert budgets.reserve(RUN, steps=2).ok
    decision = engine.check(pay)
    assert decision.verdict is rg.Verdict.BLOCK and "budget/run/steps" in decision.rules
    assert limits.preview(pay).ok  # the limit and the loop history the call took were given back
    assert loops.check(rg.Action("pay", {"amount": 5}, context=RUN)) == ()


def test_acheck_runs_store_bound_steps_off_the_event_loop() -> None:
    engine = Engine(text="rules: []\n")
    threads: list[str] = []

    def store_lookup(action: rg.Action, facts: rg.Facts) -> None:
        import threading

        threads.append(threading.current_thread().name)

    async def main() -> str:
        import threading

        await engine.acheck("t", {})
        engine.add_step(store_lookup, stage="guards")
        await engine.acheck("t", {})
        await engine.aadmit("t", {})
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert len(threads) == 2 and loop_thread not in threads
