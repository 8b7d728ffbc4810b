"""Retry boundaries and graceful degradation for model (or any provider) calls.

    answer = resilient_call(
        lambda: client.chat(model="big", messages=msgs),
        retries=3, backoff=Backoff(initial=0.2, maximum=5), timeout_s=30,
        breaker=breakers.get("provider-a/big"),
        fallbacks=[Fallback(lambda: client.chat(model="small", messages=msgs), "small", breakers.get("small"))],
    )
    # ... or raises Unavailable("can't do that right now: ...") instead of hanging

Each target (the primary, then each fallback in order) is tried up to `retries + 1` times with
exponential backoff and jitter (tenacity), each attempt bounded by `timeout_s`. A target whose circuit
breaker is open is skipped at once. Exceptions outside `retry_on` (or inside `give_up_on`: by default
Railguard's own errors, such as a blocked call) are the caller's problem, not the provider's: they
propagate unchanged and count as the provider answering. A sync attempt that times out is abandoned,
not killed: its worker thread finishes in the background. Every attempt is a span
(`railguard.attempt`) when OpenTelemetry is installed; without an SDK configured that is a no-op.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import tenacity

from railguard.errors import AttemptTimeout, CircuitOpen, RailguardError, Unavailable

try:  # tracing is optional: the attempts are spans only if OpenTelemetry is there
    from opentelemetry import trace as _otel_trace
except ImportError:  # pragma: no cover - depends on the installation
    _otel_trace = None  # type: ignore[assignment]

T = TypeVar("T")
_TIMEOUT_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="railguard-call")


class CircuitBreaker:
    """Per provider/model, in-process: opens after `failure_threshold` failures within `window_s`,
    stays open `reset_s`, then lets ONE probe through (half-open): success closes it, failure
    re-opens it. Thread-safe. `clock` is injectable so behaviour can be tested without sleeping."""

    def __init__(
        self,
        name: str = "",
        *,
        failure_threshold: int = 5,
        window_s: float = 60.0,
        reset_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.reset_s = reset_s
        self._clock = clock
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state(self._clock())

    def _state(self, now: float) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if now - self._opened_at >= self.reset_s else "open"

    def acquire(self) -> None:
        """Raise CircuitOpen unless a call may go through now (in half-open: the single probe)."""
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state == "closed":
                return
            if state == "half_open" and not self._probing:
                self._probing = True
                return
            opened = self._opened_at or now
            raise CircuitOpen(self.name, max(0.0, opened + self.reset_s - now))

    def record_success(self) -> None:
        with self._lock:
            self._failures.clear()
            self._opened_at = None
            self._probing = False

    def record_failure(self) -> None:
        with self._lock:
            now = self._clock()
            if self._probing or self._opened_at is not None:  # the probe failed: open again
                self._opened_at, self._probing = now, False
                return
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self.window_s:
                self._failures.popleft()
            if len(self._failures) >= self.failure_threshold:
                self._opened_at = now


class Breakers:
    """One breaker per provider/model name, created on first use with the same settings."""

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._by_name: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._by_name.get(name)
            if breaker is None:
                breaker = self._by_name[name] = CircuitBreaker(name, **self._settings)
            return breaker


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential: initial * multiplier**n seconds plus up to `jitter` random seconds, capped."""

    initial: float = 0.2
    maximum: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential_jitter(
            initial=self.initial, max=self.maximum, exp_base=self.multiplier, jitter=self.jitter
        )


@dataclass(frozen=True, slots=True)
class Fallback(Generic[T]):
    fn: Callable[[], T]
    name: str = ""
    breaker: CircuitBreaker | None = None


@dataclass(frozen=True, slots=True)
class _Policy:
    retries: int
    backoff: Backoff
    timeout_s: float | None
    retry_on: tuple[type[BaseException], ...]
    give_up_on: tuple[type[BaseException], ...]

    def retryable(self, err: BaseException) -> bool:
        return isinstance(err, self.retry_on) and not isinstance(err, self.give_up_on)


class _Outcome:
    """The failures collected across targets, for the Unavailable summary."""

    def __init__(self) -> None:
        self.failures: list[tuple[str, str]] = []
        self.last: list[BaseException] = []
        self.parts: list[str] = []

    def target_failed(self, name: str, errors: list[BaseException]) -> None:
        if isinstance(errors[-1], CircuitOpen):
            self.parts.append(str(errors[-1]))
        else:
            kinds = ", ".join(dict.fromkeys(type(e).__name__ for e in errors))
            self.parts.append(f"{name} failed {len(errors)} time(s) ({kinds})")
        self.failures.extend((name, type(e).__name__) for e in errors)
        self.last.append(errors[-1])

    def unavailable(self) -> Unavailable:
        return Unavailable("; ".join(self.parts), self.failures, self.last)


def _name_of(fn: Callable[..., Any], given: str) -> str:
    return given or getattr(fn, "__qualname__", None) or type(fn).__name__


def _targets(
    fn: Callable[[], Any],
    name: str,
    breaker: CircuitBreaker | None,
    fallbacks: Sequence[Fallback[Any] | Callable[[], Any]],
) -> list[Fallback[Any]]:
    out: list[Fallback[Any]] = [Fallback(fn, _name_of(fn, name), breaker)]
    for item in fallbacks:
        target = item if isinstance(item, Fallback) else Fallback(item)
        out.append(Fallback(target.fn, _name_of(target.fn, target.name), target.breaker))
    return out


def _span(name: str, attempt: int) -> Any:
    """Each attempt is a span on Railguard's tracer when tracing is configured (so it is redacted
    and stored with the run), else on the application's global OpenTelemetry tracer, if any."""
    from railguard.trace import active_tracing

    tracing = active_tracing()
    if tracing is not None:
        tracer = tracing.provider.get_tracer("railguard.state.retry")
    elif _otel_trace is not None:
        tracer = _otel_trace.get_tracer("railguard.state.retry")
    else:
        return _NoSpan()
    return _Traced(tracer.start_as_current_span("railguard.attempt"), name, attempt)


class _NoSpan:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> None:
        return None


class _Traced:
    def __init__(self, cm: Any, target: str, attempt: int) -> None:
        self._cm, self._target, self._attempt = cm, target, attempt

    def __enter__(self) -> None:
        span = self._cm.__enter__()
        span.set_attribute("railguard.target", self._target)
        span.set_attribute("railguard.attempt", self._attempt)

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)


def resilient_call(
    fn: Callable[[], T],
    *,
    retries: int = 3,
    backoff: Backoff | None = None,
    timeout_s: float | None = None,
    breaker: CircuitBreaker | None = None,
    fallbacks: Sequence[Fallback[T] | Callable[[], T]] = (),
    name: str = "",
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    give_up_on: tuple[type[BaseException], ...] = (RailguardError,),
) -> T:
    """Call `fn()` (then each fallback) with retries, backoff, a timeout per attempt and breakers;
    raise Unavailable when none succeeds."""
    policy = _Policy(retries, backoff or Backoff(), timeout_s, retry_on, give_up_on)
    outcome = _Outcome()
    for target in _targets(fn, name, breaker, fallbacks):
        errors: list[BaseException] = []
        try:
            return _run_target(target, policy, errors)
        except Exception as err:
            if not isinstance(err, CircuitOpen) and not policy.retryable(err):
                raise
        outcome.target_failed(target.name, errors)
    raise outcome.unavailable()


def _run_target(target: Fallback[T], policy: _Policy, errors: list[BaseException]) -> T:
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.retries + 1),
        wait=policy.backoff.wait(),
        retry=tenacity.retry_if_exception(lambda e: not isinstance(e, CircuitOpen) and policy.retryable(e)),
        reraise=True,
    )
    for attempt in retrying:
        with attempt, _span(target.name, attempt.retry_state.attempt_number):
            _acquire(target, errors)
            try:
                result = _call_with_timeout(target.fn, policy.timeout_s)
            except Exception as err:
                errors.append(err)
                _report(target.breaker, policy, err)
                raise
            if target.breaker is not None:
                target.breaker.record_success()
            return result
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _acquire(target: Fallback[Any], errors: list[BaseException]) -> None:
    if target.breaker is None:
        return
    try:
        target.breaker.acquire()
    except CircuitOpen as err:
        errors.append(err)
        raise


def _report(breaker: CircuitBreaker | None, policy: _Policy, err: BaseException) -> None:
    if breaker is None:
        return
    if policy.retryable(err):
        breaker.record_failure()
    else:
        breaker.record_success()  # the provider answered; the caller's request was the problem


def _call_with_timeout(fn: Callable[[], T], timeout_s: float | None) -> T:
    if timeout_s is None:
        return fn()
    future = _TIMEOUT_POOL.submit(fn)
    try:
        return future.result(timeout=timeout_s)
    except FutureTimeout:
        future.cancel()
        raise AttemptTimeout(f"no answer within {timeout_s:g} s") from None


async def aresilient_call(
    fn: Callable[[], Awaitable[T]],
    *,
    retries: int = 3,
    backoff: Backoff | None = None,
    timeout_s: float | None = None,
    breaker: CircuitBreaker | None = None,
    fallbacks: Sequence[Fallback[Awaitable[T]] | Callable[[], Awaitable[T]]] = (),
    name: str = "",
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    give_up_on: tuple[type[BaseException], ...] = (RailguardError,),
) -> T:
    """The async form of `resilient_call`: `fn` and the fallbacks return awaitables; attempts are
    cancelled (not abandoned) when they time out."""
    policy = _Policy(retries, backoff or Backoff(), timeout_s, retry_on, give_up_on)
    outcome = _Outcome()
    for target in _targets(fn, name, breaker, fallbacks):
        errors: list[BaseException] = []
        try:
            return await _arun_target(target, policy, errors)
        except Exception as err:
            if not isinstance(err, CircuitOpen) and not policy.retryable(err):
                raise
        outcome.target_failed(target.name, errors)
    raise outcome.unavailable()


async def _arun_target(target: Fallback[Awaitable[T]], policy: _Policy, errors: list[BaseException]) -> T:
    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(policy.retries + 1),
        wait=policy.backoff.wait(),
        retry=tenacity.retry_if_exception(lambda e: not isinstance(e, CircuitOpen) and policy.retryable(e)),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt, _span(target.name, attempt.retry_state.attempt_number):
            _acquire(target, errors)
            try:
                if policy.timeout_s is None:
                    result = await target.fn()
                else:
                    result = await asyncio.wait_for(target.fn(), policy.timeout_s)
            except Exception as err:
                if isinstance(err, TimeoutError) and policy.timeout_s is not None:
                    err = AttemptTimeout(f"no answer within {policy.timeout_s:g} s")
                errors.append(err)
                _report(target.breaker, policy, err)
                raise err from None
            if target.breaker is not None:
                target.breaker.record_success()
            return result
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
