"""The `budgets:`, `limits:` and `loops:` schema is the stateful guards' own fields, written once."""

from __future__ import annotations

import dataclasses

import pytest

import railguard as rg
from railguard.policy import _cushions
from railguard.state import BudgetRule, LimitRule, LoopRules


@pytest.mark.parametrize(
    ("schema", "rule", "extra"),
    [
        (_cushions._BUDGET_FIELDS, BudgetRule, set()),
        (_cushions._LIMIT_FIELDS, LimitRule, set()),
        (_cushions._LOOP_FIELDS, LoopRules, {"verdict"}),  # one verdict for every loop kind
    ],
)
def test_the_policy_accepts_exactly_the_guards_fields(
    schema: dict[str, type], rule: type, extra: set[str]
) -> None:
    assert set(schema) == {f.name for f in dataclasses.fields(rule)} | extra


def test_a_policy_entry_is_checked_by_the_guards_own_rules() -> None:
    # BudgetRule would refuse warn_at 2; the loader refuses it too, with the line.
    with pytest.raises(rg.PolicyError) as info:
        rg.load_policy(text="name: x\nbudgets:\n  - {scope: run, metric: steps, limit: 5, warn_at: 2}\n")
    assert "warn_at must be in (0, 1]" in str(info.value) and info.value.line == 3
    with pytest.raises(rg.ConfigurationError, match="warn_at must be in"):
        BudgetRule("run", "steps", 5, warn_at=2)
