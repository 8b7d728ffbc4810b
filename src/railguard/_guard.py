"""Guarding a tool function: admit each call before it runs, validate what it returns."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from railguard._decisions import refusal
from railguard.model import Action, Decision, Verdict
from railguard.trace._spans import tool_call

if TYPE_CHECKING:
    from railguard.engine import Engine

P = ParamSpec("P")
R = TypeVar("R")


def _bound_args(sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        param = sig.parameters[name]
        if name in ("self", "cls") and param.kind is param.POSITIONAL_OR_KEYWORD:
            continue
        if param.kind is param.VAR_KEYWORD:
            out.update(value)
        elif param.kind is param.VAR_POSITIONAL:
            out[name] = list(value)
        else:
            out[name] = value
    return out


def _call_with(
    sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any], new: Mapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Rebuild the call with rewritten arguments (a `modify` verdict)."""
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    params = sig.parameters
    extra = {k: v for k, v in new.items() if k not in params}
    for name, param in params.items():
        if param.kind is param.VAR_KEYWORD:
            bound.arguments[name] = extra
        elif param.kind is param.VAR_POSITIONAL:
            if name in new:
                bound.arguments[name] = tuple(new[name])
        elif name in new:
            bound.arguments[name] = new[name]
        elif name in bound.arguments and name not in ("self", "cls") and param.default is not param.empty:
            bound.arguments[name] = param.default  # the rule removed this argument: use its default
    return bound.args, bound.kwargs


def _raise_unless_admitted(action: Action, decision: Decision) -> None:
    """Raise the refusal of a call `admit` did not let run."""
    refused = refusal(decision, action)
    if refused is not None:
        raise refused


def guard(
    engine: Engine,
    fn: Callable[P, R],
    *,
    name: str | None = None,
    args: Any = None,
    output: Any = None,
    effect: str | None = None,
    output_trust: str | None = None,
    roles: Mapping[str, str] | None = None,
) -> Callable[P, R]:
    """`fn` behind `engine.admit`: each call is admitted (or refused by raising) before it runs, and
    its output is checked against the tool's contract. Keeps `fn`'s signature."""
    tool = name or fn.__name__
    if any(x is not None for x in (args, output, effect, output_trust, roles)):
        engine.declare_tool(
            tool, args=args, output=output, effect=effect, output_trust=output_trust, roles=roles
        )
    sig = inspect.signature(fn)

    if inspect.iscoroutinefunction(fn):
        run_async = cast(Callable[P, Awaitable[Any]], fn)

        @functools.wraps(fn)
        async def async_wrapper(*a: P.args, **kw: P.kwargs) -> Any:
            action = Action(tool, _bound_args(sig, a, kw))
            with tool_call(tool, args=action.args) as span:  # the decision lands on this span
                decision = await engine.aadmit(action)
                _raise_unless_admitted(action, decision)
                if decision.verdict is Verdict.MODIFY and decision.args is not None:
                    a, kw = _call_with(sig, a, kw, decision.args)  # type: ignore[assignment]
                result = engine.check_output(tool, await run_async(*a, **kw), action=action)
                span.record_result(result)
                return result

        async_wrapper.__railguard_tool__ = tool  # type: ignore[attr-defined]
        return cast(Callable[P, R], async_wrapper)

    @functools.wraps(fn)
    def wrapper(*a: P.args, **kw: P.kwargs) -> R:
        action = Action(tool, _bound_args(sig, a, kw))
        with tool_call(tool, args=action.args) as span:  # the decision lands on this span
            decision = engine.admit(action)
            _raise_unless_admitted(action, decision)
            if decision.verdict is Verdict.MODIFY and decision.args is not None:
                a, kw = _call_with(sig, a, kw, decision.args)  # type: ignore[assignment]
            result: R = engine.check_output(tool, fn(*a, **kw), action=action)
            span.record_result(result)
            return result

    wrapper.__railguard_tool__ = tool  # type: ignore[attr-defined]
    return wrapper
