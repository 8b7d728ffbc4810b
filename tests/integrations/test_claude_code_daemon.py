"""The installed Claude Code hook: a thin client (`python -S _hook_client.py`) and the warm daemon it
starts. Every test runs the real processes; every verdict is compared with the in-process hook's
(`python -m railguard.integrations.claude_code`) on the same input."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from railguard.integrations import _hook_client as wire
from railguard.store import open_store

from .hook_daemons import daemons_stopped_after, pid_of, wait_for

CLIENT = Path(wire.__file__).resolve()
TIMEOUT_S = 60

DENY_POLICY = """\
- rule: no-foo
  tools: [Foo]
  verdict: block
  message: Foo is not allowed
"""
ALLOW_POLICY = """\
- rule: no-bar
  tools: [Bar]
  verdict: block
  message: Bar is not allowed
"""


def payload(tool: str = "Bash", event: str = "PreToolUse", **fields: Any) -> bytes:
    body = {
        "session_id": "sess-1",
        "cwd": "/home/ana/demo",
        "hook_event_name": event,
        "tool_name": tool,
        "tool_input": fields.pop("tool_input", {"command": "rm -rf /"}),
        "tool_use_id": "toolu_1",
        **fields,
    }
    return json.dumps(body).encode()


@pytest.fixture
def runtime(short_tmp: Path) -> Iterator[Path]:
    """A private runtime folder for this test's daemons; every daemon started in it is stopped after."""
    with daemons_stopped_after(short_tmp / "run") as folder:
        yield folder


def client(
    runtime: Path, data: bytes, *options: str, env: dict[str, str] | None = None, script: Path = CLIENT
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-S", str(script), *options],
        input=data,
        capture_output=True,
        timeout=TIMEOUT_S,
        env={**os.environ, wire.RUNTIME_DIR_ENV: str(runtime), **(env or {})},
    )


def in_process(data: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "railguard.integrations.claude_code", *options],
        input=data,
        capture_output=True,
        timeout=TIMEOUT_S,
    )


def same_answer(a: subprocess.CompletedProcess[bytes], b: subprocess.CompletedProcess[bytes]) -> None:
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


def daemons(runtime: Path) -> dict[Path, int]:
    """Live daemons: socket path -> pid."""
    out = {}
    for lock in runtime.glob("*.sock.lock"):
        pid = pid_of(lock)
        if pid and _alive(pid):
            out[lock.with_suffix("")] = pid
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def the_socket(runtime: Path, *options: str) -> Path:
    config = wire.daemon_config([o for o in options])
    return Path(wire.socket_path(config, wire.install_stamp(), str(runtime)))


# -- the daemon's life -------------------------------------------------------------------------


def test_the_first_call_starts_the_daemon_and_later_calls_reuse_it(runtime: Path) -> None:
    assert not runtime.exists()
    first = client(runtime, payload(), "--event", "pre")
    same_answer(first, in_process(payload(), "--event", "pre"))
    assert json.loads(first.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    (path, pid), *others = daemons(runtime).items()
    assert others == []
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for command, event in (("git status", "pre"), ("rm -rf ~", "pre")):
        data = payload(tool_input={"command": command})
        same_answer(client(runtime, data, "--event", event), in_process(data, "--event", event))
    assert daemons(runtime) == {path: pid}


def test_post_tool_use_goes_through_the_daemon_too(runtime: Path) -> None:
    key = "AKIA" + "Q3EGRZ6PNYJ4BXTK"
    data = payload(event="PostToolUse", tool_response={"stdout": f"aws_access_key_id = {key}"})
    answer = client(runtime, data, "--event", "post")
    same_answer(answer, in_process(data, "--event", "post"))
    assert b"additionalContext" in answer.stdout and key.encode() not in answer.stdout
    assert len(daemons(runtime)) == 1


def test_a_policy_edit_is_picked_up_by_the_running_daemon(runtime: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(DENY_POLICY)
    options = ("--event", "pre", "--policy", str(policy))
    first = client(runtime, payload("Foo", tool_input={}), *options)
    assert json.loads(first.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    before = daemons(runtime)
    policy.write_text(ALLOW_POLICY + "\n")  # a different size: a change even within one mtime tick
    second = client(runtime, payload("Foo", tool_input={}), *options)
    same_answer(second, in_process(payload("Foo", tool_input={}), *options))
    assert (second.returncode, second.stdout) == (0, b"")
    assert daemons(runtime) == before  # the same daemon, reloaded
    policy.write_text("- rule: [broken\n")  # a policy that no longer loads blocks, as in process
    broken = client(runtime, payload("Foo", tool_input={}), *options)
    same_answer(broken, in_process(payload("Foo", tool_input={}), *options))
    assert broken.returncode == 2


def test_the_daemon_exits_when_idle(runtime: Path) -> None:
    client(runtime, payload(), "--event", "pre", env={"RAILGUARD_HOOK_DAEMON_IDLE_S": "1"})
    (lock,) = runtime.glob("*.sock.lock")  # it answered, so it was up (it may be gone already)
    path, pid = lock.with_suffix(""), pid_of(lock)
    assert pid is not None
    assert wait_for(lambda: not _alive(pid))
    assert not path.exists()


def test_a_new_install_replaces_the_stale_daemon(runtime: Path, tmp_path: Path) -> None:
    """A copy of the package stands in for an installed Railguard; touching its files is installing a
    new version: the next call starts a daemon on a new socket and the old one exits."""
    site = tmp_path / "site"
    shutil.copytree(Path(wire.PACKAGE_DIR), site / "railguard", ignore=shutil.ignore_patterns("__pycache__"))
    script = site / "railguard" / "integrations" / "_hook_client.py"
    client(runtime, payload(), "--event", "pre", script=script)
    (old_path, old_pid), *_ = daemons(runtime).items()
    engine_py = site / "railguard" / "engine.py"
    engine_py.write_text(engine_py.read_text() + "\n# a new version\n")
    answer = client(runtime, payload(), "--event", "pre", script=script)
    same_answer(answer, in_process(payload(), "--event", "pre"))
    assert wait_for(lambda: not _alive(old_pid))
    (new_path, new_pid), *others = daemons(runtime).items()
    assert others == [] and new_path != old_path and new_pid != old_pid


# -- never another user's -----------------------------------------------------------------------


def test_a_runtime_folder_open_to_others_is_not_used(runtime: Path) -> None:
    runtime.mkdir(mode=0o755)
    runtime.chmod(0o755)
    answer = client(runtime, payload(), "--event", "pre")
    same_answer(answer, in_process(payload(), "--event", "pre"))
    assert list(runtime.iterdir()) == []  # no socket was made there: decided in process


needs_root = pytest.mark.skipif(os.getuid() != 0, reason="switching users needs root")
NOBODY = 65534


@needs_root
def test_the_daemon_answers_nobody_but_its_user(runtime: Path) -> None:
    client(runtime, payload(), "--event", "pre")
    (path, _pid), *_ = daemons(runtime).items()
    # Open a way to the socket for this test only (a hard link in a folder anyone may enter), so the
    # peer-credential check is what stops the other user.
    shared = Path(tempfile.mkdtemp(prefix="railguard-test-"))
    shared.chmod(0o755)
    door = shared / "door.sock"
    os.link(path, door)
    door.chmod(0o777)
    probe = (
        "import os, socket, sys\n"
        f"os.setgid({NOBODY}); os.setuid({NOBODY})\n"
        "s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])\n"
        "try:\n"
        "    s.sendall(b'RGH1' + b'12345678' + bytes([3]) + b'pre' + sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)\n"
        "    print(repr(s.recv(1000)))\n"
        "except (ConnectionResetError, BrokenPipeError):\n"
        "    print(repr(b''))\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(door)],
        input=payload(),
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    shutil.rmtree(shared)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b"b''"  # connected, and not a byte of an answer


@needs_root
def test_the_client_trusts_no_daemon_of_another_user(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="railguard-test-"))
    folder.chmod(0o777)
    path = folder / "impostor.sock"
    impostor = (
        "import os, socket, sys\n"
        f"os.setgid({NOBODY}); os.setuid({NOBODY})\n"
        "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(1)\n"
        "print('up', flush=True)\n"
        "c, _ = s.accept(); c.recv(100000)\n"
        "c.sendall(b'RGH1' + bytes(17)); c.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-S", "-c", impostor, str(path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        with pytest.raises(wire.Unanswered, match="another user"):
            wire.ask(str(path), "pre", payload(), 20)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(folder)


# -- the client falls back in process, with the same verdict -------------------------------------


@pytest.fixture
def held_lock(runtime: Path) -> Iterator[Path]:
    """The daemon's lock held by the test: a daemon the client starts gives up at once, so what the
    test puts at the socket path is all the client finds."""
    runtime.mkdir(mode=0o700)
    path = the_socket(runtime)
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield path
    os.close(fd)


def fake_daemon(path: Path, reply: Callable[[socket.socket], None]) -> Callable[[], None]:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    stop = threading.Event()

    def loop() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            reply(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join()
        server.close()

    return close


def _hang(conn: socket.socket) -> None:
    threading.Thread(target=lambda: (time.sleep(30), conn.close()), daemon=True).start()


def _garbage(conn: socket.socket) -> None:
    wire.read_all(conn, 1 << 26)
    conn.sendall(b"\x00garbage{")
    conn.close()


def _allow_for_another_request(conn: socket.socket) -> None:
    wire.read_all(conn, 1 << 26)
    conn.sendall(wire.answer_frame(b"notyours", 0, "", ""))
    conn.close()


def _die_mid_request(conn: socket.socket) -> None:
    conn.recv(10)  # read part of the request, then vanish
    conn.close()


@pytest.mark.parametrize("behaviour", [_hang, _garbage, _allow_for_another_request, _die_mid_request])
def test_a_daemon_that_does_not_answer_properly_is_decided_in_process(
    runtime: Path, held_lock: Path, behaviour: Callable[[socket.socket], None]
) -> None:
    close = fake_daemon(held_lock, behaviour)
    try:
        answer = client(runtime, payload(), "--event", "pre", env={wire.TIMEOUT_ENV: "2"})
    finally:
        close()
    same_answer(answer, in_process(payload(), "--event", "pre"))
    assert json.loads(answer.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_a_refused_socket_is_decided_in_process(runtime: Path, held_lock: Path) -> None:
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(held_lock))  # bound, never listening: connecting is refused
    try:
        answer = client(runtime, payload(), "--event", "pre")
    finally:
        dead.close()
    same_answer(answer, in_process(payload(), "--event", "pre"))


@pytest.mark.parametrize("command", ["rm -rf /", "git status"])
def test_without_a_daemon_the_client_decides_in_process(runtime: Path, command: str) -> None:
    data = payload(tool_input={"command": command})
    answer = client(runtime, data, "--event", "pre", env={wire.DAEMON_ENV: "0"})
    same_answer(answer, in_process(data, "--event", "pre"))
    assert not runtime.exists() or daemons(runtime) == {}


def test_a_daemon_killed_mid_request_never_yields_allow(runtime: Path) -> None:
    client(runtime, payload(tool_input={"command": "ls"}), "--event", "pre")
    (_path, pid), *_ = daemons(runtime).items()
    os.kill(pid, signal.SIGSTOP)  # the request reaches a daemon that cannot answer it...
    request = runtime.parent / "request.json"
    request.write_bytes(payload())
    with request.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-S", str(CLIENT), "--event", "pre"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, wire.RUNTIME_DIR_ENV: str(runtime)},
        )
    time.sleep(1)  # let it connect (if it has not yet, it meets a dead socket: same outcome)
    os.kill(pid, signal.SIGKILL)  # ...and dies with it
    out, err = proc.communicate(timeout=TIMEOUT_S)
    answer = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    same_answer(answer, in_process(payload(), "--event", "pre"))
    assert json.loads(out)["hookSpecificOutput"]["permissionDecision"] == "deny"


# -- recording -------------------------------------------------------------------------------------


def test_the_daemon_records_with_the_claude_code_session(runtime: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hook.db'}"
    answer = client(runtime, payload(), "--event", "pre", "--db", db)
    assert json.loads(answer.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    result = payload("Read", event="PostToolUse", tool_input={"file_path": "/x"}, tool_response="text")
    client(runtime, result, "--event", "post", "--db", db)

    def recorded() -> bool:
        with open_store(db) as store:
            return len(store.list_runs(tenant=None)) == 2 and len(store.list_decisions(tenant=None)) == 1

    assert wait_for(recorded)  # recorded after answering, off the decision path
    with open_store(db) as store:
        runs = store.list_runs(tenant=None)
        decisions = store.list_decisions(tenant=None)
    assert [d["verdict"] for d in decisions] == ["block"]
    assert {(r.agent, r.session) for r in runs} == {("claude-code", "sess-1")}
