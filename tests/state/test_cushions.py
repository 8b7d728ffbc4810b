"""Budgets, limits and loop caps configured in the policy file and installed in one call."""

from __future__ import annotations

from pathlib import Path

import pytest

import railguard as rg
from railguard.state.cushions import install_cushions
from railguard.store import open_store

POLICY = """
name: cushioned
budgets:
  - {scope: run, metric: steps, limit: 4, warn_at: 0.5}
limits:
  - {tools: [refund], key: tenant, window_s: 3600, max_sum: 500, sum_of: amount}
loops: {max_repeats: 2, verdict: ask}
rules:
  - {rule: no-deletes, tools: [delete_all], verdict: block}
"""


def test_policy_sections_drive_the_guards(store_url: str) -> None:
    store = open_store(store_url)
    engine = rg.Engine.from_yaml(POLICY)
    cushions = install_cushions(engine, store)
    try:
        with rg.run(tenant="acme", agent="a", session="s"):
            assert engine.check("refund", {"amount": 300}).verdict is rg.Verdict.ALLOW
            over = engine.check("refund", {"amount": 250})
            assert over.verdict is rg.Verdict.BLOCK and over.rules[-1].startswith("limit")
            assert engine.check("lookup", {"id": 1}).verdict is rg.Verdict.ALLOW
            assert engine.check("lookup", {"id": 1}).verdict is rg.Verdict.ALLOW
            looping = engine.check("lookup", {"id": 1})
            assert looping.verdict is rg.Verdict.ASK and "loop/repeat" in looping.rules
            # the steps budget (4 per run): refund 300 and lookup x2 ran; the refused refund and the
            # asked lookup did not, so they spent nothing: one step is left
            assert engine.check("other", {}).verdict is rg.Verdict.ALLOW
            spent = engine.check("other", {"n": 2})
            assert spent.verdict is rg.Verdict.BLOCK and "budget/run/steps" in spent.rules
            # a call the policy blocks spends nothing and is not counted by the guards
            assert engine.check("delete_all", {}).rules == ("no-deletes",)
    finally:
        cushions.close()
        store.close()


def test_reload_rebuilds_the_guards(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("loops: {max_repeats: 5}\n")
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    engine = rg.Engine.load(policy)
    cushions = install_cushions(engine, store)
    try:
        with rg.run(tenant="t"):
            for _ in range(3):
                assert engine.check("poll", {}).verdict is rg.Verdict.ALLOW
            policy.write_text("loops: {max_repeats: 2}\n")
            engine.reload()
            assert engine.check("poll", {}).verdict is rg.Verdict.BLOCK
    finally:
        cushions.close()
        store.close()


@pytest.mark.parametrize(
    ("section", "message", "line"),
    [
        ("budgets:\n  - {scope: runs, metric: steps, limit: 5}\n", "invalid scope 'runs'", 3),
        ("budgets:\n  - {scope: run, metric: steps}\n", "a budget needs 'limit'", 3),
        ("limits:\n  - {tools: [x], max_sum: 5}\n", "'max_sum' needs 'sum_of'", 3),
        ("limits:\n  - {tools: [x], max_count: 5, key: planet}\n", "invalid key 'planet'", 3),
        ("loops: {max_repeats: 2, verdict: maybe}\n", "invalid verdict 'maybe'", 2),
        ("loops: {max_repeat: 2}\n", "unknown key 'max_repeat'", 2),
    ],
)
def test_invalid_sections_fail_the_load_with_file_and_line(
    tmp_path: Path, section: str, message: str, line: int
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("name: x\n" + section)
    with pytest.raises(rg.PolicyError) as info:
        rg.load_policy(policy)
    assert message in str(info.value) and info.value.line == line and str(policy) in str(info.value)


def test_value_errors_surface_at_install_with_the_location(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    engine = rg.Engine.from_yaml("loops: {max_repeats: 0}\n")
    with pytest.raises(rg.PolicyError) as info:
        install_cushions(engine, store)
    assert "max_repeats must be >= 1" in str(info.value) and info.value.line == 1
    store.close()
