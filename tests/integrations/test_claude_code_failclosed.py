"""The Claude Code hook fails closed as a process: whatever goes wrong — input it cannot read, a
signal, a store that is down or locked — the answer is a block (exit 2) or the real decision, never
exit 1, never a traceback, and never slower than a hook may be.

Both entry points are run for real: the documented `railguard hook claude-code` and the installed
`python -m railguard.integrations.claude_code`."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from railguard.store import open_store

ENTRY_POINTS = {
    "cli": [sys.executable, "-m", "railguard.cli", "hook", "claude-code"],
    "light": [sys.executable, "-m", "railguard.integrations.claude_code"],
}
# Generous: the hook answers in a few seconds even on a loaded machine. On the code before the fix
# a locked SQLite store took ~35 s and an unresponsive PostgreSQL never answered.
ANSWER_TIMEOUT_S = 25


def payload(command: str = "rm -rf /", **extra: Any) -> dict[str, Any]:
    return {
        "session_id": "s1",
        "cwd": "/home/ana/demo",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command},
        "tool_use_id": "toolu_1",
        **extra,
    }


def hook(
    entry: str, stdin: bytes, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*ENTRY_POINTS[entry], *options],
        input=stdin,
        capture_output=True,
        timeout=ANSWER_TIMEOUT_S,
        env={**os.environ, **(env or {})},
    )


def assert_blocked(done: subprocess.CompletedProcess[bytes], why: bytes) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == b""
    assert b"Traceback" not in done.stderr
    assert done.stderr.startswith(b"Railguard could not check this tool call, so it is blocked")
    assert why in done.stderr


def nested(depth: int) -> bytes:
    return b'{"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"a": ' + (
        b"[" * depth + b"]" * depth + b"}}"
    )


# -- item 5: every failure of the hook is a block ----------------------------------------------


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_input_is_blocked_not_crashed(entry: str, depth: int) -> None:
    assert_blocked(hook(entry, nested(depth), "--event", "pre"), b"nests deeper than")


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_input_that_is_not_utf8_is_blocked(entry: str) -> None:
    raw = json.dumps(payload("echo X")).encode().replace(b"X", b"\xff\xfe")
    assert_blocked(hook(entry, raw), b"not valid UTF-8")


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_lone_surrogate_in_input_is_blocked(entry: str) -> None:
    raw = json.dumps(payload("rm -rf /\ud800"))  # json.dumps writes it as the escape \ud800
    assert_blocked(hook(entry, raw.encode()), b"surrogate")


def test_input_over_the_size_limit_is_blocked() -> None:
    from railguard._limits import MAX_JSON_BYTES

    big = json.dumps(payload("echo " + "a" * MAX_JSON_BYTES)).encode()
    assert_blocked(hook("light", big), b"over the limit")


def _catches_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads signal masks from /proc")
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_call_answers_blocked_from_the_process(entry: str, signum: signal.Signals) -> None:
    # The hook is left waiting on its stdin, then signalled once it has its handlers in place.
    proc = subprocess.Popen(
        [*ENTRY_POINTS[entry], "--event", "pre"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while not _catches_sigterm(proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=ANSWER_TIMEOUT_S)
    finally:
        proc.kill()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert_blocked(done, f"stopped ({signum.name})".encode())


def test_the_deadline_answers_blocked_when_the_hook_runs_too_long() -> None:
    # Stdin never closes, so the hook can never finish on its own; its own deadline must answer.
    proc = subprocess.Popen(
        [*ENTRY_POINTS["light"], "--event", "pre"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "RAILGUARD_HOOK_DEADLINE_S": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        proc.wait(timeout=ANSWER_TIMEOUT_S)  # stdin stays open all along
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        proc.kill()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert_blocked(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), b"past its deadline")


# -- item 4: the decision never waits on recording ---------------------------------------------


@pytest.fixture
def silent_postgres() -> Iterator[int]:
    """A TCP listener that accepts connections and never says a word: a PostgreSQL that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_an_unresponsive_postgresql_never_delays_the_answer(entry: str, silent_postgres: int) -> None:
    db = f"postgresql://postgres:hunter2secret@127.0.0.1:{silent_postgres}/test"
    done = hook(entry, json.dumps(payload()).encode(), "--db", db)
    assert done.returncode == 0
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert b"Railguard did not record this call" in done.stderr
    assert done.stderr.count(b"\n") == 1  # one line, and it never shows the password
    assert b"hunter2secret" not in done.stderr


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_locked_sqlite_store_never_delays_the_answer(entry: str, tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    open_store(f"sqlite:///{path}").close()  # migrated, so only the lock stands in the way
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        done = hook(
            entry, json.dumps(payload("ls -la")).encode(), "--event", "pre", "--db", f"sqlite:///{path}"
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (done.returncode, done.stdout) == (0, b"")  # allowed -> deferred to Claude Code
    assert done.stderr.startswith(b"Railguard did not record this call")
    assert b"Traceback" not in done.stderr


def test_a_working_store_gets_the_decision_and_its_span(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hook.db'}"
    # A loaded test machine may need more than the default wait to import and open the store.
    done = hook(
        "light", json.dumps(payload()).encode(), "--db", db, env={"RAILGUARD_HOOK_RECORD_WAIT_S": "20"}
    )
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert done.stderr == b""
    with open_store(db) as store:
        decisions = store.list_decisions(tenant=None)
        runs = store.list_runs(tenant=None)
        spans = store.get_trace(runs[0].trace_id, tenant=None)
    assert [d["verdict"] for d in decisions] == ["block"]
    assert [s.name for s in spans] == ["execute_tool Bash"]
