"""Blast-radius limits: how many calls, and how much of an argument summed, per tenant/user/agent/
session/run within a window ("refunds <= 500 per hour per tenant", "<= 20 emails per run").

    limits = Limits(store, [
        LimitRule(tools=["refund"], key="tenant", window_s=3600, max_sum=500, sum_of="amount"),
        LimitRule(tools=["send_email"], key="run", window_s=None, max_count=20),
    ])
    engine.add_step(limits, stage="guards")

Windows are FIXED, aligned to the Unix epoch (an hourly window is 10:00-11:00 UTC, ...): one counter
row per window, so enforcement is a single atomic conditional upsert across processes and machines.
The price of fixed windows: right around a boundary up to twice the cap can pass within `window_s`
seconds (the end of one window, then the start of the next). `window_s=None` counts for as long as the
key lives (use it with key="run"). All the rules that apply to a call are checked and counted in one
transaction: either the call counts against every rule, or (refused) against none.

As an engine step a limit is read while the call is evaluated and counted only when the engine
admits the call to run (after any approval): a refused call, a call waiting for a human and an
`explain` count nothing. A `sum_of` argument that is missing, not a number or negative gets the rule's verdict (fail closed).
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from railguard._pipeline import Charge
from railguard.errors import ConfigurationError
from railguard.model import Action, Mode, RuleHit, Severity, Verdict
from railguard.state._counters import (
    UNITS_PER_AMOUNT,
    Caps,
    CounterState,
    adjust,
    bounded_key,
    context_value,
    counter_transaction,
    ensure_tables,
    fits,
    hit_mode,
    read_counter,
    to_units,
    try_add,
)
from railguard.store import Store

if TYPE_CHECKING:
    from railguard.engine import Facts

KEYS = ("tenant", "user", "agent", "session", "run")
_LIFETIME_S = 7 * 86_400  # a window-less counter (per run) is purgeable a week after first use
_TOOL_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class LimitRule:
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
            raise ConfigurationError("a limit needs at least one tool name or glob in 'tools'")
        if self.key not in KEYS:
            raise ConfigurationError(f"limit key {self.key!r} is unknown; use one of {', '.join(KEYS)}")
        if self.max_count is None and self.max_sum is None:
            raise ConfigurationError("a limit needs max_count, max_sum or both")
        if self.max_sum is not None and not self.sum_of:
            raise ConfigurationError("max_sum needs sum_of: the argument whose values are summed")
        if self.window_s is not None and not self.window_s > 0:
            raise ConfigurationError(f"window_s must be > 0 seconds (or None), got {self.window_s!r}")
        verdict = Verdict(self.verdict)
        if verdict not in (Verdict.BLOCK, Verdict.ASK):
            raise ConfigurationError("a limit's verdict must be 'block' or 'ask'")
        object.__setattr__(self, "tools", tuple(self.tools))
        object.__setattr__(self, "verdict", verdict)
        object.__setattr__(self, "name", self.name or f"limit/{'+'.join(self.tools)}/{self.key}")

    def matches(self, tool: str) -> bool:
        return any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.tools)

    def window(self, now: float) -> tuple[str, float]:
        """(window id, window end) for fixed windows aligned to the epoch."""
        if self.window_s is None:
            return "all", now + _LIFETIME_S
        start = math.floor(now / self.window_s) * self.window_s
        return f"{start:.0f}", start + self.window_s

    def period(self) -> str:
        if self.window_s is None:
            return f"per {self.key}"
        named = {60: "minute", 3600: "hour", 86_400: "day"}.get(int(self.window_s))
        return f"per {named}" if named else f"per {self.window_s:g} s"


@dataclass(frozen=True, slots=True)
class LimitOutcome:
    ok: bool
    verdict: Verdict
    hits: tuple[RuleHit, ...]

    @property
    def reason(self) -> str:
        return "; ".join(h.message for h in self.hits) or "within limits"


class _Refused(Exception):
    """Raised inside the transaction so the rules already counted are rolled back."""


class Limits:
    """Limit rules over a store; also an engine step (`engine.add_step(limits, stage="guards")`)."""

    def __init__(self, store: Store, rules: Sequence[LimitRule]) -> None:
        ensure_tables(store)
        self.store = store
        self.rules = tuple(rules)
        self._by_tool: dict[str, tuple[LimitRule, ...]] = {}

    def rules_for(self, tool: str) -> tuple[LimitRule, ...]:
        found = self._by_tool.get(tool)
        if found is None:
            found = tuple(rule for rule in self.rules if rule.matches(tool))
            if len(self._by_tool) < _TOOL_CACHE_MAX:
                self._by_tool[tool] = found
        return found

    def _plan(self, action: Action, mode: Mode, now: float) -> tuple[list[_Planned], list[RuleHit]]:
        """The counters this call counts against, and the rules it cannot be counted for (bad sum)."""
        planned: list[_Planned] = []
        bad: list[RuleHit] = []
        for rule in self.rules_for(action.tool):
            who = context_value(action.context, rule.key)
            if who is None:
                continue  # the call has no such identity: the rule cannot apply
            amount, problem = _amount(rule, action.args)
            if problem:
                bad.append(
                    RuleHit(rule.name, Verdict(rule.verdict), problem, Severity.MEDIUM, mode, "limits")
                )
                continue
            window, ends = rule.window(now)
            planned.append(_Planned(rule, bounded_key("limit", rule.name, who, window), amount, who, ends))
        return planned, bad

    def check(self, action: Action, mode: Mode = Mode.ENFORCE) -> LimitOutcome:
        """Count the call against every applicable rule if all of them still allow it, atomically."""
        return self._count(action, mode)[0]

    def preview(self, action: Action, mode: Mode = Mode.ENFORCE) -> LimitOutcome:
        """What `check` would answer now, counting nothing."""
        now = time.time()
        planned, bad = self._plan(action, mode, now)
        if bad:
            return _refusal(bad)
        if not planned:
            return LimitOutcome(True, Verdict.ALLOW, ())
        refused: list[RuleHit] = []
        with self.store.read_connection() as conn:
            for p in planned:
                state = read_counter(conn, p.key)
                if not fits(state, p.caps, 1, p.amount):
                    refused.append(p.refusal(state, mode, now))
        return _refusal(refused) if refused else LimitOutcome(True, Verdict.ALLOW, ())

    def _count(self, action: Action, mode: Mode) -> tuple[LimitOutcome, list[_Planned]]:
        now = time.time()
        planned, bad = self._plan(action, mode, now)
        if bad:
            return _refusal(bad), []
        if not planned:
            return LimitOutcome(True, Verdict.ALLOW, ()), []
        refused: list[RuleHit] = []
        try:
            with counter_transaction(self.store) as conn:
                for p in planned:
                    added, state = try_add(conn, p.key, p.caps, calls=1, total=p.amount, expires_at=p.ends)
                    if not added:
                        refused.append(p.refusal(state, mode, now))
                if refused:
                    raise _Refused
        except _Refused:
            return _refusal(refused), []
        return LimitOutcome(True, Verdict.ALLOW, ()), planned

    def _uncount(self, planned: list[_Planned]) -> None:
        with counter_transaction(self.store) as conn:
            for p in planned:
                adjust(conn, p.key, calls=-1, total=-p.amount)

    def __call__(self, action: Action, facts: Facts) -> tuple[RuleHit, ...]:
        """The engine step: read now, count when the engine admits the call."""
        if facts.provisional is Verdict.BLOCK or facts.charged or not self.rules_for(action.tool):
            return ()  # a blocked call does not count against the limits; a retry counted already
        mode = hit_mode(facts)
        outcome = self.preview(action, mode)
        if outcome.ok:
            counted: list[_Planned] = []

            def take() -> tuple[RuleHit, ...]:
                result, planned = self._count(action, mode)
                counted.extend(planned)
                return result.hits

            facts.on_admit(Charge("limits", take, lambda: self._uncount(counted)))
        return outcome.hits


@dataclass(frozen=True, slots=True)
class _Planned:
    rule: LimitRule
    key: str
    amount: int
    who: str
    ends: float

    @property
    def caps(self) -> Caps:
        rule = self.rule
        max_total = None if rule.max_sum is None else to_units(rule.max_sum, UNITS_PER_AMOUNT)
        return Caps(max_calls=rule.max_count, max_total=max_total)

    def refusal(self, state: CounterState, mode: Mode, now: float) -> RuleHit:
        message = _message(self.rule, self.who, state, self.amount, self.ends - now)
        return RuleHit(self.rule.name, Verdict(self.rule.verdict), message, Severity.HIGH, mode, "limits")


def _refusal(hits: list[RuleHit]) -> LimitOutcome:
    verdict = max((h.verdict for h in hits), key=lambda v: v.rank)
    return LimitOutcome(False, verdict, tuple(hits))


def _amount(rule: LimitRule, args: Mapping[str, Any]) -> tuple[int, str]:
    """(amount in micro-units, problem). Only the argument's name is ever quoted, never its value."""
    if rule.sum_of is None:
        return 0, ""
    value: Any = args
    for part in rule.sum_of.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return 0, (
            f"{rule.name}: argument '{rule.sum_of}' must be a number >= 0 to be counted against "
            f"the limit; the call is refused until it is"
        )
    return to_units(float(value), UNITS_PER_AMOUNT), ""


def _message(rule: LimitRule, who: str, state: CounterState, amount: int, resets_in: float) -> str:
    resets = "" if rule.window_s is None else f", the window resets in {_duration(resets_in)}"
    head = f"{rule.name} {rule.period()} ({rule.key} {who})"
    if rule.max_count is not None and state.calls + 1 > rule.max_count:
        return f"{head}: {state.calls} of {rule.max_count} calls used{resets}"
    cap = to_units(rule.max_sum or 0, UNITS_PER_AMOUNT)
    return (
        f"{head}: {_money(state.total)} of {_money(cap)} '{rule.sum_of}' used, this call adds "
        f"{_money(amount)}{resets}"
    )


def _money(units: int) -> str:
    return f"{units / UNITS_PER_AMOUNT:,.2f}"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
