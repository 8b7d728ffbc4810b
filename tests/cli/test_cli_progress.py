"""Long operations show progress on a terminal (stderr), and nothing of it reaches a pipe or a file:
a big `check` stream written to a file, and `retention`."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path


def _run_with_terminal_stderr(args: list[str], stdin: str) -> tuple[str, str]:
    """Run the CLI with stdout to a pipe and stderr to a pseudo-terminal; returns (stdout, terminal)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "railguard.cli", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave, env=env,
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # read the terminal while the process writes to it, or it blocks when full
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed with the process
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = process.communicate(stdin.encode(), timeout=300)
    reader.join(timeout=30)
    os.close(master)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")
    return stdout.decode(), b"".join(chunks).decode(errors="replace")


def test_a_check_stream_to_a_file_shows_progress_on_the_terminal() -> None:
    actions = "".join(
        json.dumps({"tool": "Bash", "args": {"command": f"ls dir{i}"}}) + "\n" for i in range(300)
    )
    stdout, terminal = _run_with_terminal_stderr(["check", "--json"], actions)
    assert len(stdout.splitlines()) == 300
    assert all(json.loads(line)["verdict"] == "allow" for line in stdout.splitlines())
    assert "checking actions" in terminal
    assert "checking actions" not in stdout


def test_retention_shows_progress_on_the_terminal(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    from railguard.store import open_store

    with open_store(db):
        pass  # an existing (empty) store: retention only reads and deletes
    stdout, terminal = _run_with_terminal_stderr(["retention", "--days", "1", "--db", db], "")
    assert "deleting data older than 1 days" in terminal
    assert "deleted 0 rows" in stdout
