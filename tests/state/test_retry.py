"""resilient_call: retries with backoff, breakers, fallbacks, timeouts, Unavailable; sync and async."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from railguard.errors import GuardBlocked
from railguard.model import Decision, Verdict
from railguard.state.retry import (
    AttemptTimeout,
    Backoff,
    Breakers,
    CircuitBreaker,
    CircuitOpen,
    Fallback,
    Unavailable,
    aresilient_call,
    resilient_call,
)

FAST = Backoff(initial=0.001, maximum=0.002, jitter=0.0)


class Provider:
    """A stand-in model endpoint: fails `failures` times with `error`, then answers."""

    def __init__(self, name: str, failures: int = 0, error: type[Exception] = ConnectionError) -> None:
        self.name, self.failures, self.error, self.calls = name, failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"{self.name} overloaded")
        return f"{self.name} answer"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_retries_until_success() -> None:
    big = Provider("big", failures=2)
    assert resilient_call(big, retries=3, backoff=FAST) == "big answer"
    assert big.calls == 3


def test_falls_back_in_order_and_explains_when_nothing_works() -> None:
    big, small = Provider("big", failures=99), Provider("small", failures=1)
    assert resilient_call(big, retries=1, backoff=FAST, fallbacks=[small]) == "small answer"
    assert (big.calls, small.calls) == (2, 2)
    dead = [Provider("a", failures=99), Provider("b", failures=99, error=TimeoutError)]
    with pytest.raises(Unavailable) as caught:
        resilient_call(
            dead[0], name="model-a", retries=2, backoff=FAST, fallbacks=[Fallback(dead[1], "model-b")]
        )
    err = caught.value
    assert str(err) == (
        "can't do that right now: model-a failed 3 time(s) (ConnectionError); "
        "model-b failed 3 time(s) (TimeoutError); try again later"
    )
    assert err.failures[0] == ("model-a", "ConnectionError") and len(err.failures) == 6
    assert "overloaded" not in str(err)  # provider messages stay out of the summary


def test_caller_errors_are_not_retried_nor_hidden() -> None:
    bad_request = Provider("big", failures=5, error=ValueError)
    with pytest.raises(ValueError):
        resilient_call(bad_request, retries=3, backoff=FAST, retry_on=(ConnectionError,))
    assert bad_request.calls == 1

    attempts: list[int] = []

    def blocked() -> str:
        attempts.append(1)
        raise GuardBlocked(Decision(Verdict.BLOCK, "over the limit", "d-1", "chat"))

    with pytest.raises(GuardBlocked):
        resilient_call(blocked, retries=3, backoff=FAST, fallbacks=[Provider("never-used")])
    assert attempts == [1]


def test_breaker_opens_after_failures_in_window_and_probes_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker("big", failure_threshold=3, window_s=10, reset_s=30, clock=clock)
    for _ in range(2):
        breaker.record_failure()
        clock.now += 6  # the first failure leaves the 10 s window before the third arrives
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen, match="next probe in 30 s"):
        breaker.acquire()
    clock.now += 30
    assert breaker.state == "half_open"
    breaker.acquire()  # the one probe
    with pytest.raises(CircuitOpen):
        breaker.acquire()  # everyone else waits for the probe
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 30
    breaker.acquire()
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.acquire()


def test_open_breaker_skips_straight_to_the_fallback() -> None:
    clock = Clock()
    breakers = Breakers(failure_threshold=2, window_s=60, reset_s=60, clock=clock)
    big, small = Provider("big", failures=99), Provider("small")
    for _ in range(2):
        assert (
            resilient_call(big, retries=0, breaker=breakers.get("big"), fallbacks=[small]) == "small answer"
        )
    assert breakers.get("big").state == "open" and big.calls == 2
    assert (
        resilient_call(big, retries=3, backoff=FAST, breaker=breakers.get("big"), fallbacks=[small])
        == "small answer"
    )
    assert big.calls == 2  # not even tried
    with pytest.raises(Unavailable, match="big: circuit open"):
        resilient_call(big, retries=3, backoff=FAST, breaker=breakers.get("big"))


def test_a_hanging_call_times_out_instead_of_hanging() -> None:
    release = threading.Event()

    def hang() -> str:
        release.wait(30)
        return "too late"

    try:
        with pytest.raises(Unavailable) as caught:
            resilient_call(hang, name="slow-model", retries=1, backoff=FAST, timeout_s=0.05)
        assert caught.value.failures == [("slow-model", "AttemptTimeout"), ("slow-model", "AttemptTimeout")]
        assert isinstance(caught.value.exceptions[0], AttemptTimeout)
    finally:
        release.set()


def test_async_retries_timeouts_and_fallbacks() -> None:
    calls: list[str] = []

    async def hang() -> str:
        calls.append("hang")
        await asyncio.sleep(30)
        return "too late"

    async def flaky_then_ok() -> str:
        calls.append("flaky")
        if calls.count("flaky") < 2:
            raise ConnectionError("reset")
        return "fallback answer"

    result = asyncio.run(
        aresilient_call(hang, retries=1, backoff=FAST, timeout_s=0.05, fallbacks=[flaky_then_ok])
    )
    assert result == "fallback answer"
    assert calls == ["hang", "hang", "flaky", "flaky"]

    async def down() -> str:
        raise ConnectionError("down")

    with pytest.raises(Unavailable, match="down failed 2 time"):
        asyncio.run(aresilient_call(down, retries=1, backoff=FAST))


def test_attempts_are_traced_into_railguards_store(tmp_path: Path) -> None:
    from railguard.store import open_store
    from railguard.trace import configure_tracing

    url = f"sqlite:///{tmp_path / 'traces.db'}"
    tracing = configure_tracing(url)
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError("provider hiccup")
        return "ok"

    try:
        assert resilient_call(flaky, retries=3, backoff=Backoff(initial=0.0, maximum=0.0, jitter=0.0)) == "ok"
        tracing.flush(5.0)
    finally:
        tracing.shutdown()
    with open_store(url) as store:
        runs = store.list_runs(tenant=None, limit=10)
        names = [row.name for run in runs for row in store.get_trace(run.trace_id, tenant=None)]
    assert names.count("railguard.attempt") == 3
