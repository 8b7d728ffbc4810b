"""Shared by the Anthropic and OpenAI integrations: the tool calls a model returned -> one engine
decision each -> the tool-result messages the model reads next (a blocked call gets an error result
whose text is the decision's model-readable message, so the model can change course).

Providers supply two things: the calls parsed out of a response (`ToolCallRequest`) and a
`ResultFormatter` that turns `ToolResult`s into their follow-up messages."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from railguard._decisions import outside_decision, refusal
from railguard.errors import GuardBlocked, GuardError
from railguard.model import Action, Decision, RuleHit, Severity, Verdict
from railguard.trace._spans import ToolCall, _mark_error, tool_call

if TYPE_CHECKING:
    from railguard.engine import Engine

MALFORMED_ARGUMENTS_RULE = "integration/malformed-arguments"


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """One tool call as the model asked for it. `problem` is set (and `args` empty) when the
    provider's arguments could not be read as a JSON object."""

    call_id: str
    name: str
    args: Mapping[str, Any]
    kind: str = "function"  # OpenAI distinguishes function and custom (free-text) tools
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class AllowedCall:
    """A call to execute: `args` are the ones to run with (rewritten when the verdict was modify)."""

    call_id: str
    name: str
    args: dict[str, Any]
    decision: Decision
    kind: str = "function"


@dataclass(frozen=True, slots=True)
class BlockedCall:
    """A call not to execute (block, or ask without an approval). `message` is what the model reads."""

    call_id: str
    name: str
    decision: Decision
    message: str
    kind: str = "function"


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    content: str
    is_error: bool
    kind: str = "function"


ResultFormatter = Callable[[Sequence[ToolResult]], list[dict[str, Any]]]


class GuardedCalls:
    """The engine's decisions on one response's tool calls, in the order the model made them."""

    __slots__ = ("_format", "allowed", "blocked", "order")

    def __init__(self, outcomes: Sequence[AllowedCall | BlockedCall], formatter: ResultFormatter) -> None:
        self.order = [o.call_id for o in outcomes]
        self.allowed = [o for o in outcomes if isinstance(o, AllowedCall)]
        self.blocked = [o for o in outcomes if isinstance(o, BlockedCall)]
        self._format = formatter

    def tool_results(self, results: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The follow-up messages for every call: `results[call_id]` for each allowed call (an
        exception instance there becomes an error result), the block message for the others."""
        results = results or {}
        by_id: dict[str, ToolResult] = {}
        for blocked in self.blocked:
            by_id[blocked.call_id] = ToolResult(blocked.call_id, blocked.message, True, blocked.kind)
        for allowed in self.allowed:
            if allowed.call_id not in results:
                raise ValueError(
                    f"no result for the allowed tool call '{allowed.call_id}' (tool '{allowed.name}'): "
                    "the model expects one result per call; pass results[call_id]"
                )
            by_id[allowed.call_id] = _tool_result(allowed, results[allowed.call_id])
        return self._format([by_id[call_id] for call_id in self.order])


def _tool_result(call: AllowedCall, value: Any) -> ToolResult:
    if isinstance(value, GuardError):  # the tool itself is guarded (`@engine.guard`)
        return ToolResult(call.call_id, value.model_message(), True, call.kind)
    if isinstance(value, BaseException):
        text = f"The tool '{call.name}' failed: {type(value).__name__}: {value}"
        return ToolResult(call.call_id, text, True, call.kind)
    return ToolResult(call.call_id, result_text(value), False, call.kind)


def result_text(value: Any) -> str:
    """Tool output as the text the model reads: strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def parse_arguments(name: str, call_id: str, raw: Any, kind: str = "function") -> ToolCallRequest:
    """A request from arguments the provider sends as a JSON string (OpenAI). Malformed JSON or a
    non-object becomes a `problem`; the message names the position, never the content."""
    if isinstance(raw, Mapping):
        return ToolCallRequest(call_id, name, dict(raw), kind)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ToolCallRequest(call_id, name, {}, kind)  # a tool without parameters
    try:
        args = json.loads(raw)
    except (TypeError, ValueError) as exc:
        where = (
            f" ({exc.msg} at line {exc.lineno} column {exc.colno})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        return ToolCallRequest(call_id, name, {}, kind, problem=f"the arguments are not valid JSON{where}")
    if not isinstance(args, dict):
        return ToolCallRequest(
            call_id,
            name,
            {},
            kind,
            problem=f"the arguments must be a JSON object, not a JSON {_json_kind(args)}",
        )
    return ToolCallRequest(call_id, name, args, kind)


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _malformed(engine: Engine, action: Action, problem: str) -> Decision:
    """A block decision for arguments nobody can check; recorded like any other decision."""
    reason = f"{problem}; call the tool again with its arguments as one valid JSON object"
    decision = outside_decision(
        RuleHit(MALFORMED_ARGUMENTS_RULE, Verdict.BLOCK, reason, Severity.LOW, source="contract"),
        tool=action.tool,
        decision_id=action.decision_id(),
        timestamp=time.time(),
        context=action.context,
        call_id=action.call_id,
        policy_revision=engine.policy.revision,
    )
    engine.record(decision, action)
    return decision


def _outcome(request: ToolCallRequest, action: Action, decision: Decision) -> AllowedCall:
    args = (
        dict(decision.args)
        if decision.verdict is Verdict.MODIFY and decision.args is not None
        else dict(action.args)
    )
    return AllowedCall(request.call_id, request.name, args, decision, request.kind)


def _blocked(request: ToolCallRequest, exc: GuardError) -> BlockedCall:
    return BlockedCall(request.call_id, request.name, exc.decision, exc.model_message(), request.kind)


def _admitted(request: ToolCallRequest, action: Action, decision: Decision) -> AllowedCall | BlockedCall:
    refused = refusal(decision, action)
    return _outcome(request, action, decision) if refused is None else _blocked(request, refused)


def decide(engine: Engine, request: ToolCallRequest) -> AllowedCall | BlockedCall:
    """One call -> allowed (maybe rewritten) or blocked, by `engine.admit` (an `ask` goes to the
    engine's approval handler when it has one)."""
    action = Action(request.name, request.args, call_id=request.call_id)
    if request.problem is not None:
        return _blocked(request, GuardBlocked(_malformed(engine, action, request.problem), action))
    return _admitted(request, action, engine.admit(action))


async def adecide(engine: Engine, request: ToolCallRequest) -> AllowedCall | BlockedCall:
    action = Action(request.name, request.args, call_id=request.call_id)
    if request.problem is not None:
        return _blocked(request, GuardBlocked(_malformed(engine, action, request.problem), action))
    return _admitted(request, action, await engine.aadmit(action))


def guard_requests(
    engine: Engine, requests: Sequence[ToolCallRequest], formatter: ResultFormatter
) -> GuardedCalls:
    return GuardedCalls([decide(engine, r) for r in requests], formatter)


async def aguard_requests(
    engine: Engine, requests: Sequence[ToolCallRequest], formatter: ResultFormatter
) -> GuardedCalls:
    return GuardedCalls([await adecide(engine, r) for r in requests], formatter)


def _lookup(call: AllowedCall, tools: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
    fn = tools.get(call.name)
    if fn is None:
        known = ", ".join(sorted(tools)) or "none"
        raise LookupError(f"there is no tool named '{call.name}' (available: {known})")
    return fn


def _record(span: ToolCall, call: AllowedCall, value: Any, results: dict[str, Any]) -> None:
    """Keep the result for the model; a failed tool marks its span (the model still gets to read it)."""
    results[call.call_id] = value
    if isinstance(value, BaseException):
        _mark_error(span.span, value)
    else:
        span.record_result(value)


def run_requests(
    engine: Engine,
    requests: Sequence[ToolCallRequest],
    tools: Mapping[str, Callable[..., Any]],
    formatter: ResultFormatter,
) -> list[dict[str, Any]]:
    """Decide and run each call inside its own `execute_tool` span (the decision lands on it);
    return the result messages of all calls."""
    outcomes: list[AllowedCall | BlockedCall] = []
    results: dict[str, Any] = {}
    for request in requests:
        with tool_call(request.name, call_id=request.call_id, args=dict(request.args)) as span:
            outcome = decide(engine, request)
            span.record_decision(outcome.decision)  # also when the engine is not traced
            outcomes.append(outcome)
            if isinstance(outcome, AllowedCall):
                try:
                    value = _lookup(outcome, tools)(**outcome.args)
                except Exception as exc:  # the model reads the failure and can adapt
                    value = exc
                _record(span, outcome, value, results)
    return GuardedCalls(outcomes, formatter).tool_results(results)


async def arun_requests(
    engine: Engine,
    requests: Sequence[ToolCallRequest],
    tools: Mapping[str, Callable[..., Any]],
    formatter: ResultFormatter,
) -> list[dict[str, Any]]:
    """`run_requests` for async agents: coroutine tools are awaited, plain ones called."""
    outcomes: list[AllowedCall | BlockedCall] = []
    results: dict[str, Any] = {}
    for request in requests:
        with tool_call(request.name, call_id=request.call_id, args=dict(request.args)) as span:
            outcome = await adecide(engine, request)
            span.record_decision(outcome.decision)  # also when the engine is not traced
            outcomes.append(outcome)
            if isinstance(outcome, AllowedCall):
                try:
                    value = _lookup(outcome, tools)(**outcome.args)
                    if inspect.isawaitable(value):
                        value = await value
                except Exception as exc:
                    value = exc
                _record(span, outcome, value, results)
    return GuardedCalls(outcomes, formatter).tool_results(results)
