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
reserves `estimate(action)` (default: one step) only when it is admitted to run (after any
approval) — read and reserved in the decision's one store transaction (`railguard.state._batch`) —
keeping the reservation until `budgets.settle(action, ...)`; calls that are never settled
stay charged at their estimate, which is exact for steps. A refused call, a call waiting for a human
and an `explain` spend nothing.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from railguard.model import Action, Context, Mode, RuleHit, Severity, Verdict, current_context
from railguard.policy._guard_rules import BUDGET_METRICS, BUDGET_SCOPES, BudgetSpec
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

SCOPES = BUDGET_SCOPES
METRICS = {metric: UNITS_PER_AMOUNT if metric == "cost" else 1 for metric in BUDGET_METRICS}
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
class BudgetRule(BudgetSpec):
    """A budget (fields and checks: `railguard.policy._guard_rules.BudgetSpec`) with its counters."""

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

    def _planned(self, ctx: Context, usage: Usage, now: float) -> list[_Held]:
        """What `usage` takes from each rule that applies to `ctx` (counter key, units)."""
        return [
            _Held(rule, key, to_units(usage.of(rule.metric), rule.scale), rule.expires_at(now))
            for rule in self.rules
            if (key := rule.key(ctx, now)) is not None
        ]

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
        claim = _BudgetClaim(self, ctx, usage or Usage(tokens=tokens, cost=cost, steps=steps), mode)
        if not claim.planned:
            return Reservation(self.store, True, Verdict.ALLOW, (), [])
        rows = None
        if self.store.dialect == "postgresql":
            rows = charged_in_one_statement(self.store, claim.charge_parts("%s"))
        if rows is not None:  # every reservation applied (PostgreSQL): only warnings are left to tell
            claim.charged_rows(rows)
            return Reservation(self.store, True, Verdict.ALLOW, claim.warnings, claim.held)
        refused: list[RuleHit] = []
        try:
            with counter_transaction(self.store) as conn:
                refused = claim.charge(conn)
                if refused:
                    raise _Refused
        except _Refused:
            return Reservation(self.store, False, _strictest(refused), tuple(refused), [])
        return Reservation(self.store, True, Verdict.ALLOW, claim.warnings, claim.held)

    def record(
        self, ctx: Context | None = None, usage: Usage | None = None, *, tokens: int = 0, cost: float = 0.0
    ) -> None:
        """Charge usage that already happened (a model call reported after it ran), whatever the
        limits: a budget it uses up refuses the next call."""
        planned = [
            h
            for h in self._planned(
                ctx or current_context(), usage or Usage(tokens=tokens, cost=cost), time.time()
            )
            if h.need
        ]
        if not planned:
            return
        with counter_transaction(self.store) as conn:
            for h in planned:  # one at a time: two rules may share a counter
                part = upsert_part(conn.mark, h.key, Caps(), total=h.need, expires_at=h.expires_at)
                run_parts(conn, [part], combine=False)

    def preview(
        self, ctx: Context | None = None, usage: Usage | None = None, *, mode: Mode = Mode.ENFORCE
    ) -> Reservation:
        """What `reserve` would answer now, reserving nothing (the result holds nothing to settle)."""
        claim = _BudgetClaim(self, ctx or current_context(), usage or Usage(), mode)
        if not claim.planned:
            return Reservation(self.store, True, Verdict.ALLOW, (), [])
        with self.store.driver_transaction(write=False) as conn:
            hits = claim.decide((), read_counters(conn, claim.counter_keys))
        if not claim.wants_charge:
            return Reservation(self.store, False, _strictest(hits), tuple(hits), [])
        return Reservation(self.store, True, Verdict.ALLOW, tuple(hits), [])

    # -- engine step ---------------------------------------------------------------------------

    def __call__(self, action: Action, facts: Facts) -> tuple[RuleHit, ...]:
        """The engine step: the budgets are read, and the call's estimate reserved when the engine
        admits it, in the decision's one store transaction (`railguard.state._batch`)."""
        if facts.provisional is Verdict.BLOCK or facts.charged:
            return ()  # a blocked call spends nothing (nor is the store read for it); a retry spent already
        claim = _BudgetClaim(self, action.context, self.estimate(action), hit_mode(facts), action)
        claim.decision_id = facts.decision_id or action.decision_id()  # the engine's, hashed once
        if claim.planned:
            batch_for(facts, self.store).add(claim)
        return ()

    def _pend(self, decision_id: str, held: Reservation) -> None:
        with self._pending_lock:
            self._pending[decision_id] = held
            while len(self._pending) > _PENDING_MAX:
                self._pending.popitem(last=False)

    def _unpend(self, decision_id: str) -> None:
        with self._pending_lock:
            self._pending.pop(decision_id, None)

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


def usage_from(data: Mapping[str, Any]) -> Usage:
    """`{"tokens": N, "cost": USD}` as reported from outside (a transcript, the guard API); a
    `ValueError` saying what is wrong otherwise."""
    tokens, cost = data.get("tokens", 0), data.get("cost", 0.0)
    if type(tokens) is not int or tokens < 0:
        raise ValueError("'tokens' of a usage report must be a whole number >= 0")
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not cost >= 0:
        raise ValueError("'cost' of a usage report must be a number of USD >= 0")
    return Usage(tokens=tokens, cost=float(cost))


def _one_step(_action: Action) -> Usage:
    return Usage(steps=1)


def _strictest(hits: Sequence[RuleHit]) -> Verdict:
    return max((h.verdict for h in hits), key=lambda v: v.rank, default=Verdict.BLOCK)


@dataclass(frozen=True, slots=True)
class _Held:
    rule: BudgetRule
    key: str
    need: int  # units this call takes
    expires_at: float

    @property
    def caps(self) -> Caps:
        return _caps(self.rule)


class _BudgetClaim:
    """A call's estimate against every applicable rule, in one transaction: read, checked, then
    reserved. Refused, it shows only the refusing rules; allowed, the warnings."""

    name = "budgets"
    __slots__ = (
        "action",
        "budgets",
        "counter_keys",
        "ctx",
        "decision_id",
        "mode",
        "planned",
        "wants_charge",
        "warnings",
    )

    def __init__(
        self, budgets: Budgets, ctx: Context, usage: Usage, mode: Mode, action: Action | None = None
    ) -> None:
        self.budgets = budgets
        self.ctx = ctx
        self.mode = mode
        self.action = action  # the engine step's call, whose reservation `settle` finds by decision id
        self.decision_id = ""
        self.planned = budgets._planned(ctx, usage, time.time())
        self.counter_keys = [held.key for held in self.planned]
        self.wants_charge = False
        self.warnings: tuple[RuleHit, ...] = ()

    @property
    def held(self) -> list[tuple[str, str, int]]:
        return [(h.key, h.rule.metric, h.need) for h in self.planned]

    def read_parts(self, mark: str, tag: str) -> list[tuple[str, tuple[Any, ...]]]:
        return []  # counters only

    def decide(self, rows: Sequence[Row], state: Mapping[str, CounterState]) -> list[RuleHit]:
        outcomes = []
        for h in self.planned:
            now = state[h.key]
            ok = fits(now, h.caps, 0, h.need)
            after = CounterState(now.calls, now.total, now.reserved + h.need) if ok else now
            outcomes.append((h.rule, ok, after, h.need))
        self.wants_charge = all(ok for _, ok, _, _ in outcomes)
        shown = outcomes if self.wants_charge else [o for o in outcomes if not o[1]]
        return [hit for o in shown if (hit := _hit(*o, ctx=self.ctx, mode=self.mode)) is not None]

    def recheck(self, conn: DriverTx) -> list[RuleHit]:
        return []  # the upserts check the caps again

    def charge_parts(self, mark: str) -> list[Part | None]:
        return [
            upsert_part(mark, h.key, h.caps, reserved=h.need, expires_at=h.expires_at) for h in self.planned
        ]

    def charged_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Every reservation applied, with these rows (the counters after it): keep the warnings."""
        outcomes = [
            (h.rule, True, CounterState(int(row[0]), int(row[1]), int(row[2])), h.need)
            for h, row in zip(self.planned, rows, strict=True)
        ]
        self.warnings = tuple(
            hit for o in outcomes if (hit := _hit(*o, ctx=self.ctx, mode=self.mode)) is not None
        )

    def charged(self, conn: DriverTx, rows: Sequence[tuple[Any, ...] | None]) -> list[RuleHit]:
        outcomes = []
        for h, row in zip(self.planned, rows, strict=True):
            added, state = added_state(conn, h.key, row)
            outcomes.append((h.rule, added, state, h.need))
        refused = [o for o in outcomes if not o[1]]
        shown = refused or outcomes  # no warnings on a refusal
        hits = [hit for o in shown if (hit := _hit(*o, ctx=self.ctx, mode=self.mode)) is not None]
        if refused:
            return hits
        self.warnings = tuple(hits)
        return []

    def charge(self, conn: DriverTx) -> list[RuleHit]:
        """Reserve now (the direct `reserve`)."""
        return self.charged(conn, run_parts(conn, self.charge_parts(conn.mark), combine=True))

    def undo(self, conn: DriverTx) -> None:
        if self.action is not None:
            self.budgets._unpend(self.decision_id or self.action.decision_id())
        for h in self.planned:
            adjust(conn, h.key, reserved=-h.need)

    def committed(self) -> None:
        if self.action is not None:
            self.budgets._pend(
                self.decision_id or self.action.decision_id(),
                Reservation(self.budgets.store, True, Verdict.ALLOW, (), self.held),
            )


def _hit(
    rule: BudgetRule, added: bool, state: CounterState, need: int, *, ctx: Context, mode: Mode
) -> RuleHit | None:
    limit = _limit_units(rule)
    used = state.total + state.reserved - (need if added else 0)
    if added and (rule.warn_at is None or not limit or used + need < rule.warn_at * limit):
        return None  # most calls: no hit, so no message to write
    numbers = f"{_amount(rule.metric, used)} of {_amount(rule.metric, limit)} {_unit_name(rule.metric)} used"
    if not added:
        message = f"{rule.describe(ctx)}: {numbers}, this call needs ~{_amount(rule.metric, need)}"
        severity = Severity.HIGH if rule.verdict is Verdict.BLOCK else Severity.MEDIUM
        return RuleHit(rule.name, Verdict(rule.verdict), message, severity, mode, "budgets")
    share = round(100 * (used + need) / limit)
    message = f"{rule.describe(ctx)} at {share}%: {numbers}, this call needs ~{_amount(rule.metric, need)}"
    return RuleHit(rule.name + "/warn", Verdict.ALLOW, message, Severity.LOW, mode, "budgets")


@functools.lru_cache(maxsize=1024)
def _limit_units(rule: BudgetRule) -> int:
    return to_units(rule.limit, rule.scale)


@functools.lru_cache(maxsize=1024)
def _caps(rule: BudgetRule) -> Caps:
    """A rule's caps (rules are frozen: worked out once, not on every check)."""
    return Caps(max_total=_limit_units(rule), headroom=True)
