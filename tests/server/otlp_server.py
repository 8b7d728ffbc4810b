"""A running receiver, as the tests see it."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import httpx

from railguard.store import Store


@dataclass
class RunningServer:
    store: Store
    base_url: str
    key: str = ""  # an admin key for every tenant, made for the test
    store_url: str = ""

    @property
    def traces_url(self) -> str:
        return f"{self.base_url}/v1/traces"

    def auth(self, headers: dict[str, str] | None = None, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", **(headers or {})}

    def post(self, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return httpx.post(url, headers=self.auth(headers), **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
