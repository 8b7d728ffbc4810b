"""The `budgets:`, `limits:` and `loops:` sections of a policy file.

They configure the stateful guards (railguard.state), which need a store; the policy only checks
their shape, with file:line errors, and carries them. `railguard.state.install_cushions` turns them
into engine steps, following reloads.

    budgets:
      - {scope: tenant_day, metric: cost, limit: 5.00, warn_at: 0.8}
      - {scope: run, metric: steps, limit: 60, verdict: ask}
    limits:
      - {tools: [refund], key: tenant, window_s: 3600, max_sum: 500, sum_of: amount}
      - {tools: [send_email], key: run, window_s: null, max_count: 20}
    loops: {max_repeats: 5, cycle_repeats: 3, max_same_errors: 3, verdict: block}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from railguard.policy._yaml import LineDict, line_of

BUDGET_SCOPES = ("run", "agent", "agent_day", "tenant", "tenant_day")
BUDGET_METRICS = ("tokens", "cost", "steps")
LIMIT_KEYS = ("tenant", "user", "agent", "session", "run")
GUARD_VERDICTS = ("block", "ask")

_BUDGET_FIELDS = {"scope": str, "metric": str, "limit": float, "warn_at": float, "verdict": str, "name": str}
_LIMIT_FIELDS = {
    "tools": list, "key": str, "window_s": float, "max_count": int, "max_sum": float, "sum_of": str,
    "verdict": str, "name": str,
}  # fmt: skip
_LOOP_FIELDS = {
    "max_repeats": int, "cycle_periods": list, "cycle_repeats": int, "max_same_errors": int,
    "repeat_verdict": str, "cycle_verdict": str, "error_verdict": str, "verdict": str,
    "normalize_strings": bool,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """One entry of a section, as written, with where it was written."""

    values: Mapping[str, Any]
    file: str
    line: int | None


@dataclass(frozen=True, slots=True)
class CushionsSpec:
    budgets: tuple[GuardConfig, ...] = ()
    limits: tuple[GuardConfig, ...] = ()
    loops: GuardConfig | None = None

    def merged(self, later: CushionsSpec) -> CushionsSpec:
        """Included files' budgets and limits add up; the last `loops:` section wins."""
        return CushionsSpec(
            self.budgets + later.budgets, self.limits + later.limits, later.loops or self.loops
        )

    @property
    def empty(self) -> bool:
        return not self.budgets and not self.limits and self.loops is None


def parse_cushions(data: LineDict, file: str, fail: Any) -> CushionsSpec:
    """`fail(message, line, key, fix)` raises the loader's PolicyError."""
    budgets = tuple(
        _entry(item, _BUDGET_FIELDS, "budgets", file, fail, _check_budget)
        for item in _list(data, "budgets", fail)
    )
    limits = tuple(
        _entry(item, _LIMIT_FIELDS, "limits", file, fail, _check_limit)
        for item in _list(data, "limits", fail)
    )
    loops = None
    if data.get("loops") is not None:
        loops = _entry(data["loops"], _LOOP_FIELDS, "loops", file, fail, _check_loops, data.line_of("loops"))
    return CushionsSpec(budgets, limits, loops)


def _list(data: LineDict, key: str, fail: Any) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        fail(
            f"'{key}' must be a list of mappings",
            data.line_of(key),
            key,
            f"write e.g. '{key}:\\n  - {{...}}'",
        )
    return value


def _entry(
    item: Any,
    fields: Mapping[str, type],
    section: str,
    file: str,
    fail: Any,
    check: Any,
    line: int | None = None,
) -> GuardConfig:
    line = line_of(item, line)
    if not isinstance(item, Mapping):
        fail(f"each entry of '{section}' must be a mapping", line, section, None)
    for key, value in item.items():
        if key not in fields:
            fail(
                f"unknown key '{key}' in {section}",
                item.line_of(key) if isinstance(item, LineDict) else line,
                key,
                f"allowed keys: {', '.join(fields)}",
            )
        want = fields[key]
        ok = value is None or (
            isinstance(value, (int, float)) and not isinstance(value, bool)
            if want in (int, float)
            else isinstance(value, want)
        )
        if not ok:
            fail(f"'{section}.{key}' must be a {want.__name__}", line, key, None)
    check(dict(item), line, fail)
    return GuardConfig(dict(item), file, line)


def _one_of(value: Any, choices: tuple[str, ...], key: str, line: int | None, fail: Any) -> None:
    if value is not None and value not in choices:
        fail(f"invalid {key} {value!r}", line, key, f"use one of: {', '.join(choices)}")


def _check_budget(item: dict[str, Any], line: int | None, fail: Any) -> None:
    for required in ("scope", "metric", "limit"):
        if item.get(required) is None:
            fail(
                f"a budget needs '{required}'", line, required, "e.g. {scope: run, metric: steps, limit: 50}"
            )
    _one_of(item["scope"], BUDGET_SCOPES, "scope", line, fail)
    _one_of(item["metric"], BUDGET_METRICS, "metric", line, fail)
    _one_of(item.get("verdict"), GUARD_VERDICTS, "verdict", line, fail)


def _check_limit(item: dict[str, Any], line: int | None, fail: Any) -> None:
    if not item.get("tools"):
        fail("a limit needs 'tools' (names or globs)", line, "tools", None)
    if item.get("max_count") is None and item.get("max_sum") is None:
        fail("a limit needs 'max_count' and/or 'max_sum'", line, "max_count", None)
    if item.get("max_sum") is not None and not item.get("sum_of"):
        fail("'max_sum' needs 'sum_of': the argument whose values are summed", line, "sum_of", None)
    _one_of(item.get("key", "tenant"), LIMIT_KEYS, "key", line, fail)
    _one_of(item.get("verdict"), GUARD_VERDICTS, "verdict", line, fail)


def _check_loops(item: dict[str, Any], line: int | None, fail: Any) -> None:
    for key in ("repeat_verdict", "cycle_verdict", "error_verdict", "verdict"):
        _one_of(item.get(key), GUARD_VERDICTS, key, line, fail)
