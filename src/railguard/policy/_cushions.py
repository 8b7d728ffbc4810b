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

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from railguard.errors import ConfigurationError
from railguard.policy._guard_rules import BudgetSpec, LimitSpec, LoopSpec
from railguard.policy._yaml import LineDict, line_of

# YAML type of a field, read off its annotation (the first match wins: `float | None` is a number).
_YAML_TYPES = (
    ("tuple", list),
    ("Sequence", list),
    ("bool", bool),
    ("float", float),
    ("int", int),
    ("str", str),
)


def _schema(spec: type, **extra: type) -> dict[str, type]:
    """The keys a section entry may have, with their YAML types: the spec's fields (plus `extra`)."""
    fields = {
        f.name: next(t for word, t in _YAML_TYPES if word in str(f.type)) for f in dataclasses.fields(spec)
    }
    return fields | extra


def _required(spec: type) -> list[str]:
    missing = dataclasses.MISSING
    return [f.name for f in dataclasses.fields(spec) if f.default is missing and f.default_factory is missing]


def loop_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """`loops:` as LoopSpec arguments: `verdict` is the verdict of every loop kind that sets none."""
    values = dict(values)
    verdict = values.pop("verdict", None)
    if verdict is not None:
        for key in ("repeat_verdict", "cycle_verdict", "error_verdict"):
            values.setdefault(key, verdict)
    return values


_BUDGET_FIELDS = _schema(BudgetSpec)
_LIMIT_FIELDS = _schema(LimitSpec)
_LOOP_FIELDS = _schema(LoopSpec, verdict=str)


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
        _entry(item, _BUDGET_FIELDS, "budgets", file, fail, _checked_by(BudgetSpec, "a budget"))
        for item in _list(data, "budgets", fail)
    )
    limits = tuple(
        _entry(item, _LIMIT_FIELDS, "limits", file, fail, _checked_by(LimitSpec, "a limit"))
        for item in _list(data, "limits", fail)
    )
    loops = None
    if data.get("loops") is not None:
        check = _checked_by(LoopSpec, "'loops'", loop_values)
        loops = _entry(data["loops"], _LOOP_FIELDS, "loops", file, fail, check, data.line_of("loops"))
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


def _checked_by(
    spec: type, what: str, arguments: Callable[[Mapping[str, Any]], Mapping[str, Any]] = dict
) -> Callable[[dict[str, Any], int | None, Any], None]:
    """A check that builds `spec` from the entry: the same checks the guards run, at load time."""
    required = _required(spec)

    def check(item: dict[str, Any], line: int | None, fail: Any) -> None:
        for key in required:
            if item.get(key) is None:
                fail(f"{what} needs '{key}'", line, key, "see docs/cushions.md")
        try:
            spec(**arguments(item))
        except ConfigurationError as err:
            fail(str(err), line, None, "see docs/cushions.md")

    return check
