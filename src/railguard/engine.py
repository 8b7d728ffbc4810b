"""`Engine.check` / `Engine.admit` (action) -> Decision: the decision pipeline and the one admission path.

A chain of steps of one signature, `(action, facts) -> hits` (`railguard._pipeline`): kill switch ->
tool contract -> policy rules (a step owned by `railguard.policy`) -> stateful guards -> approval
lookup. A step ends the chain only by returning or raising `Stop`. The strictest verdict wins (block >
ask > modify > allow); the assembly of the decision is a pure function (`railguard._decisions`).
Detector facts are computed lazily, once per action. A CPU-time deadline bounds the evaluation; on
an error or a timeout the decision is the policy's `on_error` and its reason says so.

`admit` is the only place that decides whether a call may run: the pipeline, then (for an `ask`)
the approval handler and a re-check under the approval, then the charges of the stateful guards —
taken once, only for a call admitted to run. Every integration calls it and only chooses between
raising and returning. `check` is `admit` without the approval handler; `explain` is a dry run that
changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from railguard._decisions import DENIAL_RULES, assemble, enforced_verdict, outside_decision
from railguard._digest import blake2b
from railguard._internal import internal_error
from railguard._limits import admissible
from railguard._pipeline import (
    DEADLINE_STAGES,
    STAGES,
    STORE_STAGES,
    SYSTEM_CLOCK,
    Charge,
    Clock,
    Deadline,
    DeadlineExceeded,
    Facts,
    RuleTrace,
    Step,
    StepResult,
    Stop,
    add_result,
    argument_problem,
)
from railguard._policy_watch import PolicyWatcher
from railguard.detect.facts import warm_facts
from railguard.errors import ApprovalDenied, ConfigurationError, ContractViolation, GuardError, RailguardError
from railguard.model import (
    Action,
    Context,
    Decision,
    Effect,
    Mode,
    RuleHit,
    Severity,
    ToolSpec,
    Trust,
    Verdict,
    current_context,
)
from railguard.policy import CompiledPolicy, Contract, compile_contract, load_policy, load_source
from railguard.policy._evaluate import cel_context, cel_error, evaluate_rules
from railguard.policy._memo import pure_facts

__all__ = [
    "STAGES",
    "ApprovalHandler",
    "Charge",
    "Clock",
    "DeadlineExceeded",
    "Engine",
    "EngineStats",
    "Explanation",
    "Facts",
    "RuleTrace",
    "Step",
    "StepResult",
    "Stop",
]

P = ParamSpec("P")
R = TypeVar("R")
_ADMITTED_MAX = 10_000  # call ids already charged, remembered so a retry is not charged again
StoreProbe = Callable[[Action, "Facts"], bool]  # will this step wait on the store for this call?


class ApprovalHandler(Protocol):
    """Asks a human about a call that got `ask` (the approvals module implements it). Returns an
    allowing decision once a human approved it (its `approval_id` names the approval); raises a
    `GuardError` (pending, denied) or returns any other decision to refuse. The engine then checks
    the call again under the approval: the handler never decides alone that a call runs."""

    def request(self, action: Action, decision: Decision) -> Decision: ...

    async def arequest(self, action: Action, decision: Decision) -> Decision: ...


Sink = Callable[[Decision, Action], None]
# Called with (action, output, tool spec) for each tool output `check_output` lets through.
OutputObserver = Callable[[Action, Any, ToolSpec | None], None]
# Called with (text, context, speaker) for the user's and the system's words ("user" or "system").
InputObserver = Callable[[Any, Context, str], None]
# Called with (context, tokens, cost in USD) for each model call's usage `record_usage` reports.
UsageObserver = Callable[[Context, int, float], None]


@dataclass(frozen=True, slots=True)
class Explanation:
    decision: Decision
    rules: tuple[RuleTrace, ...]
    facts: Mapping[str, Any]
    candidate_rules: int
    total_rules: int


@dataclass
class EngineStats:
    checks: int = 0
    errors: int = 0
    sink_errors: int = 0
    reloads: int = 0
    reload_errors: int = 0
    last_reload_error: str | None = None
    by_verdict: dict[str, int] = field(default_factory=dict)


class Engine:
    """The synchronous guard. Thread-safe; one per process is typical.

    >>> engine = Engine.load("policy.yaml")            # or Engine(packs=["coding-agent"])
    >>> decision = engine.check(Action("send_money", {"to": "DE89...", "amount": 120}))
    """

    def __init__(
        self,
        policy: CompiledPolicy | str | Path | Sequence[str | Path] | None = None,
        *,
        packs: list[str] | None = None,
        text: str | None = None,
        mode: Mode | str | None = None,
        warm: bool = True,
        clock: Clock | None = None,
    ) -> None:
        """`warm=True` loads every detector the policy reads now (a server pays once, at start);
        `warm=False` loads each on the first check that needs it (a short-lived hook process loads
        only what its one call needs). Either way loading happens outside the deadline.
        `mode` replaces the policy file's `mode:`; `clock` is what the deadline reads (tests)."""
        self._paths: list[str] = []
        self._packs = list(packs or [])
        self._text = text
        if isinstance(policy, CompiledPolicy):
            compiled = policy
        else:
            if isinstance(policy, str | Path):
                self._paths = [str(policy)]
            elif policy is not None:
                self._paths = [str(p) for p in policy]
            if not self._paths and not self._packs and text is None:
                self._packs = ["default"]
            compiled = load_policy(self._paths, packs=self._packs, text=text)
        self._warm = warm
        if warm:
            warm_up(compiled)
        self._policy = compiled
        self.forced_mode = Mode(mode) if mode is not None else None
        self.clock = clock or SYSTEM_CLOCK
        self._steps: list[tuple[str, str, Step]] = [
            ("contract", "contract", self._contract_step),
            ("policy", "policy", evaluate_rules),
        ]
        self._added_steps = False  # a step beyond the contract and the policy (it may keep state)
        self._store_bound = False
        self._store_probes: dict[int, StoreProbe] = {}  # id(step) -> will it wait on the store?
        self._code_specs: dict[str, ToolSpec] = {}
        self._code_contracts: dict[str, Contract] = {}
        self._sinks: list[Sink] = []
        self._output_observers: list[OutputObserver] = []
        self._input_observers: list[InputObserver] = []
        self._usage_observers: list[UsageObserver] = []
        self.approval_handler: ApprovalHandler | None = None
        self.stats = EngineStats()
        self._lock = threading.Lock()
        self._admitted: OrderedDict[str, None] = OrderedDict()
        self._watcher: threading.Thread | None = None
        self._stop_watch = threading.Event()

    # -- construction and reload -----------------------------------------------------------------

    @classmethod
    def load(cls, *paths: str | Path, packs: list[str] | None = None, watch: bool = False) -> Engine:
        """An engine from policy files (and packs). `watch=True` reloads them when they change."""
        engine = cls(list(paths), packs=packs)
        if watch:
            engine.watch()
        return engine

    @classmethod
    def from_yaml(cls, text: str, **kwargs: Any) -> Engine:
        return cls(text=text, **kwargs)

    @property
    def policy(self) -> CompiledPolicy:
        return self._policy

    @property
    def mode(self) -> Mode:
        return self.forced_mode or self._policy.mode

    def reload(self) -> CompiledPolicy:
        """Compile the policy files again and swap atomically. On error the old policy stays and the
        `PolicyError` is raised (and recorded in `stats.last_reload_error`)."""
        if not self._paths and not self._packs and self._text is None:
            raise ConfigurationError(
                "this engine was built from a compiled policy; there is nothing to reload"
            )
        try:
            compiled = load_policy(self._paths, packs=self._packs, text=self._text)
        except Exception as err:
            with self._lock:
                self.stats.reload_errors += 1
                self.stats.last_reload_error = str(err)
            raise
        self.swap(compiled)
        return compiled

    def swap(self, policy: CompiledPolicy) -> None:
        """Replace the policy atomically: checks in flight finish on the one they started with."""
        if self._warm:
            warm_up(policy)
        with self._lock:
            self._policy = policy
            self.stats.reloads += 1
            self.stats.last_reload_error = None

    def watch(self, interval: float = 1.0) -> None:
        """Poll the policy files (and what they include) and reload when one changes. When this
        returns, an edit made since the policy was loaded has been applied (see _policy_watch)."""
        if self._watcher is not None:
            return

        def changed_since_load() -> bool:
            if not self._policy.source.files:
                return False  # packs and inline text: nothing on disk can change
            try:
                return load_source(self._paths, self._packs, self._text).digest != self._policy.source.digest
            except Exception:
                return True  # unreadable now: let reload() report it

        self._stop_watch.clear()
        self._watcher = PolicyWatcher(
            lambda: self._policy.source.files,
            changed_since_load,
            self.reload,
            interval=interval,
            stop=self._stop_watch,
        )
        self._watcher.start()

    def close(self) -> None:
        self._stop_watch.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    # -- extension points ------------------------------------------------------------------------

    def add_step(
        self,
        step: Step,
        *,
        stage: str = "guards",
        name: str | None = None,
        needs_store: StoreProbe | None = None,
    ) -> None:
        """Insert a step in its stage (kill switch, contract, policy, guards, approval). Steps of the
        "guards" and "approval" stages may wait on the store: `acheck`/`aadmit` run the evaluation
        in a worker thread when one of them will. `needs_store(action, facts)` tells, before the step
        runs, whether it will this time (e.g. an approval lookup only for an `ask`); without it, a
        step of those stages is taken to need the store on every call."""
        if stage not in STAGES:
            raise ConfigurationError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
        label: str = name or getattr(step, "__name__", None) or type(step).__name__
        rank = STAGES.index(stage)
        at = next((i for i, (s, _, _) in enumerate(self._steps) if STAGES.index(s) > rank), len(self._steps))
        self._steps.insert(at, (stage, label, step))
        self._added_steps = True
        self._store_bound = self._store_bound or stage in STORE_STAGES
        if stage in STORE_STAGES:
            self._store_probes[id(step)] = needs_store or _always

    @property
    def steps(self) -> list[tuple[str, str]]:
        return [(stage, name) for stage, name, _ in self._steps]

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        """Call `sink(decision, action)` after every check (decision log, tracing, store).
        A failing sink is counted, never raised into the agent. Returns an unsubscribe function."""
        self._sinks.append(sink)
        return lambda: self._sinks.remove(sink) if sink in self._sinks else None

    def observe_output(self, observer: OutputObserver) -> Callable[[], None]:
        """Call `observer(action, output, spec)` for every tool output `check_output` returns (the
        guard decorator calls it), e.g. to track what untrusted outputs brought in. A failing
        observer is counted in `stats.sink_errors`, never raised. Returns an unsubscribe function."""
        self._output_observers.append(observer)
        return lambda: self._output_observers.remove(observer) if observer in self._output_observers else None

    def observe_input(self, observer: InputObserver) -> Callable[[], None]:
        """Call `observer(text, context, speaker)` for the words `record_user_input` /
        `record_system_input` report (provenance subscribes). Returns an unsubscribe function."""
        self._input_observers.append(observer)
        return lambda: self._input_observers.remove(observer) if observer in self._input_observers else None

    def observe_usage(self, observer: UsageObserver) -> Callable[[], None]:
        """Call `observer(context, tokens, cost)` for the model usage `record_usage` reports (the
        policy's budgets subscribe: `install_cushions`). Returns an unsubscribe function."""
        self._usage_observers.append(observer)
        return lambda: self._usage_observers.remove(observer) if observer in self._usage_observers else None

    def record_usage(self, *, tokens: int = 0, cost: float = 0.0, context: Context | None = None) -> None:
        """What a model call of this run spent (tokens, cost in USD), after it happened: charged to the
        policy's token and cost budgets, so a budget it used up refuses the run's next call."""
        self._notify(
            "engine.usage_observer", self._usage_observers, context or current_context(), tokens, cost
        )

    def record_user_input(self, text: Any, *, context: Context | None = None) -> None:
        """The user's own words in this run (a chat message, a task prompt): values there are the
        user's, and the user speaking starts a new turn. Integrations call it for every user message;
        call it yourself where you hand the agent its task."""
        self._inputs(text, context or current_context(), "user")

    def record_system_input(self, text: Any, *, context: Context | None = None) -> None:
        """Trusted instructions that are not the user speaking (a system prompt, a template)."""
        self._inputs(text, context or current_context(), "system")

    def _inputs(self, text: Any, context: Context, speaker: str) -> None:
        self._notify("engine.input_observer", self._input_observers, text, context, speaker)

    def _notify(self, kind: str, listeners: Sequence[Callable[..., Any]], *args: Any) -> None:
        """Call every sink or observer; a failing one is counted and reported, never raised."""
        for listener in list(listeners):
            try:
                listener(*args)
            except Exception as err:
                with self._lock:
                    self.stats.sink_errors += 1
                internal_error(kind, err, expected=isinstance(err, OSError | RailguardError))

    def declare_tool(
        self,
        name: str,
        *,
        args: Any = None,
        output: Any = None,
        effect: Effect | str | None = None,
        output_trust: Trust | str | None = None,
        roles: Mapping[str, str] | None = None,
        untrusted_fields: Sequence[str] | None = None,
    ) -> ToolSpec:
        """Declare a tool (or an agent step) in code: contract (JSON Schema or Pydantic model), effect
        class and output trust (`untrusted_fields`: output fields carrying third-party text in an
        otherwise trusted output). Overrides what the policy declares for the same name."""
        base = self._policy.tools.get(name) or ToolSpec(name)
        spec = replace(
            base,
            effect=Effect(effect) if effect is not None else base.effect,
            output_trust=Trust(output_trust) if output_trust is not None else base.output_trust,
            roles=dict(roles) if roles is not None else base.roles,
            untrusted_fields=tuple(untrusted_fields)
            if untrusted_fields is not None
            else base.untrusted_fields,
        )
        if args is not None or output is not None:
            contract = compile_contract(name, args, output)
            spec = replace(spec, args_schema=contract.args_schema, output_schema=contract.output_schema)
            self._code_contracts[name] = contract
        self._code_specs[name] = spec
        return spec

    def tool_spec(self, name: str) -> ToolSpec | None:
        return self._code_specs.get(name) or self._policy.tools.get(name)

    def contract_for(self, name: str) -> Contract | None:
        return self._code_contracts.get(name) or self._policy.contracts.get(name)

    # -- deciding --------------------------------------------------------------------------------

    def check(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """Decide one action without asking a human: `admit` without the approval handler (an
        allowed call is admitted, and charged once). Never raises for any input; a bug or a timeout
        inside the pipeline becomes the policy's `on_error` verdict."""
        return self._admit(_action(action, args, call_id, context), None)

    def admit(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """The final decision on one call: kill switch, contract, policy, guards, then — for an
        `ask` — the approval handler and a re-check under the approval, then the charges of the
        stateful guards. The call may run if and only if `decision.allowed`; never raises for a
        policy outcome (`railguard.refusal(decision)` is the exception to raise when it may not)."""
        return self._admit(_action(action, args, call_id, context), self.approval_handler)

    async def acheck(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """The async form of `check`: steps that wait on the store run off the event loop."""
        return await self._aadmit(_action(action, args, call_id, context), None)

    async def aadmit(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """The async form of `admit` (waits with `approval_handler.arequest`)."""
        return await self._aadmit(_action(action, args, call_id, context), self.approval_handler)

    def explain(self, action: Action) -> Explanation:
        """A dry run: how every candidate rule evaluated and which facts it saw. Changes nothing —
        no counter, budget, loop history or approval, and no sink is called."""
        traces: list[RuleTrace] = []
        decision, facts = self._evaluate(action, dry_run=True, traces=traces)
        return Explanation(
            decision=decision,
            rules=tuple(traces),
            facts=facts.computed,
            candidate_rules=len(facts.plan.rules),
            total_rules=len(facts.policy.rules),
        )

    def dry_run(self, action: Action) -> Decision:
        """The decision `check` would make, without changing anything (backtests, previews)."""
        return self._evaluate(action, dry_run=True)[0]

    # -- the admission path ----------------------------------------------------------------------

    def check_repeatable(self, action: Action) -> tuple[Decision, bool]:
        """`check`, and whether the same action would get the same decision again from this engine
        (its latency and timestamp aside): no step of the engine's own beyond the contract and the
        policy (those read only the action), every fact a built-in detector that did not fail, no
        evaluation error, rewrite, approval or charge. A stream may then answer a repeated input
        without deciding it again (`railguard check`)."""
        decision, facts = self._admit_facts(action, None)
        read = facts.plan.facts
        repeatable = (
            not self._added_steps
            and decision.error is None  # also set by any hit of a failure (a detector's, a rule's)
            and decision.args is None
            and decision.approval_id is None
            and not facts.charges
            and not facts.taken
            and (not read or pure_facts(read))
            and not facts.failed()
        )
        return decision, repeatable

    def _admit(self, action: Action, handler: ApprovalHandler | None) -> Decision:
        return self._admit_facts(action, handler)[0]

    def _admit_facts(self, action: Action, handler: ApprovalHandler | None) -> tuple[Decision, Facts]:
        decision, facts = self._evaluated(action)
        if decision.verdict is Verdict.ASK and handler is not None:
            self._record(decision, action)  # the ask is an event of its own
            try:
                outcome = handler.request(action, decision)
            except Exception as err:
                outcome = self._handler_failed(action, decision, err)
            if not outcome.allowed:
                return outcome, facts
            decision, facts = self._evaluated(action, approval=_approval_of(decision, outcome))
        if decision.allowed and (facts.charges or facts.taken):
            decision = self._take_charges(action, decision, facts)
        self._record(decision, action)
        return decision, facts

    async def _aadmit(self, action: Action, handler: ApprovalHandler | None) -> Decision:
        decision, facts = await self._aevaluate(action)
        if decision.verdict is Verdict.ASK and handler is not None:
            self._record(decision, action)
            try:
                outcome = await handler.arequest(action, decision)
            except Exception as err:
                outcome = self._handler_failed(action, decision, err)
            if not outcome.allowed:
                return outcome
            decision, facts = await self._aevaluate(action, approval=_approval_of(decision, outcome))
        if decision.allowed and facts.charges:
            decision = await _to_thread(self._take_charges, action, decision, facts)
        elif decision.allowed and facts.taken:
            decision = self._take_charges(action, decision, facts)  # all taken already: no store access
        self._record(decision, action)
        return decision

    def _evaluated(self, action: Action, **options: Any) -> tuple[Decision, Facts]:
        """`_evaluate`, giving back what the stateful guards charged during the evaluation when the
        call is not admitted after all (a later step refused it, or it waits for a human)."""
        decision, facts = self._evaluate(action, **options)
        if facts.taken and not decision.allowed:
            for failure in facts.give_back():
                internal_error("engine.charge_undo", failure, expected=True)
        return decision, facts

    def _aevaluate(self, action: Action, **options: Any) -> Awaitable[tuple[Decision, Facts]]:
        """On the event loop when no step will wait on the store this time (a stateless check is
        tens of microseconds: a thread hop would cost more, and threads fight over the GIL);
        otherwise the whole evaluation, from the start, in a worker thread."""
        if self._store_bound:
            try:
                return _ready(self._evaluated(action, inline=True, **options))
            except _NeedsStore:
                return _to_thread(self._evaluated, action, **options)
        return _ready(self._evaluated(action, **options))

    def _handler_failed(self, action: Action, decision: Decision, err: Exception) -> Decision:
        """A refusal from the approval handler (pending, denied) is its answer; any other failure
        leaves the call refused (fail closed) and is reported."""
        if isinstance(err, GuardError):
            return _handler_refusal(action, decision, err)
        internal_error("engine.approval_handler", err, expected=True)  # the user's handler, not a bug here
        return replace(decision, reason=f"{decision.reason} (the approval handler failed: {cel_error(err)})")

    def _take_charges(self, action: Action, decision: Decision, facts: Facts) -> Decision:
        """Charge an admitted call to every stateful guard, all or nothing. A retry of a call id
        already charged is not charged again; a cap reached since the evaluation refuses the call."""
        key = _call_key(action, decision.decision_id)
        if facts.charged:
            return decision
        taken: list[Charge] = []
        refused: list[RuleHit] = []
        for charge in facts.charges:
            try:
                hits = charge.take()
            except Exception as err:
                internal_error("engine.charge", err, expected=True)
                hits = (_error_hit(facts, f"the {charge.name} charge failed: {cel_error(err)}"),)
            refused = [h for h in hits if h.mode is Mode.ENFORCE and h.verdict.rank > Verdict.MODIFY.rank]
            if refused:
                break
            taken.append(charge)
        if refused:
            for charge in reversed(taken):
                try:
                    charge.undo()
                except Exception as err:
                    internal_error("engine.charge_undo", err, expected=True)
            for failure in facts.give_back():  # what the guards charged during the evaluation, too
                internal_error("engine.charge_undo", failure, expected=True)
            return outside_decision(
                refused[0],
                tool=action.tool,
                decision_id=decision.decision_id,
                timestamp=time.time(),
                context=action.context,
                call_id=action.call_id,
                reason="; ".join(dict.fromkeys(h.message for h in refused)),
                earlier=(*decision.hits, *refused[1:]),
                policy_revision=decision.policy_revision,
            )
        if key is not None:
            with self._lock:
                self._admitted[key] = None
                while len(self._admitted) > _ADMITTED_MAX:
                    self._admitted.popitem(last=False)
        return decision

    # -- the pipeline ----------------------------------------------------------------------------

    def _evaluate(
        self,
        action: Action,
        *,
        dry_run: bool = False,
        traces: list[RuleTrace] | None = None,
        approval: tuple[str, frozenset[str]] | None = None,
        inline: bool = False,
    ) -> tuple[Decision, Facts]:
        """Run the pipeline once: evaluation only, nothing is charged or recorded. `inline`: raise
        _NeedsStore (before any store-stage step runs, and before anything is counted) when a step
        would wait on the store."""
        # Too deep or not encodable (a lone surrogate in an id): decided as an error on a stand-in
        # that keeps a stable decision id; nothing downstream walks the original.
        action, refused = admissible(action)
        policy = self._policy  # one snapshot for the whole check (atomic reload)
        mode = self.forced_mode or policy.mode
        plan = policy.plan(action.tool)
        deadline = Deadline(self.clock, policy.deadline_ns)
        spec = self._code_specs.get(action.tool) or plan.spec
        facts = Facts(action, policy, plan, spec, deadline, mode=mode, dry_run=dry_run, traces=traces)
        if approval is not None:
            facts.approval_id, facts.approved_rules = approval
        facts.decision_id = decision_id = _decision_id(action)  # once: it hashes the arguments
        key = _call_key(action, decision_id) if self._admitted else None
        if key is not None:
            with self._lock:
                facts.charged = key in self._admitted
                if facts.charged:
                    self._admitted.move_to_end(key)
        if inline:
            self._store_check(
                action, facts, [step for stage, _, step in self._steps if stage in STORE_STAGES]
            )
        error = refused or self._run_steps(action, facts, inline=inline)
        if error is not None:
            facts.hits.append(_error_hit(facts, error))
        args: dict[str, Any] | None = None
        if (
            facts.rewrites
            and enforced_verdict(facts.hits, facts.approval_id, facts.approved_rules) is Verdict.MODIFY
        ):
            try:
                args = _apply_modifications(action, facts)
            except Exception as err:  # a broken rewrite must not let the original through silently
                error = f"modify failed: {cel_error(err)}"
                facts.hits.append(_error_hit(facts, error))
        decision = assemble(
            action,
            facts.hits,
            decision_id=decision_id,
            mode=mode,
            policy_revision=policy.revision,
            latency_us=(deadline.wall_ns() - deadline.wall_start) / 1000,
            timestamp=time.time(),
            approval_id=facts.approval_id,
            approved_rules=facts.approved_rules,
            args=args,
            error=error,
            store_us=facts.store_ns / 1000,
        )
        with self._lock:
            self.stats.checks += 1
            self.stats.errors += decision.error is not None
            verdict = str(decision.verdict)  # the value, without the `.value` property's lookup
            self.stats.by_verdict[verdict] = self.stats.by_verdict.get(verdict, 0) + 1
        return decision, facts

    def _store_check(self, action: Action, facts: Facts, steps: Sequence[Step]) -> None:
        probes = self._store_probes
        for step in steps:
            try:
                needed = probes.get(id(step), _always)(action, facts)
            except Exception:  # in the thread, the step itself fails and is decided as an error
                needed = True
            if needed:
                raise _NeedsStore

    def _run_steps(self, action: Action, facts: Facts, *, inline: bool = False) -> str | None:
        """Each step in stage order until one stops the chain; the error that ended it, if any."""
        problem = argument_problem(action.args)
        if problem is not None:
            return f"the call cannot be evaluated: {problem}"
        stage = ""
        deadline = facts.deadline
        steps = self._steps
        try:
            for index, (stage, _name, step) in enumerate(steps):
                if inline and stage in STORE_STAGES:
                    self._store_check(action, facts, (step,))  # e.g. the verdict so far became ask
                try:
                    result = step(action, facts)
                except Stop as stop:
                    result = stop
                if result is not None and add_result(facts.hits, result):
                    facts.batches.clear()  # the chain is over: what the guards wanted to read no longer matters
                    return None
                if stage in DEADLINE_STAGES and deadline.wall_ns() > deadline.quiet_until:
                    deadline.check(f"after the {stage} step")
                if facts.batches and (index + 1 == len(steps) or steps[index + 1][0] != stage):
                    facts.flush_batches()  # the stage is over: its guards' reads and charges, in one go
        except _NeedsStore:
            raise
        except DeadlineExceeded as err:
            return str(err)
        except RecursionError:
            return f"the {stage} step failed: the arguments nest too deeply to evaluate"
        except Exception as err:
            return f"the {stage} step failed: {cel_error(err)}"
        return None

    def _contract_step(self, action: Action, facts: Facts) -> StepResult:
        contract = self._code_contracts.get(action.tool) or facts.plan.contract
        if contract is None:
            return None
        problems = contract.check_args(action.args)
        if not problems:
            return None
        hit = RuleHit(
            "contract/args",
            Verdict.BLOCK,
            f"invalid arguments for '{action.tool}': {'; '.join(problems)}. Fix the arguments and call again.",
            Severity.MEDIUM,
            facts.mode,
            "contract",
        )
        # Enforced, it ends the chain: the rules may not even be able to read these arguments.
        return Stop(hit) if facts.mode is Mode.ENFORCE else hit

    def _record(self, decision: Decision, action: Action) -> None:
        self._notify("engine.sink", self._sinks, decision, action)

    def record(self, decision: Decision, action: Action) -> None:
        """Send a decision made outside `check` (e.g. an output-contract violation) to the sinks."""
        self._record(decision, action)

    # -- outputs ---------------------------------------------------------------------------------

    def check_output(self, tool: str, value: Any, *, action: Action | None = None) -> Any:
        """Validate a tool's output (or an agent step's structured result) against its declared
        contract. Returns the value (parsed into the Pydantic model when one is declared); on a
        violation records a block decision and raises `ContractViolation`."""
        contract = self.contract_for(tool)
        if contract is None or (contract.output_schema is None and contract.output_model is None):
            return self._observed(tool, value, action)
        parsed, problems = contract.check_output(value)
        if not problems:
            return self._observed(tool, parsed, action)
        action = action or Action(tool, {})
        hit = RuleHit("contract/output", Verdict.BLOCK, "; ".join(problems), Severity.HIGH, source="contract")
        decision = outside_decision(
            hit,
            tool=tool,
            decision_id=_decision_id(action) + ":output",
            timestamp=time.time(),
            context=action.context,
            call_id=action.call_id,
            reason=f"the output of '{tool}' broke its contract: {'; '.join(problems)}",
            policy_revision=self._policy.revision,
        )
        self._record(decision, action)
        raise ContractViolation(tool, problems, type(value).__name__, decision)

    def _observed(self, tool: str, value: Any, action: Action | None) -> Any:
        if self._output_observers:
            action = action or Action(tool, {})
            self._notify(
                "engine.output_observer", self._output_observers, action, value, self.tool_spec(tool)
            )
        return value

    def validate_step(self, name: str, value: Any, contract: Any = None) -> Any:
        """Validate an agent step's structured output; `contract` (schema or Pydantic model) declares
        it on first use."""
        if contract is not None and name not in self._code_contracts:
            self.declare_tool(name, output=contract)
        return self.check_output(name, value)

    # -- decorators ------------------------------------------------------------------------------

    @overload
    def guard(self, fn: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def guard(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        args: Any = None,
        output: Any = None,
        effect: str | None = None,
        output_trust: str | None = None,
        roles: Mapping[str, str] | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def guard(self, fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
        """Guard a tool function: `@engine.guard` or `@engine.guard(name=..., args=Model, output=...)`.
        Each call goes through `admit`; a call it does not let run raises `GuardBlocked` /
        `ApprovalRequired` / `ApprovalDenied` instead of running. Keeps `fn`'s signature."""
        from railguard._guard import guard as make_guard

        if fn is None:
            return lambda f: make_guard(self, f, **options)
        return make_guard(self, fn, **options)


def _action(
    action: Action | str, args: Mapping[str, Any] | None, call_id: str | None, context: Context | None
) -> Action:
    if isinstance(action, str):
        return Action(action, dict(args or {}), call_id, context or current_context())
    return action


def _to_thread(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Awaitable[R]:
    """`asyncio.to_thread`, asyncio imported here: only async callers pay for loading it."""
    import asyncio

    return asyncio.to_thread(fn, *args, **kwargs)


async def _ready(value: tuple[Decision, Facts]) -> tuple[Decision, Facts]:
    return value


class _NeedsStore(Exception):
    """An inline evaluation reached a step that would wait on the store: run it in a thread."""


def _always(_action: Action, _facts: Facts) -> bool:
    return True


def _approval_of(asked: Decision, outcome: Decision) -> tuple[str, frozenset[str]]:
    """What a human's approval covers: the asking rules of the decision they answered."""
    rules = frozenset(
        h.rule
        for h in asked.hits
        if h.verdict is Verdict.ASK and h.mode is Mode.ENFORCE and h.source != "error"
    )
    return outcome.approval_id or "approval-handler", rules


def _handler_refusal(action: Action, asked: Decision, err: GuardError) -> Decision:
    """The decision of an approval handler's refusal: a denial stays a denial (ApprovalDenied),
    a pending request stays the ask it answers, naming the request."""
    answer = err.decision
    approval_id = getattr(err, "approval_id", None) or answer.approval_id
    if isinstance(err, ApprovalDenied):
        if any(h.rule in DENIAL_RULES for h in answer.hits):
            return answer
        hit = RuleHit(
            "approval/denied", Verdict.BLOCK, "a human denied the call", Severity.HIGH, source="approval"
        )
        return outside_decision(
            hit,
            tool=action.tool,
            decision_id=asked.decision_id,
            timestamp=time.time(),
            context=action.context,
            call_id=action.call_id,
            reason=f"denied: {answer.reason}",
            earlier=asked.hits,
            policy_revision=asked.policy_revision,
            approval_id=approval_id,
        )
    if answer.allowed or answer.verdict is Verdict.ASK:
        return replace(asked, approval_id=approval_id)
    return answer


def _error_hit(facts: Facts, error: str) -> RuleHit:
    """The hit of a failure inside the pipeline: the policy's `on_error`, which audit mode only records."""
    mode = Mode.AUDIT if facts.mode is Mode.AUDIT else Mode.ENFORCE
    return RuleHit(
        "railguard/error",
        facts.on_error,
        f"{error}; on_error={facts.on_error.value}",
        Severity.HIGH,
        mode,
        "error",
    )


def _call_key(action: Action, decision_id: str) -> str | None:
    """What identifies a retry: the same call id with the same arguments (None without a call id)."""
    if not action.call_id:
        return None
    try:
        return f"{decision_id}:{action.args_digest()}"
    except (RecursionError, ValueError, TypeError):
        return None


def _decision_id(action: Action) -> str:
    """`Action.decision_id`, or for arguments too deep to serialize one from the call's identity."""
    try:
        return action.decision_id()
    except (RecursionError, ValueError, TypeError):
        ctx = action.context
        basis = f"{ctx.tenant}\x1f{ctx.run or ctx.session}\x1f{action.tool}\x1f{action.call_id}\x1funreadable"
        h = blake2b(basis.encode(), digest_size=16).hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _apply_modifications(action: Action, facts: Facts) -> dict[str, Any]:
    policy = facts.policy
    new_args = dict(action.args)
    cel_ctx = cel_context(action, facts)
    for hit in facts.hits:
        if hit.verdict is not Verdict.MODIFY or hit.mode is not Mode.ENFORCE:
            continue
        rule = policy.rule(hit.rule)
        if rule is None or rule.modify is None:
            continue
        for arg, cond in rule.modify.set:
            new_args[arg] = cond.evaluate(cel_ctx)
        for arg in rule.modify.remove:
            new_args.pop(arg, None)
        if rule.modify.redact is not None:
            from railguard.detect.redact import redact_value

            new_args, _ = redact_value(new_args, rule.modify.redact or None)
    return new_args


def warm_up(policy: CompiledPolicy) -> None:
    """Load the detectors and build the redaction matchers a policy uses before it serves a check
    (what `Engine(warm=True)` does; a process that must answer before it can warm calls it later,
    e.g. from a background thread)."""
    warm_facts(policy.facts_used)
    kinds_sets = policy.redaction_kinds
    if kinds_sets:
        from railguard.detect.redact import redact

        for kinds in kinds_sets:
            redact("warm-up", kinds)
