"""`mcp-proxy -- COMMAND` starts its upstream server before its own imports and adopts it: which
command lines do that, that the adopted server is the one the client talks to, and that a server
started for a command line the proxy then refuses is stopped, never left running."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from railguard.integrations._mcp_early import upstream_command

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
