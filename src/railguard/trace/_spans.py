"""The recorder API: spans for agent runs, model calls and tool calls, by the gen_ai conventions.
Every function here is safe to call with tracing off (it then does nearly nothing) and never lets a
tracing problem escape into the agent; the agent's own exceptions pass through unchanged."""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from railguard._internal import internal_error, reported
from railguard.errors import GuardError
from railguard.model import Context, Decision
from railguard.trace import _keys as k
from railguard.trace import _state
from railguard.trace._cost import Cost, model_call_cost, warm_price_table
from railguard.trace._deferred import UNSET, Deferred, decision_attributes, to_json
from railguard.trace._lite_span import LiteSpan


def _mark_error(span: Span, exc: BaseException) -> None:
    """error.type and the exception event (its message is redacted on the way out). A guard's
    block/ask is recorded by railguard.verdict, not as a failure of the step."""
    try:
        span.set_attribute(k.ERROR_TYPE, type(exc).__qualname__)
        span.record_exception(exc)
        if not isinstance(exc, GuardError):
            span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
    except Exception as err:
        internal_error("tracing.span", err)


class _SpanScope:
    """The current span for a `with` block. A class rather than a generator context manager, and
    start_span + attach rather than start_as_current_span: those nest three generator layers (and
    exception bookkeeping we switch off anyway) on the agent's thread for every span."""

    __slots__ = ("_attributes", "_clock", "_kind", "_name", "_token", "span")

    def __init__(self, name: str, kind: SpanKind, attributes: dict[str, Any] | None) -> None:
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._token: object | None = None
        self._clock: Callable[[], int] | None = None
        self.span: Span = INVALID_SPAN

    def __enter__(self) -> Span:
        recorder = _state.current()
        if not recorder.enabled:
            return INVALID_SPAN
        self._clock = recorder.clock
        try:
            span = recorder.tracer.start_span(
                self._name,
                kind=self._kind,
                attributes=self._attributes,
                start_time=self._clock() if self._clock is not None else None,
                record_exception=False,
                set_status_on_exception=False,
            )
        except Exception as err:
            internal_error("tracing.span", err)
            return INVALID_SPAN
        try:
            self._token = otel_context.attach(trace.set_span_in_context(span))
        except Exception as err:
            internal_error("tracing.span", err)
            with reported("tracing.span"):
                span.end()
            return INVALID_SPAN
        self.span = span
        return span

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        if self._token is None:
            return
        # Not GeneratorExit/KeyboardInterrupt: those just end the span. The exception propagates.
        if isinstance(exc, Exception):
            _mark_error(self.span, exc)
        with reported("tracing.span"):
            otel_context.detach(self._token)  # type: ignore[arg-type]
        with reported("tracing.span"):
            self.span.end(end_time=self._clock() if self._clock is not None else None)


# -- agent runs ----------------------------------------------------------------------------------


def run_span(ctx: Context) -> contextlib.AbstractContextManager[Span]:
    """The `invoke_agent` span of a `railguard.run(...)` scope (installed in RUN_HOOKS)."""
    attributes: dict[str, Any] = {k.OPERATION: k.OP_AGENT, **identity_attributes(ctx)}
    name = f"{k.OP_AGENT} {ctx.agent}" if ctx.agent else k.OP_AGENT
    return _SpanScope(name, SpanKind.INTERNAL, attributes)


def identity_attributes(ctx: Context) -> dict[str, Any]:
    """Who acted, as span attributes: agent, session, tenant, user, version, run. On a run's root span,
    and on a tool call that is its own trace (a hook, a proxy), so its run is attributed too."""
    version = ctx.labels.get("agent.version") or ctx.labels.get("version")
    pairs = (
        (k.AGENT_NAME, ctx.agent),
        (k.CONVERSATION_ID, ctx.session),
        (k.TENANT, ctx.tenant),
        (k.SESSION, ctx.session),
        (k.USER, ctx.user),
        (k.AGENT_VERSION, version),
        (k.RUN_ID, ctx.run),
    )
    return {key: value for key, value in pairs if value}


# -- model calls ---------------------------------------------------------------------------------


class ModelCall:
    """Handle of an open `chat {model}` span."""

    __slots__ = ("_capture", "cost", "model", "on_usage", "provider", "span")

    def __init__(self, span: Span, provider: str, model: str, capture: bool) -> None:
        self.span = span
        self.provider = provider
        self.model = model
        self._capture = capture
        self.cost: Cost | None = None
        # Told (tokens, cost in USD) of every usage recorded, traced or not: an engine's budgets.
        self.on_usage: Callable[[int, float], None] | None = None

    def record_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        response_model: str | None = None,
    ) -> Cost | None:
        """Token counts as the provider reports them: input INCLUDING cached tokens, output
        INCLUDING reasoning tokens (convert first if your provider reports them apart). Prices the
        call when the model is in the price table; returns the cost (None when unknown)."""
        recording = self.span.is_recording()
        if not recording and self.on_usage is None:
            return None
        try:
            for key, value in (
                (k.INPUT_TOKENS, input_tokens),
                (k.OUTPUT_TOKENS, output_tokens),
                (k.CACHE_READ_TOKENS, cache_read_tokens),
                (k.REASONING_TOKENS, reasoning_tokens),
                (k.RESPONSE_MODEL, response_model),
            ):
                if value is not None and recording:
                    self.span.set_attribute(key, value)
            self.cost = model_call_cost(
                response_model or self.model,
                provider=self.provider,
                input_tokens=input_tokens or 0,
                output_tokens=output_tokens or 0,
                cache_read_tokens=cache_read_tokens or 0,
                reasoning_tokens=reasoning_tokens or 0,
            )
            if self.cost is not None and recording:
                self.span.set_attribute(k.COST_USD, self.cost.usd)
                self.span.set_attribute(k.PRICE_VERSION, self.cost.price_version)
            tokens = int(input_tokens or 0) + int(output_tokens or 0)
        except Exception as err:  # a count that is not a number is the caller's input, not a bug
            internal_error("tracing.cost", err, expected=isinstance(err, TypeError | ValueError))
            return None
        if self.on_usage is not None:
            try:
                self.on_usage(tokens, self.cost.usd if self.cost is not None else 0.0)
            except Exception as err:
                internal_error("tracing.usage", err)
        return self.cost

    def record_output(self, messages: Any, *, finish_reasons: list[str] | None = None) -> None:
        """The model's output messages (content is captured only when enabled; redacted on export)."""
        if not self.span.is_recording():
            return
        if self._capture:
            self.span.set_attribute(k.OUTPUT_MESSAGES, to_json(messages))
        if finish_reasons:
            self.span.set_attribute(k.FINISH_REASONS, list(finish_reasons))

    def set_attribute(self, key: str, value: Any) -> None:
        self.span.set_attribute(key, value)


@contextlib.contextmanager
def model_call(
    provider: str,
    model: str,
    *,
    operation: str = k.OP_CHAT,
    input_messages: Any = None,
    conversation_id: str | None = None,
) -> Iterator[ModelCall]:
    """A `chat {model}` span (client kind) around one model request."""
    recorder = _state.current()
    if recorder.enabled:
        warm_price_table()  # before the span starts: its duration is the model call's alone
    attributes: dict[str, Any] = {k.OPERATION: operation, k.PROVIDER: provider, k.REQUEST_MODEL: model}
    if conversation_id:
        attributes[k.CONVERSATION_ID] = conversation_id
    if input_messages is not None and recorder.capture_content:
        attributes[k.INPUT_MESSAGES] = to_json(input_messages)
    with _SpanScope(f"{operation} {model}", SpanKind.CLIENT, attributes) as span:
        yield ModelCall(span, provider, model, recorder.capture_content)


# -- tool calls ----------------------------------------------------------------------------------


class ToolCall:
    """Handle of an open `execute_tool {tool}` span."""

    __slots__ = ("_capture", "_deferred", "name", "span")

    def __init__(self, span: Span, name: str, capture: bool, deferred: Deferred | None = None) -> None:
        self.span = span
        self.name = name
        self._capture = capture
        # Set when the span's attributes are encoded on the export thread (see _deferred).
        self._deferred = deferred

    def record_result(self, value: Any) -> None:
        if self._capture and self.span.is_recording():
            if self._deferred is not None:
                self._deferred.result = value
            else:
                self.span.set_attribute(k.TOOL_RESULT, to_json(value))

    def record_decision(self, decision: Decision) -> None:
        if self.span.is_recording():
            if self._deferred is not None:
                self._deferred.decision = decision
            else:
                set_decision_attributes(self.span, decision)


_open_tool: contextvars.ContextVar[ToolCall | None] = contextvars.ContextVar(
    "railguard_tool_call", default=None
)


def current_tool_call() -> ToolCall | None:
    return _open_tool.get()


class _ToolCallScope(_SpanScope):
    """A light span when the recorder has them (see _lite_span), else the SDK's. Either way, with a
    pending table (`Recorder.pending`) the span's attributes wait as plain values in a `Deferred`
    that the export thread encodes; without one they go on the span."""

    __slots__ = ("_args", "_capture", "_deferred_attributes", "_recorder", "_tool", "_tool_token")

    def __init__(self, name: str, attributes: dict[str, Any], args: Any, recorder: _state.Recorder) -> None:
        if recorder.pending is None:
            if args is not UNSET:
                attributes[k.TOOL_ARGUMENTS] = to_json(args)
            super().__init__(f"{k.OP_TOOL} {name}", SpanKind.INTERNAL, attributes)
        else:
            super().__init__(f"{k.OP_TOOL} {name}", SpanKind.INTERNAL, None)
        self._deferred_attributes = attributes
        self._args = args
        self._tool = name
        self._capture = recorder.capture_content
        self._recorder = recorder
        self._tool_token: contextvars.Token[ToolCall | None] | None = None

    def __enter__(self) -> ToolCall:  # type: ignore[override]
        recorder = self._recorder
        span: Span | None = self._enter_lite(recorder) if recorder.lite is not None else None
        if span is None:
            span = super().__enter__()
        deferred = None
        if span.is_recording():
            if isinstance(span, LiteSpan):
                deferred = span.deferred = Deferred(self._deferred_attributes, self._args)
            elif recorder.pending is not None:
                deferred = Deferred(self._deferred_attributes, self._args)
                recorder.pending[span.get_span_context().span_id] = deferred
        call = ToolCall(span, self._tool, self._capture, deferred)
        self._tool_token = _open_tool.set(call)
        return call

    def _enter_lite(self, recorder: _state.Recorder) -> LiteSpan | None:
        assert recorder.lite is not None
        try:
            span = recorder.lite.start(self._name, self._kind, recorder.clock)
            if span is not None:
                self._token = otel_context.attach(trace.set_span_in_context(span))
        except Exception as err:
            internal_error("tracing.span", err)
            return None
        self._clock = recorder.clock
        self.span = INVALID_SPAN if span is None else span
        return span

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        if self._tool_token is not None:
            _open_tool.reset(self._tool_token)
        super().__exit__(_type, exc, _tb)


def tool_call(
    name: str, call_id: str | None = None, args: Any = None, *, context: Context | None = None
) -> contextlib.AbstractContextManager[ToolCall]:
    """An `execute_tool {name}` span around one tool call (`with tool_call(...) as call:`).
    Decisions the traced engine takes inside it for the same tool land on this span. `context`:
    who acted (agent, session, tenant, user), for a call that is not inside a `railguard.run`."""
    recorder = _state.current()
    if not recorder.enabled:
        return contextlib.nullcontext(ToolCall(INVALID_SPAN, name, False))
    attributes: dict[str, Any] = {k.OPERATION: k.OP_TOOL, k.TOOL_NAME: name}
    if context is not None:
        attributes.update(identity_attributes(context))
    if call_id:
        attributes[k.TOOL_CALL_ID] = call_id
    recorded_args = args if args is not None and recorder.capture_content else UNSET
    return _ToolCallScope(name, attributes, recorded_args, recorder)


def set_decision_attributes(span: Span, decision: Decision) -> None:
    # One set_attributes call: the SDK takes the span's lock once instead of once per key.
    span.set_attributes(decision_attributes(decision))


# -- confidence ----------------------------------------------------------------------------------


def record_confidence(score: float, *, name: str = "output") -> None:
    """Confidence is telemetry: `railguard.confidence` (or `railguard.confidence.<name>`) on the
    current span, plus a `railguard.confidence` event. Non-finite scores are ignored."""
    try:
        value = float(score)
        span = trace.get_current_span()
        if not math.isfinite(value) or not span.is_recording():
            return
        key = k.CONFIDENCE if name == "output" else f"{k.CONFIDENCE}.{name}"
        span.set_attribute(key, value)
        span.add_event(k.CONFIDENCE, {"railguard.confidence.name": name, "railguard.confidence.score": value})
    except Exception as err:
        internal_error("tracing.span", err)
