"""Tool globs in `tools:` select the same tools as fnmatch (case-sensitive), whether matched by the
literal-parts matcher (`*` only) or a compiled pattern (`?`, `[...]`)."""

from __future__ import annotations

import fnmatch
import random

import railguard as rg
from railguard.policy._compile import _glob_matcher


def test_glob_matcher_agrees_with_fnmatchcase_on_random_patterns_and_names() -> None:
    rng = random.Random(11)
    checked = 0
    for _ in range(4000):
        pattern = "".join(rng.choice("ab_*?") for _ in range(rng.randint(1, 6)))
        if not any(ch in pattern for ch in "*?["):
            continue
        matches = _glob_matcher(pattern)
        for _ in range(8):
            name = "".join(rng.choice("ab_\n") for _ in range(rng.randint(0, 8)))
            assert matches(name) == fnmatch.fnmatchcase(name, pattern), (pattern, name)
            checked += 1
    assert checked > 10_000


def test_a_policy_selects_tools_by_glob() -> None:
    engine = rg.Engine(
        text="""
rules:
  - rule: no-mcp-delete
    tools: ["mcp__*__delete_*", "drop_[a-z]*"]
    verdict: block
    message: "no deletes"
""",
        warm=False,
    )
    assert engine.check(rg.Action("mcp__github__delete_repo", {})).verdict is rg.Verdict.BLOCK
    assert engine.check(rg.Action("drop_table", {})).verdict is rg.Verdict.BLOCK
    assert engine.check(rg.Action("mcp__github__list_repos", {})).verdict is rg.Verdict.ALLOW
    assert (
        engine.check(rg.Action("mcp__delete_", {})).verdict is rg.Verdict.ALLOW
    )  # the middle `__` is required
    assert engine.check(rg.Action("drop_Table", {})).verdict is rg.Verdict.ALLOW  # case-sensitive
    assert engine.check(rg.Action("drop_9", {})).verdict is rg.Verdict.ALLOW
