"""Rule evaluation as a pipeline step (stage "policy"): the candidate rules of the tool, evaluated
over the variables they read, each match a hit.

A detector that fails or a rule that cannot be evaluated gives the policy's `on_error` verdict (once
per failed detector, not once per rule reading it), with a value-free reason. The deadline is
checked after every rule; the detectors check it inside their loops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from railguard._pipeline import DeadlineExceeded, RuleTrace
from railguard.model import Action, Context, Effect, Mode, RuleHit, Severity, Trust
from railguard.policy._fastcel import FALLBACK, convertible
from railguard.policy._memo import memo_key, pure_facts

if TYPE_CHECKING:
    import cel

    from railguard._pipeline import Facts
    from railguard.policy._cel import Condition
    from railguard.policy._compile import CompiledRule

__all__ = ["cel_context", "cel_error", "evaluate_rules"]


def cel_error(err: BaseException) -> str:
    """A short, value-free description of an evaluation failure."""
    if isinstance(err, KeyError):
        return f"no such key {err.args[0]!r} (guard optional fields with has(...))"
    text = str(err).split(". ")[0].strip()
    return f"{type(err).__name__}: {text}"[:300]


def evaluate_rules(action: Action, facts: Facts) -> list[RuleHit] | None:
    """The "policy" step: remembered per action for the policy (see `_memo`), except for `explain`."""
    plan, policy = facts.plan, facts.policy
    if not plan.rules:
        return None
    key = None
    # Only a plan that reads detector facts is remembered: its outcome costs the detectors to
    # recompute, while rules over the action's own fields cost less than keying the memo does.
    if plan.facts and facts.traces is None and pure_facts(plan.facts):
        key = memo_key(action, facts.mode, facts.spec)
    if key is not None:
        known = policy.outcomes.get(key, facts.spec)
        if known is not None:
            facts.cel_stale = True  # the CEL context still holds another action's variables
            return list(known)
    hits = _evaluate(action, facts)
    if (
        key is not None
        and not facts.rewrites
        and not facts.failed()
        and all(h.source != "error" for h in hits)
    ):
        policy.outcomes.put(key, facts.spec, tuple(hits))
    return hits


def cel_context(action: Action, facts: Facts) -> cel.Context:
    """The CEL context holding this action's variables, for what reads it after the rules (a
    rewrite, an approval's `match`): filled now if the policy step's outcome was remembered."""
    ctx = facts.policy.cel_context()
    if facts.cel_stale:
        ctx.update(_variables(action, facts))
        facts.cel_stale = False
    return ctx


class _LazyContext:
    """The CEL context, given this action's variables only when a rule needs the runtime: a rule
    its Python closure answers (see `_fastcel`) needs no conversion of the values into CEL."""

    __slots__ = ("context", "filled", "values")

    def __init__(self, context: cel.Context, values: dict[str, Any]) -> None:
        self.context, self.values, self.filled = context, values, False

    def get(self) -> cel.Context:
        if not self.filled:
            self.context.update(self.values)
            self.filled = True
        return self.context


def _decide(condition: Condition, values: dict[str, Any] | None, lazy: _LazyContext) -> Any:
    """The condition's value: its closure's answer, else the CEL program's."""
    fast = condition.fast
    if fast is not None and values is not None:
        result = fast(values)
        if result is not FALLBACK:
            return result
    return condition.evaluate(lazy.get())


def _evaluate(action: Action, facts: Facts) -> list[RuleHit]:
    plan, policy = facts.plan, facts.policy
    values = _variables(action, facts)
    lazy = _LazyContext(policy.cel_context(), values)
    # A value the binding cannot convert fails the whole conversion: that stays the outcome. The
    # built-in detectors' facts are plain data by construction: only the rest is walked.
    fast_values: dict[str, Any] | None = None
    if plan.fast and convertible(values, plan.facts if pure_facts(plan.facts) else ()):
        fast_values = values
    facts.cel_stale = True
    if fast_values is None:
        lazy.get()
    hits: list[RuleHit] = []
    error_mode = Mode.AUDIT if facts.mode is Mode.AUDIT else Mode.ENFORCE
    broken = facts.failed() if plan.facts else {}
    for name, problem in broken.items():
        hits.append(
            RuleHit(
                f"railguard/fact:{name}",
                facts.on_error,
                f"the '{name}' detector failed ({cel_error(problem)}); on_error={facts.on_error.value}",
                Severity.HIGH,
                error_mode,
                "error",
            )
        )
    traces = facts.traces
    deadline = facts.deadline
    now, quiet_until = deadline.wall_ns, deadline.quiet_until
    for rule in plan.rules:
        matched, exc_name, err_text = False, None, None
        unusable = [n for n in rule.variables if n in broken] if broken else None
        if unusable:  # already reported once above, as the detector's failure
            if traces is not None:
                traces.append(_trace(rule, False, None, f"fact '{unusable[0]}' failed"))
            continue
        try:
            result = True if rule.condition is None else _decide(rule.condition, fast_values, lazy)
            if not isinstance(result, bool):
                raise TypeError(f"'when' must give true or false, got {type(result).__name__}")
            matched = result
            if matched:
                for name, cond in rule.exceptions:
                    if _decide(cond, fast_values, lazy) is True:
                        matched, exc_name = False, name
                        break
        except Exception as err:
            err_text = cel_error(err)
        if err_text is not None:
            hits.append(
                RuleHit(
                    rule.id,
                    facts.on_error,
                    f"rule '{rule.id}' could not be evaluated ({err_text}); on_error={facts.on_error.value}",
                    Severity.HIGH,
                    error_mode,
                    "error",
                    rule.tags,
                )
            )
        elif matched:
            # The engine's mode replaces the file's; a rule's own `mode: audit` stays a trial.
            mode = Mode.AUDIT if facts.mode is Mode.AUDIT else rule.spec.mode or Mode.ENFORCE
            message = rule.message.render(lazy.get()) if rule.message.parts else rule.message.text
            hits.append(RuleHit(rule.id, rule.verdict, message, rule.severity, mode, "policy", rule.tags))
            if rule.modify is not None and mode is Mode.ENFORCE:
                facts.rewrites = True
        if traces is not None:
            traces.append(_trace(rule, matched, exc_name, err_text))
        if now() > quiet_until:
            deadline.check(f"after rule '{rule.id}'")
    if facts.rewrites:
        lazy.get()  # the rewrite reads the context next: filled from the values already computed
    facts.cel_stale = not lazy.filled  # a later reader (an approval's match) fills it then
    return hits


def _variables(action: Action, facts: Facts) -> dict[str, Any]:
    """Only the variables (and fields) the candidate rules read: every value converted into CEL
    costs time. A detector that fails is left out; its rules are reported by the caller."""
    wanted = facts.plan.fields
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
    for name in facts.plan.facts:
        try:
            values[name] = _pick(facts.get(name), wanted.get(name))
        except DeadlineExceeded:
            raise
        except Exception:  # kept by `facts`: every rule reading it fails closed (reported above)
            pass
    return values


def _trace(rule: CompiledRule, matched: bool, exception: str | None, error: str | None) -> RuleTrace:
    return RuleTrace(rule.id, rule.verdict, rule.spec.when, matched, exception, error)


def _pick(value: Any, fields: frozenset[str] | None) -> Any:
    mapping = type(value) is dict or isinstance(value, Mapping)  # a fact is a dict: no ABC check
    if fields is None or not mapping:
        return dict(value) if mapping else value
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
