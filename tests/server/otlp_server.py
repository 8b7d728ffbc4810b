"""A running receiver, as the tests see it."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from railguard.store import Store


@dataclass
class RunningServer:
    store: Store
    base_url: str

    @property
    def traces_url(self) -> str:
        return f"{self.base_url}/v1/traces"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
