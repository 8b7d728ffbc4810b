"""The warm daemon behind the Claude Code hook's thin client (`_hook_client`).

Started by the first hook call (`python -m railguard.integrations._hook_daemon --socket ...`), as
the user, in its own session. It keeps the engine loaded and answers each hook call through
`claude_code.answer_hook` — the very code the in-process hook runs, so a verdict never depends on
which of the two answered. It:

- serves only its own user: the socket sits in a 0700 folder, is itself 0600, and every connection's
  peer user id (SO_PEERCRED) must be the daemon's;
- reloads the policy when one of its files (or what they include) changes, checked on each call; a
  policy that no longer loads is answered the way the in-process hook answers it (blocked);
- records to the store (`--db`) after answering, on one background thread, off the decision path;
- exits after RAILGUARD_HOOK_DAEMON_IDLE_S without a call (default 15 min), and as soon as the
  Railguard files it was started from change (a new version installed: the next call starts a new
  daemon on another socket, named after the new stamp).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from railguard.engine import Engine
from railguard.errors import RailguardError
from railguard.integrations import _hook_client as wire
from railguard.integrations.claude_code import (
    BLOCKING_EXIT,
    AllowMode,
    HookResult,
    answer_hook,
    remote_engine,
)

if TYPE_CHECKING:
    from railguard.remote import RemoteEngine

IDLE_ENV = "RAILGUARD_HOOK_DAEMON_IDLE_S"
IDLE_S = 15 * 60.0
TICK_S = 1.0  # how often the idle loop looks at the clock and at the installed files


class _Policy:
    """The daemon's engine, rebuilt when a policy file changes. `None` while the policy does not
    load: `answer_hook` then tries itself and answers with the load error, as in process."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._server: str | None = config.get("server")
        self._remote: RemoteEngine | None = None
        self._paths: list[str] = list(config["policy"])
        self._packs: list[str] = list(config["pack"])
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._stamp: tuple[tuple[str, int, int], ...] | None = None

    def engine(self) -> Engine | RemoteEngine | None:
        if self._server:  # decisions from the server: one client, its connections kept warm
            with self._lock:
                if self._remote is None:
                    try:
                        self._remote = remote_engine(self._server)
                    except RailguardError:
                        return None  # answer_hook says why, and blocks
                return self._remote
        with self._lock:
            files = self._engine.policy.source.files if self._engine is not None else self._paths
            stamp = _file_stamps(files)
            if self._engine is None or stamp != self._stamp:
                self._engine = self._build()
                files = self._engine.policy.source.files if self._engine is not None else self._paths
                self._stamp = _file_stamps(files)
            return self._engine

    def _build(self) -> Engine | None:
        try:
            return Engine(self._paths or None, packs=self._packs or None)
        except Exception:
            return None


def _file_stamps(files: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for name in files:
        try:
            info = os.stat(name)
            out.append((str(name), info.st_mtime_ns, info.st_size))
        except OSError:
            out.append((str(name), -1, -1))
    return tuple(out)


class Daemon:
    def __init__(self, path: str, stamp: str, config: dict[str, Any], idle_s: float) -> None:
        self.path = path
        self.stamp = stamp
        self.config = config
        self.idle_s = idle_s
        self.policy = _Policy(config)
        self.last_call = time.monotonic()
        self.busy = 0
        self._lock = threading.Lock()
        self._records: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._recorder = threading.Thread(target=self._record_loop, name="railguard-hook-record", daemon=True)

    def serve(self, listener: socket.socket) -> None:
        self._recorder.start()
        listener.settimeout(TICK_S)
        bound = os.stat(self.path).st_ino  # removed at exit only if it is still ours
        try:
            while not self._should_exit():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with self._lock:
                    self.busy += 1
                    self.last_call = time.monotonic()
                threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()
        finally:
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == bound:
                    os.unlink(self.path)
            listener.close()
            self._records.put(None)
            self._recorder.join(timeout=30)

    def _should_exit(self) -> bool:
        with self._lock:
            if self.busy:
                return False
            idle = time.monotonic() - self.last_call > self.idle_s
        return idle or wire.install_stamp() != self.stamp

    def _serve_one(self, conn: socket.socket) -> None:
        try:
            with conn:
                if wire.peer_uid(conn) != os.getuid():
                    return  # another user: no answer at all
                conn.settimeout(30)
                nonce, event, body = wire.parse_request(wire.read_all(conn, wire.INPUT_CAP + 300))
                result, record = self.answer(event, body)
                conn.sendall(wire.answer_frame(nonce, result.exit_code, result.stdout, result.stderr))
            if record is not None:
                self._records.put(record)
        except Exception:
            pass  # the client gets no (or a partial) answer and decides in process
        finally:
            with self._lock:
                self.busy -= 1
                self.last_call = time.monotonic()

    def answer(self, event: Any, body: bytes) -> tuple[HookResult, Callable[[], None] | None]:
        config = self.config
        try:
            mode = AllowMode(config["allow_mode"])
        except ValueError:
            return HookResult(
                BLOCKING_EXIT, stderr=f"Railguard hook: bad --allow-mode {config['allow_mode']!r}\n"
            ), None
        return answer_hook(
            body,
            policies=config["policy"],
            packs=config["pack"],
            event=event if isinstance(event, str) else None,
            allow_mode=mode,
            untrusted=config["untrusted"],
            db=config["db"],
            engine=self.policy.engine(),
            provenance=bool(config.get("provenance")),
            server=config.get("server"),
        )

    def _record_loop(self) -> None:
        while (record := self._records.get()) is not None:
            with contextlib.suppress(Exception):
                record()  # best effort, like the in-process hook's; never on the answer's path


def listen(path: str) -> socket.socket | None:
    """The listening socket at `path`, or None when another daemon already owns it (its lock file
    is held). A socket file left by a dead daemon is replaced."""
    lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock_fd)
        return None
    # the lock stays held (fd kept open) for the daemon's lifetime; it names the daemon's process id
    os.ftruncate(lock_fd, 0)
    os.write(lock_fd, f"{os.getpid()}\n".encode())
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(64)
    return listener


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="railguard-hook-daemon")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--stamp", required=True)
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("hook_options", nargs=argparse.REMAINDER, help="the hook's options, after --")
    opts = parser.parse_args(argv)
    ready = opts.ready_fd
    try:
        folder = wire.runtime_dir() if Path(opts.socket).parent == Path(wire.runtime_dir()) else None
        if folder is None:
            return 2  # only ever listens in the user's private runtime folder
        config = wire.daemon_config([o for o in opts.hook_options if o != "--"])
        daemon = Daemon(opts.socket, opts.stamp, config, wire._seconds(IDLE_ENV, IDLE_S))
        daemon.policy.engine()  # load (and warm) before saying ready
        listener = listen(opts.socket)
        if listener is None:
            return 0  # a twin won the race
        if ready is not None:
            with contextlib.suppress(OSError):
                os.write(ready, b"ready")
                os.close(ready)
            ready = None
        daemon.serve(listener)
        return 0
    finally:
        if ready is not None:
            with contextlib.suppress(OSError):
                os.close(ready)


if __name__ == "__main__":
    raise SystemExit(main())
