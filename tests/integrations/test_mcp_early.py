"""`mcp-proxy -- COMMAND` starts its upstream server before its own imports and adopts it: which
command lines do that, that the adopted server is the one the client talks to, and that a server
started for a command line the proxy then refuses is stopped, never left running; and that the first
exchange (`initialize`) is relayed while the proxy still imports, leaving to the proxy anything else."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from railguard.integrations._mcp_early import Relay, upstream_command

from .test_mcp_proxy import POLICY, SESSION_TIMEOUT_S, texts

SERVER = Path(__file__).parent / "fixtures" / "mcp_server.py"


def test_only_a_stdio_upstream_after_the_separator_is_started_early() -> None:
    assert upstream_command(["--policy", "p.yaml", "--", "python", "server.py"]) == ["python", "server.py"]
    assert upstream_command(["--", "npx", "-y", "srv", "--", "x"]) == ["npx", "-y", "srv", "--", "x"]
    assert upstream_command(["--policy", "p.yaml", "python", "server.py"]) is None  # no separator
    assert upstream_command(["--policy", "p.yaml", "--"]) is None  # nothing to run
    for other in (
        ["--listen", "127.0.0.1:9"],
        ["--listen=127.0.0.1:9"],
        ["--upstream", "http://x"],
        ["--help"],
    ):
        assert upstream_command([*other, "--", "python", "server.py"]) is None, other


def test_the_client_talks_to_the_server_started_early(tmp_path: Path) -> None:
    marker = tmp_path / "pids"
    env = {**os.environ, "RAILGUARD_TEST_PID_FILE": str(marker)}
    wrapper = tmp_path / "server.py"
    wrapper.write_text(
        "import os, runpy, sys\n"
        "with open(os.environ['RAILGUARD_TEST_PID_FILE'], 'a') as f:\n"
        "    f.write(f'{os.getpid()} {os.getppid()}\\n')\n"
        f"sys.argv = [{str(SERVER)!r}]\n"
        f"runpy.run_path({str(SERVER)!r}, run_name='__main__')\n"
    )
    args = ["-m", "railguard.cli", "mcp-proxy", "--policy", str(POLICY), "--", sys.executable, str(wrapper)]
    params = StdioServerParameters(command=sys.executable, args=args, env=env)

    async def body() -> int:
        with anyio.fail_after(SESSION_TIMEOUT_S):
            async with stdio_client(params) as streams, ClientSession(*streams) as session:
                await session.initialize()
                assert texts(await session.call_tool("echo", {"text": "hi"})) == ["hi"]
                return len(marker.read_text().splitlines())

    assert anyio.run(body) == 1  # one server process: the early one was adopted, not a second spawned


def test_a_server_started_for_a_refused_command_line_is_stopped(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    script = f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    missing = tmp_path / "missing.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "railguard.cli", "mcp-proxy", "--policy", str(missing), "--", sys.executable, "-c", script],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "policy error" in done.stderr
    if marker.exists():  # the server got as far as starting: it must be gone now
        pid = int(marker.read_text())
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent, which has exited too) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


# -- the first exchange, relayed while the proxy imports --------------------------------------------

LINE_SERVER = Path(__file__).parent / "fixtures" / "mcp_line_server.py"
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize", "extra": "dropped as the SDK drops it",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}  # fmt: skip
WAIT_S = 60


def _line(message: dict[str, object]) -> bytes:
    return (json.dumps(message) + "\n").encode()


def _read_line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], WAIT_S)
        assert ready, f"nothing to read within {WAIT_S} s (read so far: {data!r})"
        chunk = os.read(fd, 1)
        assert chunk, f"closed (read so far: {data!r})"
        data += chunk
    return data


def _nothing_to_read(fd: int) -> bool:
    return not select.select([fd], [], [], 0)[0]


class Pipes:
    """A relay between a fake client and a fake server, each side a pair of pipes."""

    def __init__(self) -> None:
        self.client_in_r, self.client_in_w = os.pipe()
        self.client_out_r, self.client_out_w = os.pipe()
        self.server_in_r, self.server_in_w = os.pipe()
        self.server_out_r, self.server_out_w = os.pipe()
        self.process = SimpleNamespace(  # kept: its files close their pipes when collected
            stdin=os.fdopen(self.server_in_w, "wb"), stdout=os.fdopen(self.server_out_r, "rb")
        )
        self.relay = Relay(self.process, client_in=self.client_in_r, client_out=self.client_out_w)  # type: ignore[arg-type]


def test_the_relay_forwards_initialize_and_its_answer_as_the_sdk_writes_them() -> None:
    pipes = Pipes()
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    os.write(pipes.client_in_w, _line(INITIALIZE) + _line(initialized))  # pipelined in one write
    forwarded = json.loads(_read_line(pipes.server_in_r))
    assert forwarded == {k: v for k, v in INITIALIZE.items() if k != "extra"}
    result = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "serverInfo": {"name": "srv", "version": "1"},
    }
    log = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x"}}
    os.write(pipes.server_out_w, _line({"jsonrpc": "2.0", "id": 1, "result": result, "x": 1}) + _line(log))
    assert json.loads(_read_line(pipes.client_out_r)) == {"jsonrpc": "2.0", "id": 1, "result": result}
    early = pipes.relay.take_over()
    assert early.result == result and early.pending_id is None
    assert [json.loads(line) for line in early.client_lines] == [initialized]  # the proxy handles it
    assert early.upstream_bytes == _line(log)  # the proxy relays it


def test_the_relay_leaves_any_other_first_message_to_the_proxy() -> None:
    pipes = Pipes()
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "delete_everything"}}
    os.write(pipes.client_in_w, _line(call))
    pipes.relay.thread.join(WAIT_S)  # it ends on its own once it has seen the line
    early = pipes.relay.take_over()
    assert [json.loads(line) for line in early.client_lines] == [call]
    assert early.pending_id is None and early.result is None
    assert _nothing_to_read(pipes.server_in_r)  # never forwarded: the proxy checks it first


def test_the_proxy_takes_over_an_unanswered_initialize() -> None:
    pipes = Pipes()
    os.write(pipes.client_in_w, _line(INITIALIZE))
    _read_line(pipes.server_in_r)  # forwarded; the server has not answered
    early = pipes.relay.take_over()
    assert early.pending_id == 1 and early.result is None and early.client_lines == []
    assert _nothing_to_read(pipes.client_out_r)


def test_an_answer_the_relay_is_not_sure_of_is_left_to_the_proxy() -> None:
    pipes = Pipes()
    os.write(pipes.client_in_w, _line(INITIALIZE))
    _read_line(pipes.server_in_r)
    refused = _line({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "unsupported version"}})
    os.write(pipes.server_out_w, refused)
    pipes.relay.thread.join(WAIT_S)
    early = pipes.relay.take_over()
    assert early.pending_id == 1 and early.result is None and early.upstream_bytes == refused
    assert _nothing_to_read(pipes.client_out_r)


def _proxy(policy: Path, seen: Path, *options: str) -> subprocess.Popen[bytes]:
    args = ["-m", "railguard.cli", "mcp-proxy", "--policy", str(policy), *options]
    args += ["--", sys.executable, str(LINE_SERVER)]
    env = {**os.environ, "RAILGUARD_TEST_SEEN": str(seen)}
    return subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)


def _finish(proxy: subprocess.Popen[bytes]) -> None:
    assert proxy.stdin is not None
    proxy.stdin.close()
    try:
        proxy.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        proxy.kill()  # a failed test leaves no proxy behind (its server ends with its stdin)
        raise


def test_initialize_is_answered_before_the_proxy_has_loaded_its_policy(tmp_path: Path) -> None:
    # The policy is a named pipe the test fills only once it has the answer: a proxy that answered
    # after its own start-up (which reads the policy) could never answer.
    policy, seen = tmp_path / "policy.yaml", tmp_path / "seen"
    os.mkfifo(policy)
    proxy = _proxy(policy, seen)
    assert proxy.stdin is not None and proxy.stdout is not None
    try:
        proxy.stdin.write(_line(INITIALIZE))
        proxy.stdin.flush()
        answer = json.loads(_read_line(proxy.stdout.fileno()))
        assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "fixture"
        policy.write_text(POLICY.read_text())
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "delete_everything", "arguments": {"path": "/"}}}  # fmt: skip
        proxy.stdin.write(_line({"jsonrpc": "2.0", "method": "notifications/initialized"}) + _line(call))
        proxy.stdin.flush()
        refused = json.loads(_read_line(proxy.stdout.fileno()))
        assert (
            refused["id"] == 2 and refused["result"]["isError"]
        )  # checked with the server's name learned early
        assert "never allowed" in refused["result"]["content"][0]["text"]
    finally:
        _finish(proxy)
    assert seen.read_text().split() == ["initialize", "notifications/initialized"]


def test_a_first_message_other_than_initialize_is_checked_by_the_proxy(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    proxy = _proxy(POLICY, seen, "--server-name", "fixture")  # no initialize: the name is not learned
    assert proxy.stdin is not None and proxy.stdout is not None
    try:
        call = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "delete_everything", "arguments": {"path": "/"}}}  # fmt: skip
        proxy.stdin.write(_line(call))
        proxy.stdin.flush()
        refused = json.loads(_read_line(proxy.stdout.fileno()))
        assert refused["id"] == 5 and refused["result"]["isError"]
    finally:
        _finish(proxy)
    assert not seen.exists() or "tools/call" not in seen.read_text().split()
