"""What the stateful guards are configured with (budgets, limits, loop caps), defined once.

The policy loader derives the `budgets:`, `limits:` and `loops:` schema from these fields and checks
an entry by building it (policy/_cushions.py); `railguard.state` extends each with its behaviour
(`BudgetRule(BudgetSpec)`, ...). Here, not in `state`, because dependencies point one way: state
imports policy, never the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from railguard.errors import ConfigurationError
from railguard.model import Verdict

# Budget scope -> the context field it counts per (days are UTC).
BUDGET_SCOPES = {
    "run": "run",
    "agent": "agent",
    "agent_day": "agent",
    "tenant": "tenant",
    "tenant_day": "tenant",
}
BUDGET_METRICS = ("tokens", "cost", "steps")
LIMIT_KEYS = ("tenant", "user", "agent", "session", "run")
GUARD_VERDICTS = (Verdict.BLOCK, Verdict.ASK)


def _one_of(value: object, choices: Sequence[str], what: str, field: str = "") -> None:
    if value not in choices:
        where = f" in '{field}'" if field else ""
        raise ConfigurationError(f"invalid {what} {value!r}{where}; use one of: {', '.join(choices)}")


def _guard_verdict(value: Verdict | str, field: str = "") -> Verdict:
    _one_of(value, GUARD_VERDICTS, "verdict", field)
    return Verdict(value)


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """`scope`: run | agent | agent_day | tenant | tenant_day (days are UTC). `metric`: tokens | cost
    (USD) | steps. `warn_at`: fraction of the limit from which an allowed call carries a low-severity
    warning hit (None: never). A rule whose scope is unknown for a call (no run id...) does not apply."""

    scope: str
    metric: str
    limit: float
    warn_at: float | None = 0.8
    verdict: Verdict | str = Verdict.BLOCK
    name: str = ""

    def __post_init__(self) -> None:
        _one_of(self.scope, tuple(BUDGET_SCOPES), "scope")
        _one_of(self.metric, BUDGET_METRICS, "metric")
        if not self.limit >= 0:
            raise ConfigurationError(f"budget limit must be a number >= 0, got {self.limit!r}")
        if self.warn_at is not None and not 0 < self.warn_at <= 1:
            raise ConfigurationError(f"warn_at must be in (0, 1], got {self.warn_at!r}")
        object.__setattr__(self, "verdict", _guard_verdict(self.verdict))
        object.__setattr__(self, "name", self.name or f"budget/{self.scope}/{self.metric}")


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """`tools`: names or globs. `key`: what the count is per. `max_count` and/or `max_sum` (of the
    numeric argument `sum_of`, a dotted path for nested objects) cap the window's total."""

    tools: Sequence[str]
    key: str = "tenant"
    window_s: float | None = 3600
    max_count: int | None = None
    max_sum: float | None = None
    sum_of: str | None = None
    verdict: Verdict | str = Verdict.BLOCK
    name: str = ""

    def __post_init__(self) -> None:
        if not self.tools:
            raise ConfigurationError("a limit needs 'tools': at least one tool name or glob")
        _one_of(self.key, LIMIT_KEYS, "key")
        if self.max_count is None and self.max_sum is None:
            raise ConfigurationError("a limit needs max_count, max_sum or both")
        if self.max_sum is not None and not self.sum_of:
            raise ConfigurationError("'max_sum' needs 'sum_of': the argument whose values are summed")
        if self.window_s is not None and not self.window_s > 0:
            raise ConfigurationError(f"window_s must be > 0 seconds (or None), got {self.window_s!r}")
        object.__setattr__(self, "tools", tuple(self.tools))
        object.__setattr__(self, "verdict", _guard_verdict(self.verdict))
        object.__setattr__(self, "name", self.name or f"limit/{'+'.join(self.tools)}/{self.key}")


@dataclass(frozen=True, slots=True)
class LoopSpec:
    """Caps (None switches a detection off) and the verdict each detection gives."""

    max_repeats: int | None = 5
    cycle_periods: tuple[int, ...] = (2, 3, 4)
    cycle_repeats: int | None = 3
    max_same_errors: int | None = 3
    repeat_verdict: Verdict | str = Verdict.BLOCK
    cycle_verdict: Verdict | str = Verdict.BLOCK
    error_verdict: Verdict | str = Verdict.BLOCK
    normalize_strings: bool = False

    def __post_init__(self) -> None:
        for name in ("max_repeats", "cycle_repeats", "max_same_errors"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigurationError(f"loop rule {name} must be >= 1 (or None to switch it off)")
        object.__setattr__(self, "cycle_periods", tuple(self.cycle_periods))
        if any(p < 2 for p in self.cycle_periods):
            raise ConfigurationError("cycle periods must be >= 2 (period 1 is a repeat: use max_repeats)")
        for name in ("repeat_verdict", "cycle_verdict", "error_verdict"):
            object.__setattr__(self, name, _guard_verdict(getattr(self, name), name))
