"""One call to put the cushions on an engine: kill switch, approvals, and the budgets, limits and
loop caps its policy configures (`budgets:`, `limits:`, `loops:`), all kept in the store. Model usage
reported with `engine.record_usage(tokens=..., cost=...)` is charged to the budgets.

    engine = rg.Engine.load("policy.yaml", watch=True)
    cushions = rg.install_cushions(engine, rg.open_store())     # or open_store("postgresql://...")

The policy-configured guards are rebuilt when the policy changes (a reload takes effect on the next
check); an invalid section fails the install with the file and line, like any policy error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from railguard.errors import ConfigurationError, PolicyError
from railguard.model import Action, Context
from railguard.policy import CompiledPolicy
from railguard.policy._cushions import loop_values
from railguard.state.approvals import ApprovalNotifier, Approvals, install_approvals
from railguard.state.budgets import BudgetRule, Budgets, Usage
from railguard.state.killswitch import KillSwitchStep, install_killswitch
from railguard.state.limits import LimitRule, Limits
from railguard.state.loops import LoopRules, Loops

if TYPE_CHECKING:
    from railguard.engine import Engine, Facts
    from railguard.policy._cushions import GuardConfig
    from railguard.store import Store

__all__ = ["Cushions", "PolicyGuards", "install_cushions", "install_policy_guards"]


def _built(config: GuardConfig, make: Callable[[Mapping[str, Any]], Any]) -> Any:
    try:
        return make(config.values)
    except (ConfigurationError, TypeError, ValueError) as err:
        raise PolicyError(str(err), file=config.file, line=config.line, fix="see docs/cushions.md") from None


def _loop_rules(values: Mapping[str, Any]) -> LoopRules:
    return LoopRules(**loop_values(values))


@dataclass(frozen=True, slots=True)
class _Guards:
    budgets: Budgets | None
    limits: Limits | None
    loops: Loops | None


class PolicyGuards:
    """The engine step (stage "guards") running the policy's budgets, limits and loop caps; follows
    policy reloads by rebuilding its guards for each new revision."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_revision: dict[str, _Guards] = {}
        self._lock = threading.Lock()

    def guards_for(self, policy: CompiledPolicy) -> _Guards:
        guards = self._by_revision.get(policy.revision)
        if guards is not None:
            return guards
        spec = policy.source.cushions
        budgets = [_built(c, lambda v: BudgetRule(**v)) for c in spec.budgets]
        limits = [_built(c, lambda v: LimitRule(**{**v, "tools": tuple(v["tools"])})) for c in spec.limits]
        loops = _built(spec.loops, _loop_rules) if spec.loops is not None else None
        guards = _Guards(
            Budgets(self.store, budgets) if budgets else None,
            Limits(self.store, limits) if limits else None,
            Loops(self.store, loops) if loops is not None else None,
        )
        with self._lock:
            if len(self._by_revision) > 16:  # old revisions after many reloads
                self._by_revision.clear()
            self._by_revision[policy.revision] = guards
        return guards

    def __call__(self, action: Action, facts: Facts) -> None:
        guards = self.guards_for(facts.policy)
        for guard in (guards.loops, guards.limits, guards.budgets):  # cheapest refusal first
            if guard is not None:
                # added as each guard runs: the next one sees the provisional verdict, and a call
                # already refused spends no budget
                facts.hits.extend(guard(action, facts))

    def needs_store(self, _action: Action, facts: Facts) -> bool:
        """Only a policy with budgets, limits or loop caps has anything to read in the store."""
        guards = self.guards_for(facts.policy)
        return guards.budgets is not None or guards.limits is not None or guards.loops is not None

    def record_usage(self, policy: CompiledPolicy, ctx: Context, tokens: int, cost: float) -> None:
        """Charge a model call's usage to the budgets of `policy` (the engine's usage observer)."""
        budgets = self.guards_for(policy).budgets
        if budgets is not None:
            budgets.record(ctx, Usage(tokens=tokens, cost=cost))

    def budgets(self, policy: CompiledPolicy) -> Budgets | None:
        """The budgets of `policy` (to `settle` actual token and cost usage after a call)."""
        return self.guards_for(policy).budgets


@dataclass
class Cushions:
    """What `install_cushions` put on the engine."""

    approvals: Approvals
    killswitch: KillSwitchStep
    guards: PolicyGuards

    def close(self) -> None:
        self.killswitch.close()


def install_cushions(
    engine: Engine,
    store: Store,
    *,
    wait: float = 0.0,
    notifier: ApprovalNotifier | None = None,
    killswitch_refresh_s: float = 0.5,
) -> Cushions:
    """Kill switch + approvals + the policy's budgets, limits and loop caps, on `store`."""
    PolicyGuards(store).guards_for(engine.policy)  # an invalid section fails first, with its file and line
    switch = install_killswitch(engine, store, refresh_s=killswitch_refresh_s)
    approvals = install_approvals(engine, store, wait=wait, notifier=notifier)
    return Cushions(approvals, switch, install_policy_guards(engine, store))


def install_policy_guards(engine: Engine, store: Store) -> PolicyGuards:
    """Only the policy's budgets, limits and loop caps (and usage reported with
    `engine.record_usage`), on `store`: what a replay needs, where nobody answers and nothing is
    switched off."""
    guards = PolicyGuards(store)
    guards.guards_for(engine.policy)  # an invalid section fails here, with its file and line
    engine.add_step(guards, stage="guards", name="policy-guards", needs_store=guards.needs_store)
    engine.observe_usage(lambda ctx, tokens, cost: guards.record_usage(engine.policy, ctx, tokens, cost))
    return guards
