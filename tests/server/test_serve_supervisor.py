"""`railguard serve --workers N` on Linux: a supervisor gives each worker process its own SO_REUSEPORT
listening socket on the one port, restarts a worker that dies, and stops them all on SIGTERM. Real
processes on loopback sockets; every wait is a bounded poll, never a timing assertion."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import await_ready, eventually, serve_process

from railguard.server._supervisor import REUSEPORT_AVAILABLE, reuseport_sockets

pytestmark = pytest.mark.skipif(not REUSEPORT_AVAILABLE, reason="SO_REUSEPORT workers are Linux only")
ECHO = Path(__file__).with_name("supervised_echo.py")


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
        except OSError:
            continue  # exited meanwhile
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _pid_answering(port: int) -> int:
    """The pid of the worker that accepted one new connection (a new source port each time)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        return int(conn.makefile().readline())


def _answering(port: int, connections: int = 200) -> set[int]:
    return {_pid_answering(port) for _ in range(connections)}


@pytest.fixture
def supervisor() -> Iterator[tuple[subprocess.Popen[str], int]]:
    process = subprocess.Popen(
        [sys.executable, str(ECHO), "supervise", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()  # its workers get SIGTERM from the kernel (parent-death signal)
            process.communicate(timeout=60)


def test_each_worker_gets_connections_on_its_own_socket(
    supervisor: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = supervisor
    workers = _answering(port)
    assert len(workers) == 2  # 200 connections hashed over two sockets: both take some
    assert workers == _children(process.pid)


def test_a_killed_worker_is_replaced(supervisor: tuple[subprocess.Popen[str], int]) -> None:
    process, port = supervisor
    assert eventually(lambda: len(_children(process.pid)) == 2, timeout_s=60)
    first = _children(process.pid)
    killed = min(first)
    os.kill(killed, signal.SIGKILL)
    # Connections the kernel hands the dead worker's socket wait for its replacement: none fails.
    assert eventually(lambda: len(_answering(port, 50) - first) == 1, timeout_s=60)
    now = _children(process.pid)
    assert len(now) == 2 and killed not in now and (first - {killed}) < now
    assert process.poll() is None


def test_sigterm_stops_the_supervisor_and_every_worker(supervisor: tuple[subprocess.Popen[str], int]) -> None:
    process, port = supervisor
    assert eventually(lambda: len(_children(process.pid)) == 2, timeout_s=60)
    workers = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and "stopped" in out
    assert not any(_alive(pid) for pid in workers)
    with pytest.raises(OSError):  # nobody listens any more
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_port_already_in_use_is_refused_even_by_a_reuseport_listener() -> None:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(OSError):
            reuseport_sockets("127.0.0.1", other.getsockname()[1], 2)


def test_serve_with_two_workers_starts_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    process, url = serve_process(
        f"sqlite:///{tmp_path / 'rg.db'}", "--workers", "2", stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        await_ready(process, url)
        assert eventually(lambda: len(_children(process.pid)) == 2, timeout_s=60)
        workers = _children(process.pid)
        for _ in range(20):  # each a new connection
            assert httpx.get(f"{url}/v1/runs", timeout=30).status_code == 401
        port = int(url.rsplit(":", 1)[1])
        second = subprocess.run(
            [sys.executable, "-m", "railguard.cli", "serve", "--port", str(port), "--workers", "2",
             "--db", f"sqlite:///{tmp_path / 'other.db'}"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 2 and "cannot listen" in second.stderr
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == 0
    assert out.count("shown once") == 1  # the first-start admin key: printed by the supervisor alone
    assert out.count("Finished server process") == 2  # each worker shut down gracefully
    assert not any(_alive(pid) for pid in workers)
