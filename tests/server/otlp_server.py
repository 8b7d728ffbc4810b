"""A running receiver, as the tests see it."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import httpx

from railguard.store import KeyRing, Store


@dataclass
class RunningServer:
    store: Store
    base_url: str
    key: str = ""  # an admin key for every tenant, made for the test
    store_url: str = ""
    agent_keys: dict[str, str] = field(default_factory=dict)  # tenant -> agent key, made on first use

    @property
    def traces_url(self) -> str:
        return f"{self.base_url}/v1/traces"

    def auth(self, headers: dict[str, str] | None = None, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", **(headers or {})}

    def agent_key(self, tenant: str = "acme") -> str:
        """An agent-role key of `tenant` (what an exporter sends), in the store the server uses."""
        if tenant not in self.agent_keys:
            created = KeyRing(self.store).create(
                tenant=tenant, role="agent", name=f"{tenant}-exporter", actor="test"
            )
            self.agent_keys[tenant] = created.key
        return self.agent_keys[tenant]

    def agent_auth(self, headers: dict[str, str] | None = None, tenant: str = "acme") -> dict[str, str]:
        return self.auth(headers, key=self.agent_key(tenant))

    def post(self, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return httpx.post(url, headers=self.auth(headers), **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
