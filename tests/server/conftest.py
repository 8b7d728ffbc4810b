"""The receiver under test runs for real: uvicorn on a free localhost port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from api_helpers import POLICY, Api, make_api
from otlp_server import RunningServer, free_port

from railguard.server._http import http_protocol
from railguard.server.app import ServerSettings, create_app
from railguard.server.routes.otlp import OtlpSettings
from railguard.store import KeyRing, Store, open_store


@pytest.fixture
def serve(store_url: str) -> Iterator[Callable[..., RunningServer]]:
    """Start the app on the parametrized store (SQLite file, then PostgreSQL) with given settings."""
    servers: list[tuple[uvicorn.Server, threading.Thread, Store]] = []

    def start(
        settings: OtlpSettings | None = None, app_settings: ServerSettings | None = None
    ) -> RunningServer:
        store = open_store(store_url)
        key = KeyRing(store).create(tenant="*", role="admin", name="test-admin", actor="test").key
        port = free_port()
        config = uvicorn.Config(
            create_app(store, settings=app_settings, otlp_settings=settings or OtlpSettings()),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            http=http_protocol(),  # what `railguard serve` runs
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(500):  # bounded wait for the socket (at most ~10 s)
            if server.started:
                break
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        servers.append((server, thread, store))
        return RunningServer(store, f"http://127.0.0.1:{port}", key, store_url)

    yield start
    for server, thread, store in servers:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture
def api(serve: Callable[..., RunningServer], tmp_path: Any) -> Api:
    """The server on SQLite and PostgreSQL with POLICY and keys of every role for two tenants."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return make_api(serve, str(policy))
