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

As an engine step a limit is read while the call is evaluated and counted only when the call is
admitted to run (after any approval), in the decision's one store transaction shared with the other
guards (`railguard.state._batch`): a refused call, a call waiting for a human and an `explain`
count nothing. A `sum_of` argument that is missing, not a number or negative gets the rule's verdict (fail closed).
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from railguard.model import Action, Mode, RuleHit, Severity, Verdict
from railguard.policy._guard_rules import LIMIT_KEYS, LimitSpec
from railguard.state._batch import Row, batch_for
from railguard.state._counters import (
    UNITS_PER_AMOUNT,
    Caps,
    CounterState,
    Part,
    added_state,
    adjust,
    bounded_key,
    charged_in_one_statement,
    context_value,
    counter_transaction,
    ensure_tables,
    fits,
    hit_mode,
    read_counters,
    run_parts,
    to_units,
    upsert_part,
)
from railguard.store import Store
from railguard.store._connect import DriverTx

if TYPE_CHECKING:
    from railguard.engine import Facts

KEYS = LIMIT_KEYS
_LIFETIME_S = 7 * 86_400  # a window-less counter (per run) is purgeable a week after first use
_TOOL_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class LimitRule(LimitSpec):
    """A limit (fields and checks: `railguard.policy._guard_rules.LimitSpec`) with its windows."""

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
        self._caps = {id(rule): _rule_caps(rule) for rule in self.rules}  # worked out once, not per check

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
            key = bounded_key("limit", rule.name, who, window)
            planned.append(_Planned(rule, key, amount, who, ends, self._caps[id(rule)]))
        return planned, bad

    def check(self, action: Action, mode: Mode = Mode.ENFORCE) -> LimitOutcome:
        """Count the call against every applicable rule if all of them still allow it, atomically."""
        planned, bad = self._plan(action, mode, time.time())
        if bad:
            return _refusal(bad)
        if not planned:
            return LimitOutcome(True, Verdict.ALLOW, ())
        claim = _LimitClaim(planned, mode)
        if (
            self.store.dialect == "postgresql"
            and charged_in_one_statement(self.store, claim.charge_parts("%s")) is not None
        ):
            return LimitOutcome(True, Verdict.ALLOW, ())  # every upsert applied: within every cap
        refused: list[RuleHit] = []
        try:
            with counter_transaction(self.store) as conn:
                refused = claim.charge(conn)
                if refused:
                    raise _Refused
        except _Refused:
            return _refusal(refused)
        return LimitOutcome(True, Verdict.ALLOW, ())

    def preview(self, action: Action, mode: Mode = Mode.ENFORCE) -> LimitOutcome:
        """What `check` would answer now, counting nothing."""
        planned, bad = self._plan(action, mode, time.time())
        if bad:
            return _refusal(bad)
        if not planned:
            return LimitOutcome(True, Verdict.ALLOW, ())
        claim = _LimitClaim(planned, mode)
        with self.store.driver_transaction(write=False) as conn:
            refused = claim.decide((), read_counters(conn, claim.counter_keys))
        return _refusal(refused) if refused else LimitOutcome(True, Verdict.ALLOW, ())

    def __call__(self, action: Action, facts: Facts) -> tuple[RuleHit, ...]:
        """The engine step: the call's counters are read, and counted when the engine admits the
        call, in the decision's one store transaction (`railguard.state._batch`)."""
        if facts.provisional is Verdict.BLOCK or facts.charged or not self.rules_for(action.tool):
            return ()  # a blocked call does not count against the limits; a retry counted already
        mode = hit_mode(facts)
        planned, bad = self._plan(action, mode, time.time())
        if bad:
            return tuple(bad)  # an uncountable amount is refused without asking the store
        if planned:
            batch_for(facts, self.store).add(_LimitClaim(planned, mode))
        return ()


class _LimitClaim:
    """A call's counters in the decision's transaction: read, checked, then counted."""

    name = "limits"
    __slots__ = ("counter_keys", "mode", "planned", "wants_charge")

    def __init__(self, planned: list[_Planned], mode: Mode) -> None:
        self.planned = planned
        self.mode = mode
        self.counter_keys = [p.key for p in planned]
        self.wants_charge = False

    def read_parts(self, mark: str, tag: str) -> list[tuple[str, tuple[Any, ...]]]:
        return []  # counters only

    def decide(self, rows: Sequence[Row], state: Mapping[str, CounterState]) -> list[RuleHit]:
        now = time.time()
        refused = [
            p.refusal(state[p.key], self.mode, now)
            for p in self.planned
            if not fits(state[p.key], p.caps, 1, p.amount)
        ]
        self.wants_charge = not refused
        return refused

    def recheck(self, conn: DriverTx) -> list[RuleHit]:
        return []  # the upserts check the caps again

    def charge_parts(self, mark: str) -> list[Part | None]:
        return [
            upsert_part(mark, p.key, p.caps, calls=1, total=p.amount, expires_at=p.ends) for p in self.planned
        ]

    def charged(self, conn: DriverTx, rows: Sequence[tuple[Any, ...] | None]) -> list[RuleHit]:
        refused: list[RuleHit] = []
        for p, row in zip(self.planned, rows, strict=True):
            added, state = added_state(conn, p.key, row)
            if not added:
                refused.append(p.refusal(state, self.mode, time.time()))
        return refused

    def charge(self, conn: DriverTx) -> list[RuleHit]:
        """Count the call now (the direct `check`)."""
        return self.charged(conn, run_parts(conn, self.charge_parts(conn.mark), combine=True))

    def undo(self, conn: DriverTx) -> None:
        for p in self.planned:
            adjust(conn, p.key, calls=-1, total=-p.amount)

    def committed(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Planned:
    rule: LimitRule
    key: str
    amount: int
    who: str
    ends: float
    caps: Caps

    def refusal(self, state: CounterState, mode: Mode, now: float) -> RuleHit:
        message = _message(self.rule, self.who, state, self.amount, self.ends - now)
        return RuleHit(self.rule.name, Verdict(self.rule.verdict), message, Severity.HIGH, mode, "limits")


def _rule_caps(rule: LimitRule) -> Caps:
    max_total = None if rule.max_sum is None else to_units(rule.max_sum, UNITS_PER_AMOUNT)
    return Caps(max_calls=rule.max_count, max_total=max_total)


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
