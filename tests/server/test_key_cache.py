"""The guard API's key cache: a key is looked up in the store at most once per `cache_s` (the hot
path pays no hash-and-query per request), and a revocation made elsewhere (another replica, the
CLI) is honoured within `cache_s`: the bound the server states. Real SQLite store, controlled clock."""

from __future__ import annotations

import asyncio
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
        clock.now += 0.5
        assert asyncio.run(principal()) == "acme"  # still inside the stated bound
        clock.now += 0.6  # past cache_s since the lookup: asked again, and refused
        with pytest.raises(AuthError) as refused:
            asyncio.run(principal())
        assert refused.value.status == 401 and ring.lookups == 2


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
