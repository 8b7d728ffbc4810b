"""`--server URL` for the Claude Code hook and the MCP proxy: the decision comes from a real
Railguard server (uvicorn on a free port, SQLite store) through `RemoteEngine`, by way of each
integration's own code path (the console commands, as Claude Code and an MCP client start them);
a server that is stopped, or refuses the key, gives the fail mode (block), never an allow."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from mcp import ClientSession, StdioServerParameters, stdio_client
from otlp_server import free_port

from railguard.server import ServerSettings, create_app
from railguard.store import KeyRing, Store, open_store

FIXTURES = Path(__file__).parents[1] / "integrations" / "fixtures"
MCP_SERVER = FIXTURES / "mcp_server.py"
TIMEOUT_S = 120
# Rule ids only this server's policy has: an answer naming them came from the server.
POLICY = """
name: remote-integrations
version: 1
rules:
  - rule: server/no-rm-root
    tools: [Bash, bash]
    when: args.command.contains("rm -rf /")
    verdict: block
    message: deleting everything is not allowed (said by the server)
  - rule: server/no-delete
    tools: [mcp__fixture__delete_everything]
    verdict: block
    message: the server never lets this run
"""


@dataclass
class Server:
    url: str
    key: str  # an agent key of tenant acme
    store: Store
    uvicorn: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.uvicorn.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the server did not stop"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    policy = tmp_path / "server-policy.yaml"
    policy.write_text(POLICY)
    store = open_store(f"sqlite:///{tmp_path / 'railguard.db'}")
    key = KeyRing(store).create(tenant="acme", role="agent", name="hook", actor="test").key
    port = free_port()
    app = create_app(store, settings=ServerSettings(policy=(str(policy),)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(3000):  # bounded wait for start-up (the detectors load first)
        if server.started or not thread.is_alive():
            break
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    running = Server(f"http://127.0.0.1:{port}", key, store, server, thread)
    # The tenant's engine is built on its first call: done here, so the 2 s client timeout of the
    # integrations measures nothing but their decisions on this shared machine.
    warm = httpx.post(f"{running.url}/v1/guard/evaluate", json={"tool": "Bash", "args": {"command": "ls"}},
                      headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT_S)  # fmt: skip
    assert warm.status_code == 200, warm.text
    yield running
    if thread.is_alive():
        running.stop()
    store.close()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAILGUARD_URL", "RAILGUARD_KEY")}
    return {**env, **extra}


def _bash(command: str) -> bytes:
    return json.dumps(
        {
            "session_id": "s1",
            "cwd": "/tmp",
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": command},
            "tool_use_id": f"toolu_{abs(hash(command))}",
        }
    ).encode()


def _hook(command: str, *options: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "railguard.cli", "hook", "claude-code", *options],
        input=_bash(command),
        capture_output=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )


def _denied(result: subprocess.CompletedProcess[bytes]) -> str:
    """The reason of a `deny` answer (fails the test for any other answer)."""
    assert result.returncode == 0, result.stderr.decode()
    answer = json.loads(result.stdout)["hookSpecificOutput"]
    assert answer["permissionDecision"] == "deny", answer
    return str(answer["permissionDecisionReason"])


def test_hook_with_server_blocks_rm_and_lets_ls_through(server: Server) -> None:
    env = _env(RAILGUARD_KEY=server.key)
    assert "server/no-rm-root" in _denied(_hook("rm -rf /", "--server", server.url, env=env))
    allowed = _hook("ls -la", "--server", server.url, env=env)
    assert (allowed.returncode, allowed.stdout) == (0, b""), allowed.stderr.decode()  # defer: allowed
    # $RAILGUARD_URL does what --server does.
    from_env = _hook("rm -rf /", env=_env(RAILGUARD_KEY=server.key, RAILGUARD_URL=server.url))
    assert "server/no-rm-root" in _denied(from_env)


def test_hook_blocks_when_the_server_is_stopped_or_refuses_the_key(server: Server) -> None:
    wrong = _hook("ls", "--server", server.url, env=_env(RAILGUARD_KEY="rg_not_a_key"))
    assert "unauthorized" in _denied(wrong)
    no_key = _hook("ls", "--server", server.url, env=_env())
    assert no_key.returncode == 2 and b"RAILGUARD_KEY" in no_key.stderr  # blocked, and says why
    server.stop()
    for command in ("ls", "rm -rf /"):
        reason = _denied(_hook(command, "--server", server.url, env=_env(RAILGUARD_KEY=server.key)))
        assert "unreachable" in reason and "on_error=block" in reason


def test_install_with_server_keeps_the_key_out_of_the_settings_file(server: Server, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    env = _env(RAILGUARD_KEY=server.key, RAILGUARD_HOOK_DAEMON="0")
    installed = subprocess.run(
        [sys.executable, "-m", "railguard.cli", "install", "claude-code", "--server", server.url,
         "--settings", str(settings)],
        capture_output=True, timeout=TIMEOUT_S, env=env, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr.decode()
    text = settings.read_text()
    assert server.url in text and server.key not in text
    hooks: dict[str, Any] = json.loads(text)["hooks"]
    pre = hooks["PreToolUse"][0]["hooks"][0]["command"]
    # The installed command, as Claude Code runs it (through a shell), decides through the server.
    ran = subprocess.run(
        ["sh", "-c", pre],
        input=_bash("rm -rf /"),
        capture_output=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )
    assert "server/no-rm-root" in _denied(ran)
    fine = subprocess.run(
        ["sh", "-c", pre], input=_bash("ls"), capture_output=True, timeout=TIMEOUT_S, env=env, check=False
    )
    assert (fine.returncode, fine.stdout) == (0, b""), fine.stderr.decode()


def test_the_installed_hooks_warm_daemon_asks_the_server_per_key(
    server: Server, tmp_path: Path, short_tmp: Path
) -> None:
    """Through the thin client and its daemon (the default path): the daemon holds the key it was
    started with, so another key gets its own daemon and its own answer, never the first one's."""
    runtime = short_tmp / "runtime"
    settings = tmp_path / "settings.json"
    base = _env(RAILGUARD_HOOK_RUNTIME_DIR=str(runtime))
    subprocess.run(
        [sys.executable, "-m", "railguard.cli", "install", "claude-code", "--server", server.url,
         "--settings", str(settings)],
        capture_output=True, timeout=TIMEOUT_S, env=base, check=True,
    )  # fmt: skip
    pre = json.loads(settings.read_text())["hooks"]["PreToolUse"][0]["hooks"][0]["command"]

    def run(command: str, key: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["sh", "-c", pre], input=_bash(command), capture_output=True, timeout=TIMEOUT_S,
            env={**base, "RAILGUARD_KEY": key}, check=False,
        )  # fmt: skip

    try:
        assert "server/no-rm-root" in _denied(run("rm -rf /", server.key))
        fine = run("ls", server.key)
        assert (fine.returncode, fine.stdout) == (0, b""), fine.stderr.decode()
        assert "unauthorized" in _denied(run("ls", "rg_wrong_key"))
        assert len(list(runtime.glob("*.sock"))) == 2  # one daemon per key
    finally:
        for lock in runtime.glob("*.lock"):
            pid = lock.read_text().strip()
            if pid.isdigit():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


@asynccontextmanager
async def _proxied(url: str, key: str) -> AsyncIterator[ClientSession]:
    args = ["-m", "railguard.cli", "mcp-proxy", "--server", url, "--", sys.executable, str(MCP_SERVER)]
    params = StdioServerParameters(command=sys.executable, args=args, env=_env(RAILGUARD_KEY=key))
    with anyio.fail_after(TIMEOUT_S):
        async with stdio_client(params) as streams, ClientSession(*streams) as session:
            await session.initialize()
            yield session


def _texts(result: object) -> list[str]:
    return [block.text for block in result.content]  # type: ignore[attr-defined]


def test_mcp_proxy_with_server_blocks_a_dangerous_call(server: Server) -> None:
    async def body() -> None:
        async with _proxied(server.url, server.key) as session:
            blocked = await session.call_tool("delete_everything", {"path": "/"})
            assert blocked.is_error and "server/no-delete" in _texts(blocked)[0]
            echoed = await session.call_tool("echo", {"text": "hello"})
            assert not echoed.is_error and _texts(echoed) == ["hello"]
            server.stop()  # from now on no decision can be had: nothing runs
            refused = await session.call_tool("echo", {"text": "hello again"})
            assert refused.is_error and "unreachable" in _texts(refused)[0]

    anyio.run(body)


def test_mcp_proxy_refuses_server_with_local_policy_options(server: Server) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "railguard.cli", "mcp-proxy", "--server", server.url, "--db", "sqlite:///x.db",
         "--", sys.executable, str(MCP_SERVER)],
        capture_output=True, timeout=TIMEOUT_S, env=_env(RAILGUARD_KEY=server.key), check=False,
    )  # fmt: skip
    assert ran.returncode == 2 and b"--db does not go with --server" in ran.stderr
