"""Budgets in tokens, cost (USD) and steps, per run, per agent, per tenant (optionally per UTC day).

    budgets = Budgets(store, [BudgetRule("tenant_day", "cost", limit=5.00, verdict="ask")])
    held = budgets.reserve(ctx, cost=0.12, tokens=1_200)     # before the model call, with an estimate
    if not held.ok: ...                                      # held.reason has the numbers
    held.commit(cost=0.09, tokens=950)                       # after it, with the actual usage
    held.release()                                           # or: the call did not happen

A reservation adds its estimate to the counter's `reserved` column in the same atomic statement that
checks `used + reserved + estimate <= limit`, so concurrent callers (threads, processes, machines)
cannot overshoot; only the difference between an estimate and the actual usage of calls already in
flight can. A reservation that is never settled (the process crashed) stays charged at its estimate.

As an engine step (stage "guards") the budgets are read while a call is evaluated, and the call
reserves `estimate(action)` (default: one step) only when the engine admits it to run (after any
approval), keeping the reservation until `budgets.settle(action, ...)`; calls that are never settled
stay charged at their estimate, which is exact for steps. A refused call, a call waiting for a human
and an `explain` spend nothing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from railguard._pipeline import Charge
from railguard.errors import ConfigurationError
from railguard.model import Action, Context, Mode, RuleHit, Severity, Verdict, current_context
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

SCOPES = {"run": "run", "agent": "agent", "agent_day": "agent", "tenant": "tenant", "tenant_day": "tenant"}
METRICS = {"tokens": 1, "cost": UNITS_PER_AMOUNT, "steps": 1}
_RETENTION_S = 7 * 86_400  # run and lifetime counters are purgeable a week after their first use
_PENDING_MAX = 10_000  # engine-step reservations awaiting settle(); the oldest stay charged


@dataclass(frozen=True, slots=True)
class Usage:
    tokens: int = 0
    cost: float = 0.0
    steps: int = 0

    def of(self, metric: str) -> float:
        return float(getattr(self, metric))


@dataclass(frozen=True, slots=True)
class BudgetRule:
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
        if self.scope not in SCOPES:
            raise ConfigurationError(
                f"budget scope {self.scope!r} is unknown; use one of {', '.join(SCOPES)}"
            )
        if self.metric not in METRICS:
            raise ConfigurationError(
                f"budget metric {self.metric!r} is unknown; use one of {', '.join(METRICS)}"
            )
        if not self.limit >= 0:
            raise ConfigurationError(f"budget limit must be a number >= 0, got {self.limit!r}")
        if self.warn_at is not None and not 0 < self.warn_at <= 1:
            raise ConfigurationError(f"warn_at must be in (0, 1], got {self.warn_at!r}")
        verdict = Verdict(self.verdict)
        if verdict not in (Verdict.BLOCK, Verdict.ASK):
            raise ConfigurationError("a budget's verdict must be 'block' or 'ask'")
        object.__setattr__(self, "verdict", verdict)
        object.__setattr__(self, "name", self.name or f"budget/{self.scope}/{self.metric}")

    @property
    def scale(self) -> int:
        return METRICS[self.metric]

    def key(self, ctx: Context, now: float) -> str | None:
        who = context_value(ctx, SCOPES[self.scope])
        if who is None:
            return None
        day = _utc_day(now) if self.scope.endswith("_day") else ""
        return bounded_key("budget", self.scope, self.metric, ctx.tenant or "", who, day)

    def expires_at(self, now: float) -> float:
        if self.scope.endswith("_day"):
            return (now // 86_400 + 1) * 86_400 + 86_400  # the day after it ends
        return now + _RETENTION_S

    def describe(self, ctx: Context) -> str:
        who = context_value(ctx, SCOPES[self.scope])
        today = " today" if self.scope.endswith("_day") else ""
        noun = {"tokens": "token", "cost": "cost", "steps": "step"}[self.metric]
        return f"{noun} budget for {SCOPES[self.scope]} {who}{today}"


def _utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def _amount(metric: str, units: float) -> str:
    if metric == "cost":
        return f"{units / UNITS_PER_AMOUNT:,.2f}"
    return f"{int(units):,}"


def _unit_name(metric: str) -> str:
    return {"tokens": "tokens", "cost": "USD", "steps": "steps"}[metric]


class Reservation:
    """The outcome of `Budgets.reserve`. When `ok`, the estimate is held until `commit` or `release`
    (each settles once; later calls are no-ops). When not `ok`, nothing was reserved."""

    def __init__(
        self,
        store: Store,
        ok: bool,
        verdict: Verdict,
        hits: tuple[RuleHit, ...],
        held: list[tuple[str, str, int]],
    ) -> None:
        self._store = store
        self.ok = ok
        self.verdict = verdict
        self.hits = hits
        self._held = held  # (counter key, metric, estimated units)
        self._lock = threading.Lock()
        self._settled = not held

    @property
    def reason(self) -> str:
        shown = [h.message for h in self.hits if h.verdict is self.verdict]
        return "; ".join(shown) or "within budget"

    def commit(
        self,
        usage: Usage | None = None,
        *,
        tokens: int | None = None,
        cost: float | None = None,
        steps: int | None = None,
    ) -> None:
        """Charge the actual usage (metrics not given are charged at their estimate)."""
        given = {"tokens": tokens, "cost": cost, "steps": steps}
        if usage is not None:
            given = {m: usage.of(m) for m in METRICS}
        moves = []
        for key, metric, estimate in self._held:
            value = given[metric]
            actual = estimate if value is None else to_units(float(value), METRICS[metric])
            moves.append((key, actual, -estimate))
        self._settle(moves)

    def release(self) -> None:
        """The call did not happen: give the estimate back."""
        self._settle([(key, 0, -estimate) for key, _, estimate in self._held])

    def _settle(self, moves: list[tuple[str, int, int]]) -> None:
        with self._lock:
            if self._settled:
                return
            with counter_transaction(self._store) as conn:
                for key, total, reserved in moves:
                    adjust(conn, key, total=total, reserved=reserved)
            self._settled = True


class _Refused(Exception):
    """Raised inside the reserve transaction to roll back the rules already reserved."""


class Budgets:
    """Budget rules over a store; also an engine step (`engine.add_step(budgets, stage="guards")`).
    `estimate(action)` is what the engine step reserves for a call (default: one step)."""

    def __init__(
        self, store: Store, rules: Sequence[BudgetRule], *, estimate: Callable[[Action], Usage] | None = None
    ) -> None:
        ensure_tables(store)
        self.store = store
        self.rules = tuple(rules)
        self.estimate = estimate or _one_step
        self._pending: OrderedDict[str, Reservation] = OrderedDict()
        self._pending_lock = threading.Lock()

    def reserve(
        self,
        ctx: Context | None = None,
        usage: Usage | None = None,
        *,
        tokens: int = 0,
        cost: float = 0.0,
        steps: int = 0,
        mode: Mode = Mode.ENFORCE,
    ) -> Reservation:
        """Hold an estimate against every applicable rule, all or nothing, in one transaction."""
        ctx = ctx or current_context()
        usage = usage or Usage(tokens=tokens, cost=cost, steps=steps)
        now = time.time()
        planned = [(rule, key) for rule in self.rules if (key := rule.key(ctx, now)) is not None]
        if not planned:
            return Reservation(self.store, True, Verdict.ALLOW, (), [])
        outcomes: list[tuple[BudgetRule, bool, CounterState, int]] = []
        try:
            with counter_transaction(self.store) as conn:
                for rule, key in planned:
                    need = to_units(usage.of(rule.metric), rule.scale)
                    caps = Caps(max_total=to_units(rule.limit, rule.scale), headroom=True)
                    added, state = try_add(conn, key, caps, reserved=need, expires_at=rule.expires_at(now))
                    outcomes.append((rule, added, state, need))
                if not all(added for _, added, _, _ in outcomes):
                    raise _Refused
        except _Refused:
            pass
        refused = [rule for rule, added, _, _ in outcomes if not added]
        shown = [o for o in outcomes if not o[1]] if refused else outcomes  # no warnings on a refusal
        hits = tuple(h for o in shown if (h := _hit(*o, ctx=ctx, mode=mode)) is not None)
        if refused:
            verdict = max((r.verdict for r in refused), key=lambda v: Verdict(v).rank)
            return Reservation(self.store, False, Verdict(verdict), hits, [])
        held = [
            (key, rule.metric, need) for (rule, key), (_, _, _, need) in zip(planned, outcomes, strict=True)
        ]
        return Reservation(self.store, True, Verdict.ALLOW, hits, held)

    def preview(
        self, ctx: Context | None = None, usage: Usage | None = None, *, mode: Mode = Mode.ENFORCE
    ) -> Reservation:
        """What `reserve` would answer now, reserving nothing (the result holds nothing to settle)."""
        ctx = ctx or current_context()
        usage = usage or Usage()
        now = time.time()
        planned = [(rule, key) for rule in self.rules if (key := rule.key(ctx, now)) is not None]
        if not planned:
            return Reservation(self.store, True, Verdict.ALLOW, (), [])
        outcomes: list[tuple[BudgetRule, bool, CounterState, int]] = []
        with self.store.read_connection() as conn:
            for rule, key in planned:
                need = to_units(usage.of(rule.metric), rule.scale)
                state = read_counter(conn, key)
                ok = fits(state, Caps(max_total=to_units(rule.limit, rule.scale), headroom=True), 0, need)
                after = CounterState(state.calls, state.total, state.reserved + need) if ok else state
                outcomes.append((rule, ok, after, need))
        refused = [rule for rule, ok, _, _ in outcomes if not ok]
        shown = [o for o in outcomes if not o[1]] if refused else outcomes
        hits = tuple(h for o in shown if (h := _hit(*o, ctx=ctx, mode=mode)) is not None)
        if refused:
            verdict = max((r.verdict for r in refused), key=lambda v: Verdict(v).rank)
            return Reservation(self.store, False, Verdict(verdict), hits, [])
        return Reservation(self.store, True, Verdict.ALLOW, hits, [])

    # -- engine step ---------------------------------------------------------------------------

    def __call__(self, action: Action, facts: Facts) -> tuple[RuleHit, ...]:
        """The engine step: read now, reserve when the engine admits the call."""
        if facts.provisional is Verdict.BLOCK or facts.charged:
            return ()  # a blocked call spends nothing (nor is the store read for it); a retry spent already
        mode, usage = hit_mode(facts), self.estimate(action)
        seen = self.preview(action.context, usage, mode=mode)
        if seen.ok and self.rules:
            facts.on_admit(
                Charge("budgets", lambda: self._hold(action, usage, mode), lambda: self.release(action))
            )
        return seen.hits

    def _hold(self, action: Action, usage: Usage, mode: Mode) -> tuple[RuleHit, ...]:
        held = self.reserve(action.context, usage, mode=mode)
        if not held.ok:
            return held.hits
        with self._pending_lock:
            self._pending[action.decision_id()] = held
            while len(self._pending) > _PENDING_MAX:
                self._pending.popitem(last=False)
        return ()

    def settle(self, action: Action, usage: Usage | None = None, **actual: float) -> bool:
        """Charge the actual usage of a call the engine step reserved for; False if none is pending."""
        with self._pending_lock:
            held = self._pending.pop(action.decision_id(), None)
        if held is None:
            return False
        held.commit(usage, **actual)  # type: ignore[arg-type]
        return True

    def release(self, action: Action) -> bool:
        """Give back the estimate of a call that did not run (e.g. a human denied it)."""
        with self._pending_lock:
            held = self._pending.pop(action.decision_id(), None)
        if held is not None:
            held.release()
        return held is not None


def _one_step(_action: Action) -> Usage:
    return Usage(steps=1)


def _hit(
    rule: BudgetRule, added: bool, state: CounterState, need: int, *, ctx: Context, mode: Mode
) -> RuleHit | None:
    limit = to_units(rule.limit, rule.scale)
    used = state.total + state.reserved - (need if added else 0)
    unit = _unit_name(rule.metric)
    numbers = f"{_amount(rule.metric, used)} of {_amount(rule.metric, limit)} {unit} used"
    if not added:
        message = f"{rule.describe(ctx)}: {numbers}, this call needs ~{_amount(rule.metric, need)}"
        severity = Severity.HIGH if rule.verdict is Verdict.BLOCK else Severity.MEDIUM
        return RuleHit(rule.name, Verdict(rule.verdict), message, severity, mode, "budgets")
    if rule.warn_at is not None and limit and used + need >= rule.warn_at * limit:
        share = round(100 * (used + need) / limit)
        message = (
            f"{rule.describe(ctx)} at {share}%: {numbers}, this call needs ~{_amount(rule.metric, need)}"
        )
        return RuleHit(rule.name + "/warn", Verdict.ALLOW, message, Severity.LOW, mode, "budgets")
    return None
