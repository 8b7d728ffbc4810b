"""Limits on real stores (SQLite file and PostgreSQL): caps, windows, atomicity across rules, engine step."""

from __future__ import annotations

import pytest

from railguard.engine import Engine
from railguard.errors import ConfigurationError
from railguard.model import Action, Context, Severity, Verdict
from railguard.state._counters import purge_expired
from railguard.state.limits import LimitRule, Limits
from railguard.store import open_store

ACME = Context(tenant="acme", run="r1")


def refund(amount: object, ctx: Context = ACME) -> Action:
    return Action("refund", {"amount": amount}, context=ctx)


def test_sum_cap_allows_up_to_the_cap_and_names_the_numbers(store_url: str) -> None:
    with open_store(store_url) as store:
        limits = Limits(store, [LimitRule(tools=["refund"], key="tenant", max_sum=500, sum_of="amount")])
        assert [limits.check(refund(a)).ok for a in (120, 300, 80)] == [True, True, True]  # exactly 500
        refused = limits.check(refund(0.01))
        assert not refused.ok and refused.verdict is Verdict.BLOCK
        assert "500.00 of 500.00 'amount' used, this call adds 0.01" in refused.reason
        assert "per hour (tenant acme)" in refused.reason
        # another tenant has its own window
        assert limits.check(refund(500, Context(tenant="globex"))).ok


def test_count_cap_per_run_without_window(store_url: str) -> None:
    with open_store(store_url) as store:
        limits = Limits(
            store, [LimitRule(tools=["send_*"], key="run", window_s=None, max_count=2, verdict="ask")]
        )
        email = Action("send_email", {"to": "a@b.c"}, context=ACME)
        assert limits.check(email).ok and limits.check(email).ok
        third = limits.check(email)
        assert third.verdict is Verdict.ASK and "2 of 2 calls used" in third.reason
        assert limits.check(Action("send_email", {}, context=Context(tenant="acme", run="r2"))).ok
        assert limits.check(Action("read_inbox", {}, context=ACME)).ok  # not matched by the glob


def test_refused_call_counts_against_no_rule(store_url: str) -> None:
    """All rules of a call are one transaction: the count rule must not move when the sum rule refuses."""
    with open_store(store_url) as store:
        rules = [
            LimitRule(tools=["refund"], key="run", window_s=None, max_count=3, name="count"),
            LimitRule(tools=["refund"], key="tenant", max_sum=100, sum_of="amount", name="sum"),
        ]
        limits = Limits(store, rules)
        assert limits.check(refund(90)).ok
        for _ in range(5):
            assert not limits.check(refund(50)).ok  # sum refuses; count must not be consumed
        assert limits.check(refund(10)).ok
        assert limits.check(refund(0)).ok
        assert "count" in limits.check(refund(0)).reason  # now the 4th counted call


@pytest.mark.parametrize("bad", [None, "s3cr3t-ten", -5, float("nan"), True, {"x": 1}])
def test_missing_or_bad_amount_fails_closed_without_echoing_the_value(bad: object, tmp_path: object) -> None:
    with open_store(f"sqlite:///{tmp_path}/l.db") as store:
        limits = Limits(store, [LimitRule(tools=["refund"], max_sum=500, sum_of="amount")])
        outcome = limits.check(refund(bad))
        assert not outcome.ok and "argument 'amount' must be a number >= 0" in outcome.reason
        assert "s3cr3t" not in outcome.reason


def test_nested_sum_path_and_numeric_strings(tmp_path: object) -> None:
    with open_store(f"sqlite:///{tmp_path}/l.db") as store:
        limits = Limits(store, [LimitRule(tools=["pay"], max_sum=10, sum_of="payment.amount")])
        pay = lambda v: Action("pay", {"payment": {"amount": v}}, context=ACME)  # noqa: E731
        assert limits.check(pay("7.5")).ok
        assert not limits.check(pay(3)).ok
        assert limits.check(pay(2.5)).ok


def test_fixed_windows_are_epoch_aligned() -> None:
    rule = LimitRule(tools=["x"], window_s=3600, max_count=1)
    assert rule.window(7200.0) == rule.window(10_799.9)
    assert rule.window(10_800.0)[0] != rule.window(10_799.9)[0]
    assert rule.window(7200.0)[1] == 10_800.0


def test_rules_without_the_keyed_identity_do_not_apply(tmp_path: object) -> None:
    with open_store(f"sqlite:///{tmp_path}/l.db") as store:
        limits = Limits(store, [LimitRule(tools=["refund"], key="user", max_count=1)])
        assert all(limits.check(refund(1)).ok for _ in range(3))  # ACME has no user


def test_invalid_rules_are_rejected_with_a_fix() -> None:
    with pytest.raises(ConfigurationError, match="max_count, max_sum"):
        LimitRule(tools=["x"])
    with pytest.raises(ConfigurationError, match="sum_of"):
        LimitRule(tools=["x"], max_sum=5)
    with pytest.raises(ConfigurationError, match="key"):
        LimitRule(tools=["x"], key="planet", max_count=1)
    with pytest.raises(ConfigurationError, match="verdict"):
        LimitRule(tools=["x"], max_count=1, verdict="allow")


def test_engine_step_blocks_and_skips_calls_already_blocked(tmp_path: object) -> None:
    policy = "rules:\n  - rule: huge\n    tools: [refund]\n    when: args.amount > 1000\n    verdict: block\n"
    with open_store(f"sqlite:///{tmp_path}/l.db") as store:
        engine = Engine(text=policy)
        limits = Limits(store, [LimitRule(tools=["refund"], max_sum=500, sum_of="amount")])
        engine.add_step(limits, stage="guards", name="limits")
        assert engine.check(refund(5000)).rules == ("huge",)  # blocked by policy: not counted
        assert engine.check(refund(400)).allowed
        blocked = engine.check(refund(200))
        assert blocked.verdict is Verdict.BLOCK and blocked.hits[0].source == "limits"
        assert blocked.hits[0].severity is Severity.HIGH
        assert "400.00 of 500.00" in blocked.reason


def test_audit_mode_policy_records_without_blocking(tmp_path: object) -> None:
    with open_store(f"sqlite:///{tmp_path}/l.db") as store:
        engine = Engine(text="mode: audit\nrules: []\n")
        engine.add_step(Limits(store, [LimitRule(tools=["refund"], max_count=1)]), stage="guards")
        assert engine.check(refund(1)).allowed
        second = engine.check(refund(1))
        assert second.allowed and second.would_verdict is Verdict.BLOCK


def test_purge_drops_only_ended_windows(tmp_path: object) -> None:
    with open_store(f"sqlite:///{tmp_path}/l.db") as store:
        limits = Limits(store, [LimitRule(tools=["refund"], window_s=60, max_count=1)])
        assert limits.check(refund(1)).ok
        assert purge_expired(store) == 0
        assert purge_expired(store, now=10**12) == 1
        assert limits.check(refund(1)).ok  # the window's row is gone
