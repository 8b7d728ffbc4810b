"""Helpers for tests that run the installed Claude Code hook: a private runtime folder per test for
the daemons it starts, every one of them stopped afterwards, and waiting on a condition."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

WAIT_S = 60  # generous, the machine may be loaded; never a speed assertion


def pid_of(lock: Path) -> int | None:
    text = lock.read_text().strip()
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def daemons_stopped_after(folder: Path) -> Iterator[Path]:
    yield folder
    for lock in folder.glob("*.lock") if folder.exists() else ():
        pid = pid_of(lock)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()
