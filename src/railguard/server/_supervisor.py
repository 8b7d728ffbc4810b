"""`railguard serve --workers N` on Linux: a small supervisor of N worker processes, each accepting on
its own listening socket, all bound to the same address with SO_REUSEPORT, so the kernel spreads new
connections over the workers by a hash of their addresses. (On the one socket uvicorn's workers share,
whichever worker wakes first accepts: on a busy machine one takes most connections while another
idles, and the latency tail grows.)

The supervisor binds the sockets itself: a port in use fails at start, and a dead worker's socket
stays open, so the connections the kernel hands it wait in its backlog for the replacement instead
of being refused. A worker that exits is started again (after a pause that grows while workers keep
dying young). SIGTERM or SIGINT stops every worker gracefully (uvicorn's shutdown: the requests in
flight are answered); a second one kills them at once. Elsewhere `serve` uses uvicorn's own workers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

REUSEPORT_AVAILABLE = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
LISTEN_BACKLOG = 2048  # uvicorn's default
YOUNG_S = 10.0  # a worker that dies younger than this makes the next restart wait longer
MAX_RESTART_PAUSE_S = 10.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1


def reuseport_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one address (port 0: a free port, the same for all). Raises
    OSError when the address is taken, even by a process that set SO_REUSEPORT too: a second server
    started on the port by mistake must fail, not quietly take half of the first one's connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn picks it for --host
    address: tuple[str, int] = (host.strip("[]"), port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # without SO_REUSEPORT: fails on any listener
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
        address = probe.getsockname()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def exit_with_supervisor(supervisor_pid: int) -> None:
    """For a worker, first thing: SIGTERM it when the supervisor dies, even killed outright (Linux's
    parent-death signal), so no orphan keeps serving on a port nobody supervises."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != supervisor_pid:  # it died before the line above
        sys.exit(0)


def _stderr(line: str) -> None:
    print(f"railguard: {line}", file=sys.stderr, flush=True)


@dataclass
class _Slot:
    """One worker's place: its socket, its process (None while waiting to start), its history."""

    index: int
    sock: socket.socket
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0
    young_deaths: int = 0


class Supervisor:
    """Runs one worker process per socket: `command(index, fd)` is its argv (the socket's file
    descriptor is passed to it). `run()` returns when stopped by SIGTERM/SIGINT (or `stop_signal`)."""

    def __init__(
        self,
        sockets: Sequence[socket.socket],
        command: Callable[[int, int], list[str]],
        *,
        graceful_s: float = 30.0,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        self._slots = [_Slot(index, sock) for index, sock in enumerate(sockets)]
        self._command = command
        self._graceful_s = graceful_s
        self._log = log

    def pids(self) -> list[int]:
        return [slot.process.pid for slot in self._slots if slot.process is not None]

    def run(self) -> None:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous_fd = signal.set_wakeup_fd(wake_write)
        # Python handlers, so the signals reach the wakeup pipe; the loop below acts on them.
        watched = (*_STOP_SIGNALS, signal.SIGCHLD)
        previous = {sig: signal.signal(sig, _noted) for sig in watched}
        try:
            for slot in self._slots:
                self._start(slot)
            self._supervise(wake_read)
            self._stop_all(wake_read)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_fd)
            os.close(wake_read)
            os.close(wake_write)
            for slot in self._slots:
                slot.sock.close()

    def _start(self, slot: _Slot) -> None:
        fd = slot.sock.fileno()
        slot.process = subprocess.Popen(self._command(slot.index, fd), pass_fds=(fd,))
        slot.started = time.monotonic()

    def _supervise(self, wake_read: int) -> None:
        while True:
            now = time.monotonic()
            waiting = [slot.restart_at for slot in self._slots if slot.process is None]
            # A signal wakes the loop at once; the 1 s bound is a second chance for a missed SIGCHLD.
            timeout = min([1.0, *(max(0.0, at - now) for at in waiting)])
            if _wait_for_signals(wake_read, timeout) & set(_STOP_SIGNALS):
                return
            self._reap_and_restart()

    def _reap_and_restart(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.process is not None and slot.process.poll() is not None:
                code = slot.process.returncode
                slot.young_deaths = slot.young_deaths + 1 if now - slot.started < YOUNG_S else 0
                pause = (
                    min(MAX_RESTART_PAUSE_S, 0.5 * 2 ** (slot.young_deaths - 1)) if slot.young_deaths else 0.0
                )
                self._log(
                    f"worker {slot.index} (pid {slot.process.pid}) exited with code {code}; "
                    f"starting a new one{f' in {pause:g} s' if pause else ''}"
                )
                slot.process, slot.restart_at = None, now + pause
            if slot.process is None and now >= slot.restart_at:
                self._start(slot)

    def _stop_all(self, wake_read: int) -> None:
        """SIGTERM to every worker, then wait for them (SIGKILL past `graceful_s` or on a second signal)."""
        live = [slot.process for slot in self._slots if slot.process is not None]
        for process in live:
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + self._graceful_s
        while any(process.poll() is None for process in live):
            left = deadline - time.monotonic()
            if left <= 0 or _wait_for_signals(wake_read, min(left, 0.5)) & set(_STOP_SIGNALS):
                for process in live:
                    _signal(process, signal.SIGKILL)
                break
        for process in live:
            process.wait()


def _noted(_signum: int, _frame: FrameType | None) -> None:
    """The signal's number is already in the wakeup pipe."""


def _wait_for_signals(wake_read: int, timeout: float) -> set[int]:
    """The signals that arrived within `timeout` seconds (waking at the first)."""
    ready, _, _ = select.select([wake_read], [], [], timeout)
    if not ready:
        return set()
    try:
        return set(os.read(wake_read, 512))
    except BlockingIOError:
        return set()


def _signal(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            pass
