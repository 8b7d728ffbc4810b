"""The guard API's key cache: a key is looked up in the store at most once per `cache_s` (the hot
path pays no hash-and-query per request), and a revocation made elsewhere (another replica, the
CLI) is honoured within `cache_s`: the bound the server states. Real SQLite store, controlled clock."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from railguard.server._auth import Authenticator, AuthError
from railguard.store import KeyRing, open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingRing(KeyRing):
    lookups = 0

    def authenticate(self, key: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return super().authenticate(key)


def test_a_revoked_key_is_refused_within_the_cache_bound(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'keys.db'}") as store:
        ring = CountingRing(store)
        created = ring.create(tenant="acme", role="agent", name="a", actor="test")
        clock = Clock()
        auth = Authenticator(ring, cache_s=1.0, clock=clock)

        async def principal() -> str:
            return (await auth.principal(created.key)).key.tenant

        assert asyncio.run(principal()) == "acme"
        for _ in range(50):
            assert asyncio.run(principal()) == "acme"
        assert ring.lookups == 1  # one store lookup for 51 requests inside the window
        KeyRing(store).revoke(created.info.id, tenant=None, actor="another replica")
        clock.now += 0.4
        assert asyncio.run(principal()) == "acme"  # still inside the stated bound
        clock.now += 0.7  # past cache_s since the lookup: asked again, and refused
        with pytest.raises(AuthError) as refused:
            asyncio.run(principal())
        assert refused.value.status == 401 and ring.lookups == 2


def _settled(auth: Authenticator) -> None:
    """Wait for the lookups under way (background refreshes) and their caching."""
    for pending in list(auth._pending.values()):
        pending.result(timeout=30)
    while auth._pending:
        time.sleep(0.001)


def test_a_key_used_late_in_its_window_is_refreshed_without_a_wait_and_never_served_past_it(
    tmp_path: Path,
) -> None:
    with open_store(f"sqlite:///{tmp_path / 'keys.db'}") as store:
        ring = CountingRing(store)
        created = ring.create(tenant="acme", role="agent", name="a", actor="test")
        clock = Clock()
        auth = Authenticator(ring, cache_s=1.0, clock=clock)
        assert asyncio.run(auth.principal(created.key)).key.tenant == "acme"  # looked up at 1000.0
        KeyRing(store).revoke(created.info.id, tenant=None, actor="another replica")
        clock.now += 0.6  # second half of the window: answered from the cache, refreshed behind it
        assert asyncio.run(auth.principal(created.key)).key.tenant == "acme"
        _settled(auth)
        assert ring.lookups == 2
        with pytest.raises(AuthError):  # the refresh saw the revocation, 0.6 s after it was made
            asyncio.run(auth.principal(created.key))
        auth.close()


def test_concurrent_requests_with_a_new_key_share_one_lookup(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'keys.db'}") as store:
        ring = CountingRing(store)
        created = ring.create(tenant="acme", role="agent", name="a", actor="test")
        auth = Authenticator(ring, cache_s=1.0, clock=Clock())

        async def many() -> list[str]:
            found = await asyncio.gather(*(auth.principal(created.key) for _ in range(32)))
            return [p.key.tenant for p in found]

        assert asyncio.run(many()) == ["acme"] * 32
        assert ring.lookups == 1  # not one thread and one query per waiting request
        auth.close()


class BlockingRing(KeyRing):
    """A lookup that reads the store, then waits to be let go (a slow store round trip)."""

    def __init__(self, store: object) -> None:
        super().__init__(store)  # type: ignore[arg-type]
        self.read, self.go = threading.Event(), threading.Event()

    def authenticate(self, key: str):  # type: ignore[no-untyped-def]
        found = super().authenticate(key)
        self.read.set()
        self.go.wait(30)
        return found


def test_a_lookup_under_way_when_this_replica_revokes_is_not_cached(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'keys.db'}") as store:
        ring = BlockingRing(store)
        created = ring.create(tenant="acme", role="agent", name="a", actor="test")
        auth = Authenticator(ring, cache_s=60.0, clock=Clock())

        async def first() -> str:
            return (await auth.principal(created.key)).key.tenant

        async def race() -> str:
            task = asyncio.ensure_future(first())
            await asyncio.get_running_loop().run_in_executor(None, ring.read.wait, 30)
            ring.revoke(created.info.id, tenant=None, actor="this replica")
            auth.forget()  # the key read before the revocation must not outlive it here
            ring.go.set()
            return await task

        assert asyncio.run(race()) == "acme"  # that request came before the revocation
        _settled(auth)
        with pytest.raises(AuthError):
            asyncio.run(auth.principal(created.key))
        auth.close()


def test_an_unknown_key_is_cached_too_and_forget_drops_everything(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'keys.db'}") as store:
        ring = CountingRing(store)
        auth = Authenticator(ring, cache_s=1.0, clock=Clock())
        for _ in range(3):
            with pytest.raises(AuthError):
                asyncio.run(auth.principal("rg_unknown"))
        assert ring.lookups == 1  # a flood of bad keys does not hash-and-query each time
        created = ring.create(tenant="acme", role="agent", name="a", actor="test")
        assert asyncio.run(auth.principal(created.key)).key.tenant == "acme"
        ring.revoke(created.info.id, tenant=None, actor="this replica")
        auth.forget()  # what the replica that revoked does: at once
        with pytest.raises(AuthError):
            asyncio.run(auth.principal(created.key))
