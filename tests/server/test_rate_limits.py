"""Per-key rate limits hold across replicas: two app instances on one store hand out a key's window
once between them, answer 429 with Retry-After past it, and a new window opens when the old one
ends (SQLite and PostgreSQL; on PostgreSQL the server shares them by default, a single SQLite
process counts in memory)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from otlp_server import RunningServer

from railguard.server import ServerSettings
from railguard.server._ratelimit import NEED_STORE, RateLimiter, SharedRateLimiter, window_of
from railguard.store import KeyRing, open_store


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _admit(limiter: SharedRateLimiter, key: str, rate: float) -> int | None:
    taken = limiter.take(key, rate)
    return limiter.claim(key, rate) if taken is NEED_STORE else taken  # type: ignore[return-value]


def test_windows_of_a_rate() -> None:
    assert window_of(1000) == (1.0, 1000)
    assert window_of(2.5) == (1.0, 2)
    assert window_of(0.01) == (100.0, 1)
    assert window_of(0.4) == (2.5, 1)
    assert window_of(1e12) == (1.0, 2**31 - 1)  # fits the store's integer


def test_two_replicas_share_one_window_exactly(store_url: str) -> None:
    clock = Clock(1_000_000.0)
    behind = Clock(clock.now - 0.4)  # a replica whose clock runs behind the other's
    with open_store(store_url) as one_store, open_store(store_url) as two_store:
        one, two = SharedRateLimiter(one_store, clock), SharedRateLimiter(two_store, behind)
        rate = 64  # 64 a window, claimed 4 at a time
        answers = [_admit(limiter, "k1", rate) for _ in range(50) for limiter in (one, two)]
        assert answers.count(None) == 64 and None not in answers[64:]
        # Retry-After: until the window (opened at one's clock) ends, as each replica's clock reads it.
        assert set(answers[64::2]) == {1} and set(answers[65::2]) == {2}
        assert _admit(one, "k2", rate) is None  # another key has its own window

        clock.now += 0.7  # the window opened at one's clock; it has not ended on two's
        behind.now += 0.7
        assert _admit(two, "k1", rate) == 1
        clock.now += 0.3  # ended by one's clock: a new window
        behind.now += 0.3
        assert _admit(one, "k1", rate) is None
        assert _admit(two, "k1", rate) == 1  # two still reads the old window as open: it waits for it
        clock.now += 0.5
        behind.now += 0.5  # now two is past the old window too: it claims from the new one, not a third
        assert sum(_admit(limiter, "k1", rate) is None for _ in range(50) for limiter in (one, two)) == 63


def test_a_slow_rate_is_one_request_per_window(store_url: str) -> None:
    clock = Clock(5_000.0)
    with open_store(store_url) as store:
        limiter = SharedRateLimiter(store, clock)
        assert _admit(limiter, "slow", 0.01) is None
        clock.now += 30
        assert _admit(limiter, "slow", 0.01) == 70
        clock.now += 70
        assert _admit(limiter, "slow", 0.01) is None


def test_a_store_that_fails_falls_back_to_this_replicas_own_count() -> None:
    store = open_store("sqlite://")
    limiter = SharedRateLimiter(store, Clock(10.0))
    store.close()  # every claim now fails: the replica counts alone instead of refusing everyone
    assert [_admit(limiter, "k", 1) for _ in range(3)] == [None, None, 1]


def test_two_app_instances_on_one_store_refuse_past_the_keys_rate(
    serve: Callable[..., RunningServer],
) -> None:
    settings = ServerSettings(shared_rate_limits=True, key_cache_s=0.0)
    one, two = serve(app_settings=settings), serve(app_settings=settings)
    slow = KeyRing(one.store).create(tenant="acme", role="agent", actor="test", rate_per_s=0.01).key
    action = {"tool": "bash", "args": {"command": "ls"}}

    def evaluate(server: RunningServer) -> httpx.Response:
        headers = {"Authorization": f"Bearer {slow}"}
        return httpx.post(f"{server.base_url}/v1/guard/evaluate", json=action, headers=headers, timeout=30)

    assert evaluate(one).status_code == 200
    for server in (two, one, two):  # one request per 100 s across both, not one from each
        refused = evaluate(server)
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 100, refused.text
        assert "rate limit" in refused.json()["detail"]
    other = KeyRing(two.store).create(tenant="acme", role="agent", actor="test", rate_per_s=0.01).key
    answer = httpx.post(
        f"{two.base_url}/v1/guard/evaluate",
        json=action,
        headers={"Authorization": f"Bearer {other}"},
        timeout=30,
    )
    assert answer.status_code == 200  # other keys are not affected


def test_replicas_share_the_count_by_default_on_postgresql_only(store_url: str) -> None:
    from starlette.testclient import TestClient

    from railguard.server import create_app

    with open_store(store_url) as store, TestClient(create_app(store)) as client:
        limiter = client.app.state.auth.limiter  # type: ignore[attr-defined]
        assert type(limiter) is (SharedRateLimiter if store.dialect == "postgresql" else RateLimiter)


def test_serve_workers_share_the_count_on_sqlite_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`railguard serve --workers N` builds each worker's app with `app_from_env`: its workers are
    processes on one SQLite file, so a key's rate is counted in the store, not once per worker."""
    from railguard.cli._serve import app_from_env

    monkeypatch.setenv("RAILGUARD_DB", f"sqlite:///{tmp_path / 'workers.db'}")
    state = app_from_env().state  # type: ignore[attr-defined]
    try:
        assert state.store.dialect == "sqlite" and type(state.auth.limiter) is SharedRateLimiter
    finally:  # not started: its lifespan would have closed these at shutdown
        state.guard.close()
        state.writer.close()
        state.store.close()


def test_a_key_without_limit_is_never_counted(serve: Callable[..., RunningServer]) -> None:
    """A rate no deployment can reach (1e9/s and up) is "no limit": its requests claim no window of
    the shared count, so none of them waits on the store when a window ends; a limited key on the
    same server still claims and still gets its 429."""
    settings = ServerSettings(shared_rate_limits=True, key_cache_s=0.0)
    server = serve(app_settings=settings)
    ring = KeyRing(server.store)
    free_key = ring.create(tenant="acme", role="agent", actor="test", rate_per_s=1e9)
    slow_key = ring.create(tenant="acme", role="agent", actor="test", rate_per_s=0.01)
    free, slow = free_key.key, slow_key.key
    action = {"tool": "bash", "args": {"command": "ls"}}

    def evaluate(key: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.post(f"{server.base_url}/v1/guard/evaluate", json=action, headers=headers, timeout=30)

    def counted() -> set[str]:
        with server.store.driver_transaction(write=False) as tx:
            return {row[0] for row in tx.rows("SELECT key_id FROM rate_windows", ())}

    assert [evaluate(free).status_code for _ in range(5)] == [200] * 5
    assert free_key.info.id not in counted()
    assert evaluate(slow).status_code == 200 and evaluate(slow).status_code == 429
    assert counted() & {free_key.info.id, slow_key.info.id} == {slow_key.info.id}
