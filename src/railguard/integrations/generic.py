"""Railguard for any framework: guarded tool functions that answer with values, not exceptions.

Some frameworks want every tool call to produce a value they can hand back to the model. `guarded`
and `GuardedToolkit` check each call with the engine first and return, instead of raising, a
`ToolOutcome(blocked=True, message=...)` whose message is written for the model to read:

    toolkit = GuardedToolkit(engine, {"send_email": send_email, "search": search})
    result = toolkit.call("send_email", {"to": "x@example.com", "body": "hi"}, call_id="call_1")
    if isinstance(result, ToolOutcome):         # blocked, needs approval, or broke its output contract
        reply_to_model(result.message)

Each call goes through `engine.admit`, the one admission path: allow runs the tool; modify runs it
with the rewritten arguments; block returns the refusal; ask waits on `engine.approval_handler` when
one is set (and runs only once the re-check under the approval allows it), otherwise returns the
refusal.
Each call runs inside an `execute_tool` span (`railguard.trace.tool_call`), where the decision of a
traced engine (`trace_engine(engine)`) lands.

The helpers below (`admit`, `tool_span`, `CallbackSpans`) are shared by the framework integrations.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from railguard._decisions import refusal
from railguard.engine import Engine
from railguard.errors import ConfigurationError, ContractViolation
from railguard.model import Action, Decision, Verdict
from railguard.trace import ToolCall, active_tracing, tool_call
from railguard.trace import _keys as k

__all__ = ["CallbackSpans", "GuardedToolkit", "ToolOutcome", "aadmit", "admit", "guarded", "tool_span"]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What a guarded call returns instead of the tool's result when it did not run (or its output
    broke the tool's contract). `message` is written for the model."""

    blocked: bool
    message: str
    decision: Decision | None = None

    @property
    def verdict(self) -> Verdict | None:
        return None if self.decision is None else self.decision.verdict


# -- deciding ------------------------------------------------------------------------------------


def _refusal_message(action: Action, decision: Decision) -> str | None:
    refused = refusal(decision, action)
    return None if refused is None else refused.model_message()


def admit(engine: Engine, action: Action) -> tuple[Decision, str | None]:
    """`engine.admit(action)`, and, when the call must not run, the model-readable refusal."""
    decision = engine.admit(action)
    return decision, _refusal_message(action, decision)


async def aadmit(engine: Engine, action: Action) -> tuple[Decision, str | None]:
    """The async form of `admit`."""
    decision = await engine.aadmit(action)
    return decision, _refusal_message(action, decision)


def effective_args(action: Action, decision: Decision) -> dict[str, Any]:
    """The arguments to run the tool with: the rewritten ones for a modify verdict."""
    if decision.verdict is Verdict.MODIFY and decision.args is not None:
        return dict(decision.args)
    return dict(action.args)


# -- spans ---------------------------------------------------------------------------------------


def _open_tool_span(name: str) -> Span | None:
    """The current span when it is already the `execute_tool {name}` span of this call (opened by a
    framework's tracing integration), so a guard records onto it instead of nesting a twin."""
    span = otel_trace.get_current_span()
    if span.is_recording() and getattr(span, "name", None) == f"{k.OP_TOOL} {name}":
        return span
    return None


@contextlib.contextmanager
def tool_span(name: str, call_id: str | None = None, args: Any = None) -> Iterator[ToolCall]:
    """`railguard.trace.tool_call`, unless that very span is already open: then it is reused (and
    given the call id, which callback-based frameworks only know inside the call)."""
    existing = _open_tool_span(name)
    if existing is None:
        with tool_call(name, call_id=call_id, args=args) as call:
            yield call
        return
    tracing = active_tracing()
    if call_id:
        existing.set_attribute(k.TOOL_CALL_ID, call_id)
    yield ToolCall(existing, name, bool(tracing and tracing.recorder.capture_content))


class CallbackSpans:
    """Railguard spans for frameworks that report their steps as start/end callbacks keyed by ids
    (LangChain run ids, Agents SDK span ids). A span's parent is the span of `parent` when that is
    known, else the current OpenTelemetry span (e.g. the `railguard.run(...)` scope). Keys may be
    `alias`ed to their parent so steps Railguard does not trace still pass their children on.
    Thread-safe; a no-op while tracing is off."""

    def __init__(self) -> None:
        self._spans: dict[Hashable, tuple[Span, bool]] = {}  # key -> (span, owned: we end it)
        self._aliases: dict[Hashable, Hashable] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _tracer() -> tuple[Tracer, bool] | None:
        tracing = active_tracing()
        if tracing is None:
            return None
        return tracing.recorder.tracer, tracing.recorder.capture_content

    @property
    def capture_content(self) -> bool:
        found = self._tracer()
        return found is not None and found[1]

    def _resolve(self, key: Hashable | None) -> Span | None:
        seen = 0
        while key is not None and seen < 64:  # bounded: a cycle in a framework's ids must not hang
            entry = self._spans.get(key)
            if entry is not None:
                return entry[0]
            key = self._aliases.get(key)
            seen += 1
        return None

    def start(
        self,
        key: Hashable,
        name: str,
        attributes: Mapping[str, Any],
        *,
        parent: Hashable | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> Span | None:
        found = self._tracer()
        if found is None:
            return None
        with self._lock:
            parent_span = self._resolve(parent)
        context = otel_trace.set_span_in_context(parent_span) if parent_span is not None else None
        span = found[0].start_span(name, context=context, kind=kind, attributes=dict(attributes))
        with self._lock:
            self._spans[key] = (span, True)
        return span

    def adopt(self, key: Hashable, span: Span) -> None:
        """Track a span someone else opened (and will end) under `key`."""
        with self._lock:
            self._spans[key] = (span, False)

    def alias(self, key: Hashable, parent: Hashable | None) -> None:
        with self._lock:
            if parent is not None:
                self._aliases[key] = parent

    def get_resolved(self, key: Hashable | None) -> Span | None:
        """The span of `key`, or of its nearest traced ancestor through aliases."""
        with self._lock:
            return self._resolve(key)

    def get(self, key: Hashable) -> Span | None:
        with self._lock:
            entry = self._spans.get(key)
        return None if entry is None else entry[0]

    def end(self, key: Hashable, *, error_type: str | None = None, failed: bool = True) -> Span | None:
        """Forget `key` and end its span if we opened it. `error_type` sets `error.type`; `failed`
        also sets an error status (a guard's refusal is not a failure of the step)."""
        with self._lock:
            entry = self._spans.pop(key, None)
            self._aliases.pop(key, None)
        if entry is None:
            return None
        span, owned = entry
        if error_type:
            span.set_attribute(k.ERROR_TYPE, error_type)
            if failed:
                span.set_status(Status(StatusCode.ERROR, error_type))
        if owned:
            span.end()
        return span


# -- guarded functions ---------------------------------------------------------------------------


def _named_args(sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[name] = value
    return out


def _require_named_parameters(fn: Callable[..., Any], tool: str) -> inspect.Signature:
    sig = inspect.signature(fn)
    positional = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL)
    ]
    if positional:
        raise ConfigurationError(
            f"tool '{tool}' has positional-only parameters {positional}; a guarded tool is called with "
            "named arguments (the engine may rewrite them by name): make them keyword parameters"
        )
    return sig


def _checked_output(engine: Engine, action: Action, result: Any) -> Any:
    try:
        return engine.check_output(action.tool, result, action=action)
    except ContractViolation as err:
        return ToolOutcome(True, f"Railguard stopped the output of '{action.tool}': {err}", err.decision)


def _run_sync(engine: Engine, fn: Callable[..., Any], action: Action) -> Any:
    with tool_span(action.tool, call_id=action.call_id, args=action.args) as span:
        decision, refusal = admit(engine, action)
        if refusal is not None:
            return ToolOutcome(True, refusal, decision)
        result = _checked_output(engine, action, fn(**effective_args(action, decision)))
        span.record_result(result.message if isinstance(result, ToolOutcome) else result)
        return result


async def _run_async(engine: Engine, fn: Callable[..., Any], action: Action) -> Any:
    with tool_span(action.tool, call_id=action.call_id, args=action.args) as span:
        decision, refusal = await aadmit(engine, action)
        if refusal is not None:
            return ToolOutcome(True, refusal, decision)
        value = fn(**effective_args(action, decision))
        if inspect.isawaitable(value):
            value = await value
        result = _checked_output(engine, action, value)
        span.record_result(result.message if isinstance(result, ToolOutcome) else result)
        return result


def guarded(engine: Engine, fn: Callable[..., Any], *, name: str | None = None) -> Callable[..., Any]:
    """Wrap `fn` (sync or async) so each call is checked first. Same parameters as `fn` (plus an
    optional `call_id=` keyword when `fn` has none); returns the result, or a `ToolOutcome`."""
    tool = name or getattr(fn, "__name__", None) or type(fn).__name__
    sig = _require_named_parameters(fn, tool)
    takes_call_id = "call_id" in sig.parameters

    def action_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Action:
        call_id = None if takes_call_id else kwargs.pop("call_id", None)
        return Action(tool, _named_args(sig, args, kwargs), call_id=call_id)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await _run_async(engine, fn, action_of(args, kwargs))

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _run_sync(engine, fn, action_of(args, kwargs))

    return wrapper


class GuardedToolkit:
    """Named tool functions behind one engine: `call(name, args, call_id)` / `acall(...)`."""

    def __init__(self, engine: Engine, tools: Mapping[str, Callable[..., Any]]) -> None:
        self.engine = engine
        self._tools = dict(tools)
        for tool, fn in self._tools.items():
            _require_named_parameters(fn, tool)

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    def _lookup(self, name: str) -> Callable[..., Any] | ToolOutcome:
        fn = self._tools.get(name)
        if fn is None:
            return ToolOutcome(
                True, f"There is no tool named '{name}'. Available tools: {', '.join(self.names)}."
            )
        return fn

    def call(self, name: str, args: Mapping[str, Any] | None = None, call_id: str | None = None) -> Any:
        """Run tool `name` with `args` when the engine allows it. An async tool needs `acall`."""
        fn = self._lookup(name)
        if isinstance(fn, ToolOutcome):
            return fn
        if inspect.iscoroutinefunction(fn):
            raise ConfigurationError(f"tool '{name}' is async: use `await toolkit.acall(...)`")
        return _run_sync(self.engine, fn, Action(name, dict(args or {}), call_id=call_id))

    async def acall(
        self, name: str, args: Mapping[str, Any] | None = None, call_id: str | None = None
    ) -> Any:
        """Run tool `name` (sync or async) when the engine allows it."""
        fn = self._lookup(name)
        if isinstance(fn, ToolOutcome):
            return fn
        return await _run_async(self.engine, fn, Action(name, dict(args or {}), call_id=call_id))

    def as_callables(self) -> dict[str, Callable[..., Awaitable[Any] | Any]]:
        """One guarded callable per tool, for frameworks that take a dict of functions."""
        return {name: guarded(self.engine, fn, name=name) for name, fn in self._tools.items()}
