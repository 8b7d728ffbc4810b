"""`Engine.check(action) -> Decision`: the decision pipeline.

A chain of small steps, each `(action, facts) -> hits`: kill switch -> tool contract -> policy rules
-> stateful guards -> approval lookup. The strictest verdict wins (block > ask > modify > allow).
Detector facts are computed lazily, once per action. A deadline bounds the evaluation; on an error
or a timeout the decision is the policy's `on_error` and its reason says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from railguard._limits import admissible
from railguard.detect.facts import FACTS, warm_facts
from railguard.errors import ConfigurationError, ContractViolation
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
from railguard.policy import CompiledPolicy, Contract, ToolPlan, compile_contract, load_policy

STAGES = ("killswitch", "contract", "policy", "guards", "approval")
# The deadline bounds evaluation (in memory). The stateful stages talk to the store, whose own
# timeouts bound them: counting a slow database round-trip as a runaway rule would fail closed
# on every busy moment of the database.
DEADLINE_STAGES = frozenset({"killswitch", "contract", "policy"})
_perf_ns = time.perf_counter_ns


class DeadlineExceeded(Exception):
    pass


class Facts:
    """Per-action lazy facts, shared by every step and rule of one check."""

    __slots__ = ("_values", "action", "approval_id", "deadline_ns", "hits", "plan", "policy", "spec")

    def __init__(
        self, action: Action, policy: CompiledPolicy, plan: ToolPlan, spec: ToolSpec | None, deadline_ns: int
    ) -> None:
        self.action = action
        self.policy = policy
        self.plan = plan
        self.spec = spec
        self.deadline_ns = deadline_ns
        self.hits: list[RuleHit] = []
        self.approval_id: str | None = None  # set by the approval step when a human approved this call
        self._values: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        provider = FACTS.get(name)
        if provider is None:
            raise KeyError(f"no fact named '{name}'; known facts: {', '.join(FACTS)}")
        if provider.needs_shell:
            value = provider.compute(self.action, self.spec, self.get("shell"))
        else:
            value = provider.compute(self.action, self.spec)
        self._values[name] = value
        return value

    @property
    def computed(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def provisional(self) -> Verdict:
        """The strictest enforce-mode verdict so far (stateful guards skip counting blocked calls)."""
        verdict = Verdict.ALLOW
        for hit in self.hits:
            if hit.mode is Mode.ENFORCE and hit.verdict.rank > verdict.rank:
                verdict = hit.verdict
        return verdict

    def check_deadline(self, where: str) -> None:
        if _perf_ns() > self.deadline_ns:
            raise DeadlineExceeded(where)


StepResult = RuleHit | Iterable[RuleHit] | None


class Step(Protocol):
    """A pipeline step. Steps add hits; they never raise for a normal outcome."""

    def __call__(self, action: Action, facts: Facts) -> StepResult: ...


class ApprovalHandler(Protocol):
    """What the engine calls when a guarded call gets `ask` (the approvals module implements it)."""

    def request(self, action: Action, decision: Decision) -> Decision: ...

    async def arequest(self, action: Action, decision: Decision) -> Decision: ...


Sink = Callable[[Decision, Action], None]
# Called with (action, output, tool spec) for each tool output `check_output` lets through.
OutputObserver = Callable[[Action, Any, ToolSpec | None], None]
# Called with (text, context, speaker) for the user's and the system's words ("user" or "system").
InputObserver = Callable[[Any, Context, str], None]


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule evaluated, for `explain`."""

    rule: str
    verdict: Verdict
    when: str | None
    matched: bool
    exception: str | None = None
    error: str | None = None


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


def _cel_error(err: BaseException) -> str:
    """A short, value-free description of a CEL evaluation failure."""
    if isinstance(err, KeyError):
        return f"no such key {err.args[0]!r} (guard optional fields with has(...))"
    text = str(err).split(". ")[0].strip()
    return f"{type(err).__name__}: {text}"[:300]


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
    ) -> None:
        """`warm=True` loads every detector the policy reads now (a server pays once, at start);
        `warm=False` loads each on the first check that needs it (a short-lived hook process loads
        only what its one call needs). Either way loading happens outside the deadline."""
        self._paths: list[str] = []
        self._packs = list(packs or [])
        self._text = text
        if isinstance(policy, CompiledPolicy):
            compiled = policy
            self._warm = warm
            if warm:
                _warm(compiled)
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
            _warm(compiled)
        self._policy = compiled
        self.forced_mode = Mode(mode) if mode is not None else None
        self._steps: list[tuple[str, str, Step]] = [
            ("contract", "contract", self._contract_step),
            ("policy", "policy", self._policy_step),
        ]
        self._code_specs: dict[str, ToolSpec] = {}
        self._code_contracts: dict[str, Contract] = {}
        self._sinks: list[Sink] = []
        self._output_observers: list[OutputObserver] = []
        self._input_observers: list[InputObserver] = []
        self.approval_handler: ApprovalHandler | None = None
        self.stats = EngineStats()
        self._lock = threading.Lock()
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
            _warm(policy)
        with self._lock:
            self._policy = policy
            self.stats.reloads += 1
            self.stats.last_reload_error = None

    def watch(self, interval: float = 1.0) -> None:
        """Poll the policy files (and what they include) and reload when one changes."""
        if self._watcher is not None:
            return

        def stamps() -> dict[str, int]:
            out: dict[str, int] = {}
            for f in self._policy.source.files:
                try:
                    out[f] = Path(f).stat().st_mtime_ns
                except OSError:
                    out[f] = -1
            return out

        def loop() -> None:
            seen = stamps()
            while not self._stop_watch.wait(interval):
                now = stamps()
                if now != seen:
                    seen = now
                    try:
                        self.reload()
                        seen = stamps()  # the new policy may include other files
                    except Exception:
                        pass  # recorded in stats; keep serving the last good policy

        self._stop_watch.clear()
        self._watcher = threading.Thread(target=loop, name="railguard-policy-watch", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop_watch.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    # -- extension points ------------------------------------------------------------------------

    def add_step(self, step: Step, *, stage: str = "guards", name: str | None = None) -> None:
        """Insert a step in its stage (kill switch, contract, policy, guards, approval)."""
        if stage not in STAGES:
            raise ConfigurationError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
        label: str = name or getattr(step, "__name__", None) or type(step).__name__
        rank = STAGES.index(stage)
        at = next((i for i, (s, _, _) in enumerate(self._steps) if STAGES.index(s) > rank), len(self._steps))
        self._steps.insert(at, (stage, label, step))

    def remove_step(self, name: str) -> None:
        self._steps = [s for s in self._steps if s[1] != name]

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

    def record_user_input(self, text: Any, *, context: Context | None = None) -> None:
        """The user's own words in this run (a chat message, a task prompt): values there are the
        user's, and the user speaking starts a new turn. Integrations call it for every user message;
        call it yourself where you hand the agent its task."""
        self._inputs(text, context or current_context(), "user")

    def record_system_input(self, text: Any, *, context: Context | None = None) -> None:
        """Trusted instructions that are not the user speaking (a system prompt, a template)."""
        self._inputs(text, context or current_context(), "system")

    def _inputs(self, text: Any, context: Context, speaker: str) -> None:
        for observer in list(self._input_observers):
            try:
                observer(text, context, speaker)
            except Exception:
                with self._lock:
                    self.stats.sink_errors += 1

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

    # -- the check -------------------------------------------------------------------------------

    def check(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """Decide one action. Never raises for a policy outcome; a bug or a timeout inside the
        pipeline becomes the policy's `on_error` verdict."""
        if isinstance(action, str):
            action = Action(action, dict(args or {}), call_id, context or current_context())
        decision, _ = self._run(action, None)
        return decision

    async def acheck(
        self,
        action: Action | str,
        args: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        context: Context | None = None,
    ) -> Decision:
        """The async form of `check` (the check itself is CPU-bound and sub-millisecond)."""
        return self.check(action, args, call_id=call_id, context=context)

    def explain(self, action: Action) -> Explanation:
        """Check `action` and report how every candidate rule evaluated and which facts it saw."""
        traces: list[RuleTrace] = []
        decision, facts = self._run(action, traces, notify=False)
        return Explanation(
            decision=decision,
            rules=tuple(traces),
            facts=facts.computed,
            candidate_rules=len(facts.plan.rules),
            total_rules=len(facts.policy.rules),
        )

    def _run(
        self, action: Action, traces: list[RuleTrace] | None, notify: bool = True
    ) -> tuple[Decision, Facts]:
        action, refused = admissible(action)  # too deep / not encodable: decided as an error, never raises
        policy = self._policy  # one snapshot for the whole check (atomic reload)
        plan = policy.plan(action.tool)
        if plan.facts:
            warm_facts(plan.facts)  # no-op once loaded; a first load must not count against the deadline
        start = _perf_ns()
        spec = self._code_specs.get(action.tool) or plan.spec
        facts = Facts(action, policy, plan, spec, start + policy.deadline_ns)
        error: str | None = refused
        stage = ""
        try:
            for stage, _name, step in () if refused else self._steps:
                if stage == "policy":
                    self._policy_step(action, facts, traces)
                else:
                    _extend(facts.hits, step(action, facts))
                if any(h.source in ("killswitch", "contract") and h.mode is Mode.ENFORCE for h in facts.hits):
                    break  # halted before the rules: they may not even be able to read the arguments
                if stage in DEADLINE_STAGES:
                    facts.check_deadline(f"after the {stage} step")
        except DeadlineExceeded as err:
            error = f"evaluation exceeded the {policy.deadline_ns / 1e6:g} ms deadline ({err})"
        except Exception as err:
            error = f"the {stage} step failed: {_cel_error(err)}"
        if error is not None:
            facts.hits.append(
                RuleHit(
                    "railguard/error",
                    policy.on_error,
                    f"{error}; on_error={policy.on_error.value}",
                    Severity.HIGH,
                    self._error_mode(policy),
                    "error",
                )
            )
        decision = self._decide(action, facts, policy, start, error)
        if notify:
            self._record(decision, action)
        return decision, facts

    def _error_mode(self, policy: CompiledPolicy) -> Mode:
        """Audit never acts, not even on errors: they are recorded (as would-be verdicts) and allowed."""
        return Mode.AUDIT if Mode.AUDIT in (self.forced_mode, policy.mode) else Mode.ENFORCE

    def _contract_step(self, action: Action, facts: Facts) -> StepResult:
        contract = self._code_contracts.get(action.tool) or facts.plan.contract
        if contract is None:
            return None
        problems = contract.check_args(action.args)
        if not problems:
            return None
        return RuleHit(
            "contract/args",
            Verdict.BLOCK,
            f"invalid arguments for '{action.tool}': {'; '.join(problems)}. Fix the arguments and call again.",
            Severity.MEDIUM,
            self.mode,
            "contract",
        )

    def _policy_step(self, action: Action, facts: Facts, traces: list[RuleTrace] | None = None) -> StepResult:
        plan, policy = facts.plan, facts.policy
        if not plan.rules:
            return None
        cel_ctx = policy.cel_context()
        wanted = plan.fields
        values: dict[str, Any] = {}
        if "tool" in wanted:
            values["tool"] = action.tool
        if "args" in wanted:
            values["args"] = _pick(action.args, wanted["args"])
        if "ctx" in wanted:
            values["ctx"] = _context_fields(action.context, wanted["ctx"])
        if "effect" in wanted:
            values["effect"] = (facts.spec.effect if facts.spec else Effect.UNKNOWN).value
        if "trust" in wanted:
            values["trust"] = (facts.spec.output_trust if facts.spec else Trust.TRUSTED).value
        for name in plan.facts:
            try:
                values[name] = _pick(facts.get(name), wanted.get(name))
            except Exception as err:  # a detector failed: every rule that reads it fails closed below
                values.pop(name, None)
                facts._values[name] = err
        cel_ctx.update(values)
        broken = {n: v for n, v in facts._values.items() if isinstance(v, Exception)}
        for name, problem in broken.items():
            facts.hits.append(
                RuleHit(
                    f"railguard/fact:{name}",
                    policy.on_error,
                    f"the '{name}' detector failed ({_cel_error(problem)}); on_error={policy.on_error.value}",
                    Severity.HIGH,
                    self._error_mode(policy),
                    "error",
                )
            )
        forced_audit = self.forced_mode is Mode.AUDIT
        for rule in plan.rules:
            matched, exc_name, err_text = False, None, None
            unusable = [n for n in rule.variables if n in broken] if broken else None
            if unusable:  # already reported once above, as the fact's failure
                if traces is not None:
                    traces.append(RuleTrace(rule.id, rule.verdict, rule.spec.when, False, None,
                                            f"fact '{unusable[0]}' failed"))  # fmt: skip
                continue
            try:
                result = True if rule.condition is None else rule.condition.evaluate(cel_ctx)
                if not isinstance(result, bool):
                    raise TypeError(f"'when' must give true or false, got {type(result).__name__}")
                matched = result
                if matched:
                    for name, cond in rule.exceptions:
                        if cond.evaluate(cel_ctx) is True:
                            matched, exc_name = False, name
                            break
            except Exception as err:
                err_text = _cel_error(err)
            mode = Mode.AUDIT if forced_audit else rule.mode
            if err_text is not None:
                facts.hits.append(
                    RuleHit(
                        rule.id,
                        policy.on_error,
                        f"rule '{rule.id}' could not be evaluated ({err_text}); on_error={policy.on_error.value}",
                        Severity.HIGH,
                        self._error_mode(policy),
                        "error",
                        rule.tags,
                    )
                )
            elif matched:
                facts.hits.append(
                    RuleHit(
                        rule.id,
                        rule.verdict,
                        rule.message.render(cel_ctx),
                        rule.severity,
                        mode,
                        "policy",
                        rule.tags,
                    )
                )
            if traces is not None:
                traces.append(RuleTrace(rule.id, rule.verdict, rule.spec.when, matched, exc_name, err_text))
            facts.check_deadline(f"after rule '{rule.id}'")
        return None

    def _decide(
        self, action: Action, facts: Facts, policy: CompiledPolicy, start: int, error: str | None
    ) -> Decision:
        hits = facts.hits
        if error is None:
            error = next((h.message for h in hits if h.source == "error"), None)
        verdict = would = Verdict.ALLOW
        for hit in hits:
            if hit.verdict.rank > would.rank:
                would = hit.verdict
            approved = hit.verdict is Verdict.ASK and facts.approval_id and hit.source != "error"
            if hit.mode is Mode.ENFORCE and hit.verdict.rank > verdict.rank and not approved:
                verdict = hit.verdict
        args: Mapping[str, Any] | None = None
        if verdict is Verdict.MODIFY:
            try:
                args = self._apply_modifications(action, facts, policy)
            except Exception as err:  # a broken rewrite must not let the original through silently
                verdict = policy.on_error
                error = f"modify failed: {_cel_error(err)}"
                hits.append(
                    RuleHit("railguard/error", verdict, f"{error}; on_error={verdict.value}", Severity.HIGH)
                )
        shown = verdict if verdict is not Verdict.ALLOW else would
        relevant = [h for h in hits if h.verdict is shown]
        severity = max((h.severity for h in relevant), key=lambda s: s.rank, default=Severity.INFO)
        reason = "; ".join(dict.fromkeys(h.message for h in relevant))
        if facts.approval_id and verdict is not would:
            reason = f"approved by a human (request {facts.approval_id}): {reason}"
        elif not reason:
            reason = "no rule matched"
        elif verdict is not would and verdict.rank < would.rank:
            reason = f"audit mode, would {would.value}: {reason}"
        mode = Mode.AUDIT if (self.forced_mode is Mode.AUDIT or policy.mode is Mode.AUDIT) else Mode.ENFORCE
        latency_us = (_perf_ns() - start) / 1000
        with self._lock:
            self.stats.checks += 1
            self.stats.errors += error is not None
            self.stats.by_verdict[verdict.value] = self.stats.by_verdict.get(verdict.value, 0) + 1
        return Decision(
            verdict=verdict,
            reason=reason,
            decision_id=action.decision_id(),
            tool=action.tool,
            hits=tuple(hits),
            severity=severity,
            mode=mode,
            would_verdict=would,
            policy_revision=policy.revision,
            latency_us=latency_us,
            args=args,
            error=error,
            context=action.context,
            call_id=action.call_id,
            timestamp=time.time(),
            approval_id=facts.approval_id,
        )

    def _apply_modifications(self, action: Action, facts: Facts, policy: CompiledPolicy) -> dict[str, Any]:
        new_args = dict(action.args)
        cel_ctx = policy.cel_context()
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

    def _record(self, decision: Decision, action: Action) -> None:
        for sink in list(self._sinks):
            try:
                sink(decision, action)
            except Exception:
                with self._lock:
                    self.stats.sink_errors += 1

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
        decision = Decision(
            verdict=Verdict.BLOCK,
            reason=f"the output of '{tool}' broke its contract: {'; '.join(problems)}",
            decision_id=action.decision_id() + ":output",
            tool=tool,
            hits=(
                RuleHit(
                    "contract/output", Verdict.BLOCK, "; ".join(problems), Severity.HIGH, source="contract"
                ),
            ),
            severity=Severity.HIGH,
            would_verdict=Verdict.BLOCK,
            policy_revision=self._policy.revision,
            context=action.context,
            call_id=action.call_id,
            timestamp=time.time(),
        )
        self._record(decision, action)
        raise ContractViolation(tool, problems, type(value).__name__, decision)

    def _observed(self, tool: str, value: Any, action: Action | None) -> Any:
        if self._output_observers:
            action = action or Action(tool, {})
            spec = self.tool_spec(tool)
            for observer in list(self._output_observers):
                try:
                    observer(action, value, spec)
                except Exception:
                    with self._lock:
                        self.stats.sink_errors += 1
        return value

    def validate_step(self, name: str, value: Any, contract: Any = None) -> Any:
        """Validate an agent step's structured output; `contract` (schema or Pydantic model) declares
        it on first use."""
        if contract is not None and name not in self._code_contracts:
            self.declare_tool(name, output=contract)
        return self.check_output(name, value)

    # -- decorators ------------------------------------------------------------------------------

    def guard(self, fn: Any = None, **options: Any) -> Any:
        """Guard a tool function: `@engine.guard` or `@engine.guard(name=..., args=Model, output=...)`.
        Raises `GuardBlocked` / `ApprovalRequired` instead of running a call the policy stops."""
        from railguard._guard import guard as make_guard

        if fn is None:
            return lambda f: make_guard(self, f, **options)
        return make_guard(self, fn, **options)


def _warm(policy: CompiledPolicy) -> None:
    """Load the detectors and build the redaction matchers a policy uses before it serves a check."""
    warm_facts(policy.facts_used)
    kinds_sets = policy.redaction_kinds
    if kinds_sets:
        from railguard.detect.redact import redact

        for kinds in kinds_sets:
            redact("warm-up", kinds)


def _pick(value: Any, fields: frozenset[str] | None) -> Any:
    """Only the fields the rules read: every value converted into CEL costs time."""
    if fields is None or not isinstance(value, Mapping):
        return dict(value) if isinstance(value, Mapping) else value
    return {k: value[k] for k in fields if k in value}


def _context_fields(ctx: Context, fields: frozenset[str] | None) -> dict[str, Any]:
    if fields is None:
        return ctx.to_dict()
    out: dict[str, Any] = {}
    for name in fields:
        if name == "roles":
            out[name] = list(ctx.roles)
        elif name == "labels":
            out[name] = dict(ctx.labels)
        elif name in Context.KEYS:
            out[name] = getattr(ctx, name)
    return out


def _extend(hits: list[RuleHit], result: StepResult) -> None:
    if result is None:
        return
    if isinstance(result, RuleHit):
        hits.append(result)
    else:
        hits.extend(result)
