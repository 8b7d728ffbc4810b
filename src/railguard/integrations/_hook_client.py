"""The Claude Code hook's thin client: the installed command runs this file with `python -S`.

Claude Code starts the hook twice per tool call, so its start-up is latency the user feels. This
file uses only the standard library and is run by path (not `-m`), so it imports neither site-
packages nor Railguard's package: it reads the hook input, hands it over a UNIX socket to a warm
daemon (`_hook_daemon`, which decides through `claude_code`'s own code path) and writes its answer.

The daemon is per user and per configuration: its socket lives in a private runtime folder (mode
0700, owned by the user; see `runtime_dir`), its name is a digest of the options, the interpreter
and a stamp of the installed Railguard files, so a new version installed gets a new daemon and the
old one exits. The first call starts it. Both sides check the other's user id (SO_PEERCRED).

Whenever the daemon cannot give a well-formed answer — no socket, refused, not started in time,
timed out, closed mid-answer, garbage, another user on the other end — the client decides in
process through the same code (`claude_code.serve_hook`): slower, never weaker, never fail-open.
"""

from __future__ import annotations

# Only modules Python has loaded anyway, or cheap ones: every millisecond here is paid twice per call.
import os
import socket
import stat
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

PROTOCOL = 1
MAGIC = b"RGH1"  # every request and answer starts with it
BLOCKING_EXIT = 2
INPUT_CAP = 64 * 1024 * 1024  # the daemon applies the real limit; this only bounds what we hold
ANSWER_CAP = 64 * 1024 * 1024
RUNTIME_DIR_ENV = "RAILGUARD_HOOK_RUNTIME_DIR"
DAEMON_ENV = "RAILGUARD_HOOK_DAEMON"  # "0" turns the daemon off: every call decides in process
TIMEOUT_ENV = "RAILGUARD_HOOK_CLIENT_TIMEOUT_S"
TIMEOUT_S = 8.0  # a daemon slower than this is given up on; the call is decided in process
START_WAIT_ENV = "RAILGUARD_HOOK_START_WAIT_S"
START_WAIT_S = 10.0  # how long the first call waits for the daemon it started to say it is ready
DEADLINE_ENV = "RAILGUARD_HOOK_DEADLINE_S"  # the same bound as the in-process hook's
DEADLINE_S = 30.0
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Files whose change means "another Railguard is installed": the daemon running the old code is stale.
STAMPED_FILES = (
    "__init__.py",
    "engine.py",
    "model.py",
    os.path.join("integrations", "claude_code.py"),
    os.path.join("integrations", "_hook_client.py"),
    os.path.join("integrations", "_hook_daemon.py"),
    os.path.join("policy", "packs"),
)
OPTIONS_WITH_VALUE = (
    "--policy",
    "-p",
    "--pack",
    "--event",
    "--allow-mode",
    "--untrusted",
    "--db",
    "--server",
)
SERVER_ENV, KEY_ENV = "RAILGUARD_URL", "RAILGUARD_KEY"


class Unanswered(Exception):
    """The daemon gave no usable answer; the call is decided in process."""


def install_stamp(package_dir: str = PACKAGE_DIR) -> str:
    """A digest of the installed Railguard files' sizes and modification times, and the interpreter."""
    parts = [sys.executable, sys.version]
    for name in STAMPED_FILES:
        try:
            info = os.stat(os.path.join(package_dir, name))
            parts.append(f"{name}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}")
        except OSError:
            parts.append(f"{name}:missing")
    return _digest("\n".join(parts))[:16]


def _digest(text: str) -> str:
    try:  # the built-in SHA-256: no OpenSSL to load
        from _sha256 import sha256
    except ImportError:
        from hashlib import sha256
    return sha256(text.encode()).hexdigest()


def runtime_dir() -> str:
    """The user's private folder for daemon sockets: $RAILGUARD_HOOK_RUNTIME_DIR, else
    $XDG_RUNTIME_DIR/railguard, else /tmp/railguard-<uid>. Created 0700; refused (OSError) when it
    is not a real folder owned by this user and closed to everyone else."""
    chosen = os.environ.get(RUNTIME_DIR_ENV)
    if not chosen:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        chosen = os.path.join(xdg, "railguard") if xdg else os.path.join("/tmp", f"railguard-{os.getuid()}")
    try:
        os.mkdir(chosen, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(chosen)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError(
            f"{chosen} is not a folder private to this user (mode 0700, owned by uid {os.getuid()})"
        )
    return chosen


def daemon_config(argv: Sequence[str]) -> dict[str, Any]:
    """The options that shape the daemon (everything but --event), policy paths made absolute."""
    config: dict[str, Any] = {
        "policy": [], "pack": [], "untrusted": [], "allow_mode": "defer", "db": None, "provenance": False,
        "server": os.environ.get(SERVER_ENV) or None,
    }  # fmt: skip
    args = list(argv)
    i = 0
    while i < len(args):
        name, value = args[i], None
        if name == "--provenance":  # the one flag without a value
            config["provenance"] = True
            i += 1
            continue
        if "=" in name and name.startswith("--"):
            name, value = name.split("=", 1)
        if name not in OPTIONS_WITH_VALUE:
            raise ValueError(f"unknown option {name[:40]!r}")
        if value is None:
            if i + 1 >= len(args):
                raise ValueError(f"{name} needs a value")
            value = args[i + 1]
            i += 1
        i += 1
        if name in ("--policy", "-p"):
            config["policy"].append(os.path.abspath(value))
        elif name in ("--pack", "--untrusted"):
            config[name[2:]].append(value)
        elif name == "--allow-mode":
            config["allow_mode"] = value
        elif name == "--db":
            config["db"] = value
        elif name == "--server":
            config["server"] = value
    if config["server"]:
        # One daemon per key (it holds the key it was started with): a digest, never the key itself.
        config["key"] = _digest(os.environ.get(KEY_ENV, ""))[:16]
    return config


def event_of(argv: Sequence[str]) -> str | None:
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--event" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--event="):
            return arg.split("=", 1)[1]
    return None


def config_argv(config: dict[str, Any]) -> list[str]:
    """`config` as hook options again (what the daemon is started with)."""
    argv = ["--allow-mode", config["allow_mode"]]
    for name in ("policy", "pack", "untrusted"):
        for value in config[name]:
            argv += [f"--{name}", value]
    if config.get("provenance"):
        argv.append("--provenance")
    if config.get("server"):
        argv += ["--server", config["server"]]
    return argv if config["db"] is None else [*argv, "--db", config["db"]]


def socket_path(config: dict[str, Any], stamp: str, folder: str) -> str:
    key = repr((PROTOCOL, stamp, sorted(config.items())))
    return os.path.join(folder, f"hook-{_digest(key)[:20]}.sock")


def peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end of a UNIX socket (Linux SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def request_frame(nonce: bytes, event: str | None, body: bytes) -> bytes:
    name = (event or "").encode()[:255]
    return MAGIC + nonce + bytes([len(name)]) + name + body


def parse_request(raw: bytes) -> tuple[bytes, str | None, bytes]:
    """(nonce, event, body) of a request; ValueError when it is not one."""
    if len(raw) < 13 or raw[:4] != MAGIC:
        raise ValueError("not a hook request")
    size = raw[12]
    event = raw[13 : 13 + size].decode()
    return raw[4:12], event or None, raw[13 + size :]


def answer_frame(nonce: bytes, code: int, out: str, err: str) -> bytes:
    out_b, err_b = out.encode(), err.encode()
    return MAGIC + nonce + struct.pack(">BII", code, len(out_b), len(err_b)) + out_b + err_b


def read_all(sock: socket.socket, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise Unanswered("the answer is over the size cap")
        chunks.append(chunk)


def ask(path: str, event: str | None, data: bytes, timeout_s: float) -> tuple[int, str, str]:
    """One request to the daemon at `path`: (exit code, stdout, stderr). Raises Unanswered, or
    OSError when nothing listens there."""
    nonce = os.urandom(8)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(path)
        if peer_uid(sock) != os.getuid():
            raise Unanswered("the daemon runs as another user")
        try:
            sock.sendall(request_frame(nonce, event, data))
            sock.shutdown(socket.SHUT_WR)
            raw = read_all(sock, ANSWER_CAP)
        except OSError as err:  # timeout, reset: the daemon died or hung mid-request
            raise Unanswered(f"no answer ({type(err).__name__})") from None
    return parse_answer(raw, nonce)


def parse_answer(raw: bytes, nonce: bytes) -> tuple[int, str, str]:
    """The answer to the request `nonce`, all of it, or Unanswered."""
    head = 4 + 8 + 9
    if len(raw) < head or raw[:4] != MAGIC or raw[4:12] != nonce:
        raise Unanswered("the answer is not for this request")
    code, out_size, err_size = struct.unpack(">BII", raw[12:head])
    if code not in (0, 1, BLOCKING_EXIT) or len(raw) != head + out_size + err_size:
        raise Unanswered("the answer is malformed")
    try:
        out = raw[head : head + out_size].decode()
        err = raw[head + out_size :].decode()
    except UnicodeDecodeError:
        raise Unanswered("the answer is not text") from None
    return code, out, err


def start_daemon(path: str, config: dict[str, Any], stamp: str, wait_s: float) -> None:
    """Start the daemon for `path` in its own session and wait until it says it is ready (or fails)."""
    import subprocess

    ready_r, ready_w = os.pipe()
    env = dict(os.environ)
    parent = os.path.dirname(PACKAGE_DIR)  # run the Railguard next to this file, whatever is installed
    env["PYTHONPATH"] = parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    command = [
        sys.executable, "-m", "railguard.integrations._hook_daemon",
        "--socket", path, "--stamp", stamp, "--ready-fd", str(ready_w), "--", *config_argv(config),
    ]  # fmt: skip
    try:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(ready_w,),
            start_new_session=True,  # outlives this hook process; not killed with Claude Code's group
            cwd="/",
            env=env,
        )
    finally:
        os.close(ready_w)
    try:
        import select

        readable, _, _ = select.select([ready_r], [], [], wait_s)
        if readable:
            os.read(ready_r, 16)  # "ready", or EOF when it died (or lost the race to a twin)
    finally:
        os.close(ready_r)


def decide_remotely(argv: Sequence[str], data: bytes) -> tuple[int, str, str]:
    if os.environ.get(DAEMON_ENV) == "0":
        raise Unanswered("the daemon is turned off")
    config = daemon_config(argv)
    event = event_of(argv)
    stamp = install_stamp()
    path = socket_path(config, stamp, runtime_dir())
    timeout_s = _seconds(TIMEOUT_ENV, TIMEOUT_S)
    try:
        return ask(path, event, data, timeout_s)
    except (FileNotFoundError, ConnectionRefusedError):
        pass  # not running (or died): start it
    start_daemon(path, config, stamp, _seconds(START_WAIT_ENV, START_WAIT_S))
    return ask(path, event, data, timeout_s)


def decide_in_process(argv: Sequence[str], data: bytes) -> int:
    """The hook as it runs without a daemon, on the input already read."""
    import site

    site.main()  # -S skipped site-packages; the full hook needs them
    sys.path.insert(0, os.path.dirname(PACKAGE_DIR))  # the Railguard next to this file, as the daemon
    from railguard.integrations.claude_code import main

    return main(list(argv), read_input=lambda: data)


def _seconds(env: str, default: float) -> float:
    try:
        value = float(os.environ.get(env, default))
    except ValueError:
        return default
    return value if 0 < value < 3600 else default


_prompt = [False]  # this call hands in the user's prompt: exit 2 would erase it, so failures exit 0


def _blocked(problem: str) -> int:
    if _prompt[0]:
        message = f"Railguard could not record the prompt: {problem}.\n"
    else:
        message = f"Railguard could not check this tool call, so it is blocked: {problem}.\n"
    try:
        os.write(2, message.encode())
    except OSError:
        pass
    return 0 if _prompt[0] else BLOCKING_EXIT


def _on_signal(signum: int, _frame: object) -> None:
    import signal

    if signum == signal.SIGALRM:
        _blocked("the hook ran past its deadline")
    else:
        _blocked(f"the hook was stopped ({signal.Signals(signum).name})")
    os._exit(0 if _prompt[0] else BLOCKING_EXIT)


def main(argv: Sequence[str]) -> int:
    """Every way this can fail blocks (exit 2): a signal, the whole call running past
    $RAILGUARD_HOOK_DEADLINE_S (default 30 s, before Claude Code's own timeout lets the call run),
    an error here; anything short of a well-formed daemon answer is decided in process."""
    import signal

    _prompt[0] = event_of(argv) == "prompt"
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(signum, _on_signal)
    signal.setitimer(signal.ITIMER_REAL, _seconds(DEADLINE_ENV, DEADLINE_S))
    try:
        data = sys.stdin.buffer.read(INPUT_CAP + 1)
    except (OSError, ValueError):
        return _blocked("its input could not be read")
    try:
        code, out, err = decide_remotely(argv, data)
    except Exception:  # Unanswered, OSError, bad options ...: the in-process hook answers those
        return decide_in_process(argv, data)
    for stream, text in ((sys.stdout, out), (sys.stderr, err)):
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


if __name__ == "__main__":
    # Run by path: this folder is sys.path[0], and its modules (openai.py, anthropic.py ...) would
    # shadow the real packages of those names in the in-process fallback.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        code = main(sys.argv[1:])
    except BaseException as err:  # never exit 1 (Claude Code would let the call run)
        code = _blocked(f"the hook failed ({type(err).__name__})")
    raise SystemExit(code)
