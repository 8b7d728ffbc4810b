"""A running server with keys for two tenants and every role, as the API tests see it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from otlp_server import RunningServer, free_port

from railguard.store import KeyRing

POLICY = """
name: api-test
version: 1
rules:
  - rule: no-rm
    tools: [bash]
    when: args.command.contains("rm -rf")
    verdict: block
    message: deleting everything is not allowed
  - rule: big-refund
    tools: [refund]
    when: args.amount > 100
    verdict: ask
    message: refunds over 100 need a human
"""
TENANTS = ("acme", "globex")


@dataclass
class Api:
    server: RunningServer
    keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (tenant, role) -> key
    revoked: str = ""

    @property
    def url(self) -> str:
        return self.server.base_url

    def key(self, tenant: str = "acme", role: str = "agent") -> str:
        return self.keys[(tenant, role)]

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "",
        tenant: str = "acme",
        role: str = "agent",
        **kw: Any,
    ) -> httpx.Response:
        """`key=""`: the (tenant, role) key; `key=None`: no Authorization header at all."""
        headers = dict(kw.pop("headers", {}))
        secret = self.key(tenant, role) if key == "" else key
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret}"
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kw)

    def evaluate(self, action: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.call("POST", "/v1/guard/evaluate", json=action, **kw)


def make_api(serve: Callable[..., RunningServer], tmp_policy: str) -> Api:
    from railguard.server import ServerSettings

    server = serve(app_settings=ServerSettings(policy=(tmp_policy,), key_cache_s=0.0))
    ring = KeyRing(server.store)
    api = Api(server)
    for tenant in TENANTS:
        for role in ("agent", "viewer", "approver", "admin"):
            api.keys[(tenant, role)] = ring.create(
                tenant=tenant, role=role, name=f"{tenant}-{role}", actor="test"
            ).key
    revoked = ring.create(tenant="acme", role="admin", name="gone", actor="test")
    ring.revoke(revoked.info.id, tenant=None, actor="test")
    api.revoked = revoked.key
    return api


def eventually(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """Poll until `check()` is truthy (bounded); returns its value. Not a timing assertion."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def serve_process(db_url: str, *flags: str, **popen: Any) -> tuple[subprocess.Popen[str], str]:
    """`railguard serve` on a free port as a child process: (process, URL); see `await_ready`.
    `popen` sets where its output goes (e.g. stdout=subprocess.PIPE); the caller terminates it."""
    port = free_port()
    command = [sys.executable, "-m", "railguard.cli", "serve", "--port", str(port), "--db", db_url, *flags]
    return subprocess.Popen(command, text=True, **popen), f"http://127.0.0.1:{port}"


def await_ready(process: subprocess.Popen[str], url: str) -> None:
    """Wait (bounded) until the server answers /readyz; fails with its output if it exited or never did."""

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None  # exited: stop waiting (the assertion below says so)

    if not eventually(ready, timeout_s=60) or process.poll() is not None:
        process.kill()
        out, err = process.communicate(timeout=30)
        raise AssertionError(f"railguard serve did not start: {(out or '')[-2000:]}{(err or '')[-2000:]}")
