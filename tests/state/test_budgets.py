"""Budgets on real stores: reserve/commit/release, warn thresholds, reasons with numbers, engine step."""

from __future__ import annotations

from pathlib import Path

import pytest

import railguard
from railguard.engine import Engine
from railguard.errors import ConfigurationError
from railguard.model import Action, Context, Severity, Verdict
from railguard.state.budgets import BudgetRule, Budgets, Usage
from railguard.store import open_store

ACME = Context(tenant="acme", agent="support", run="r1")


def test_cost_budget_reason_has_the_numbers(store_url: str) -> None:
    with open_store(store_url) as store:
        budgets = Budgets(store, [BudgetRule("tenant_day", "cost", limit=5.00)])
        held = budgets.reserve(ACME, cost=4.93)
        assert held.ok
        held.commit(cost=4.93)
        refused = budgets.reserve(ACME, cost=0.12)
        assert not refused.ok and refused.verdict is Verdict.BLOCK
        assert (
            refused.reason
            == "cost budget for tenant acme today: 4.93 of 5.00 USD used, this call needs ~0.12"
        )
        assert budgets.reserve(ACME, cost=0.07).ok  # 5.00 exactly still fits


def test_reservations_count_until_released_and_commit_charges_the_actual(store_url: str) -> None:
    with open_store(store_url) as store:
        budgets = Budgets(store, [BudgetRule("run", "tokens", limit=1000, warn_at=None)])
        first = budgets.reserve(ACME, tokens=600)
        assert not budgets.reserve(ACME, tokens=500).ok  # 600 in flight
        first.release()
        first.commit(tokens=999)  # settled already: a no-op
        second = budgets.reserve(ACME, tokens=500)
        assert second.ok
        second.commit(tokens=300)  # the actual was smaller than the estimate
        assert budgets.reserve(ACME, tokens=700).ok
        assert (
            "1,000 of 1,000 tokens used" in budgets.reserve(ACME, tokens=0).reason
        )  # used up: even 0 is refused


def test_all_rules_or_none(store_url: str) -> None:
    with open_store(store_url) as store:
        budgets = Budgets(
            store,
            [
                BudgetRule("run", "steps", limit=10, warn_at=None),
                BudgetRule("agent", "cost", limit=1.0, verdict="ask"),
            ],
        )
        assert budgets.reserve(ACME, steps=1, cost=0.9).ok
        refused = budgets.reserve(ACME, steps=1, cost=0.5)
        assert refused.verdict is Verdict.ASK and [h.rule for h in refused.hits] == ["budget/agent/cost"]
        for _ in range(9):  # the refused call took no step: nine more fit
            assert budgets.reserve(ACME, steps=1).ok
        assert "step budget for run r1: 10 of 10 steps used" in budgets.reserve(ACME, steps=1).reason


def test_warn_threshold_is_an_allow_hit_with_low_severity(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/b.db") as store:
        budgets = Budgets(store, [BudgetRule("tenant", "cost", limit=10.0, warn_at=0.8)])
        assert budgets.reserve(ACME, cost=7.0).hits == ()
        warned = budgets.reserve(ACME, cost=1.0)
        assert warned.ok
        (hit,) = warned.hits
        assert hit.verdict is Verdict.ALLOW and hit.severity is Severity.LOW
        assert (
            hit.message == "cost budget for tenant acme at 80%: 7.00 of 10.00 USD used, this call needs ~1.00"
        )


def test_cost_sums_are_exact(tmp_path: Path) -> None:
    """0.1 + 0.2 must fit a 0.3 budget: amounts are integer micro-units, not floats."""
    with open_store(f"sqlite:///{tmp_path}/b.db") as store:
        budgets = Budgets(store, [BudgetRule("run", "cost", limit=0.3, warn_at=None)])
        budgets.reserve(ACME, cost=0.1).commit()
        budgets.reserve(ACME, cost=0.2).commit()
        assert not budgets.reserve(ACME, cost=0.000001).ok


def test_scopes_key_on_their_identity(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/b.db") as store:
        budgets = Budgets(store, [BudgetRule("agent_day", "steps", limit=1, warn_at=None)])
        assert budgets.reserve(ACME, steps=1).ok
        assert not budgets.reserve(Context(tenant="acme", agent="support", run="r2"), steps=1).ok
        assert budgets.reserve(Context(tenant="acme", agent="billing"), steps=1).ok
        assert budgets.reserve(Context(tenant="acme"), steps=1).ok  # no agent: the rule does not apply
        assert BudgetRule("tenant_day", "cost", 1).key(ACME, 0.0) != BudgetRule("tenant_day", "cost", 1).key(
            ACME, 86_400.0
        )


def test_engine_step_reserves_one_step_and_settles_the_actual(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/b.db") as store:
        budgets = Budgets(
            store,
            [
                BudgetRule("run", "steps", limit=3, warn_at=None),
                BudgetRule("run", "tokens", limit=100, warn_at=None),
            ],
            estimate=lambda action: Usage(steps=1, tokens=int(action.args.get("max_tokens", 0))),
        )
        engine = Engine(text="rules: []\n")
        engine.add_step(budgets, stage="guards", name="budgets")
        with railguard.run(tenant="acme", run_id="run-7"):
            chat = Action("chat", {"max_tokens": 80})
            assert engine.check(chat).allowed
            assert budgets.settle(chat, tokens=30)  # 80 held -> 30 charged
            assert not budgets.settle(chat)  # nothing pending any more
            small = Action("chat", {"max_tokens": 60})
            assert engine.check(small).allowed
            assert budgets.release(small)  # did not run: neither the step nor the tokens count
            assert engine.check(Action("chat", {"max_tokens": 70})).allowed
            blocked = engine.check(Action("chat", {"max_tokens": 1}))
        assert blocked.verdict is Verdict.BLOCK
        # steps: 1 settled + 1 in flight = 2 of 3 still fit; tokens: 30 settled + 70 in flight = 100 of 100
        assert blocked.reason == "token budget for run run-7: 100 of 100 tokens used, this call needs ~1"


def test_invalid_rules_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="scope"):
        BudgetRule("galaxy", "cost", 1)
    with pytest.raises(ConfigurationError, match="metric"):
        BudgetRule("run", "watts", 1)
    with pytest.raises(ConfigurationError, match="warn_at"):
        BudgetRule("run", "cost", 1, warn_at=1.5)
