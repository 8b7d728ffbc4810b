"""`railguard mcp-proxy -- COMMAND`: start the upstream server first, before the proxy's own imports.

A client waits for the answer to `initialize`, and the upstream server's start-up (often an MCP SDK
import of its own) is most of that wait. Started in sequence (the proxy imports Typer, the engine and
the MCP SDK, then spawns the server) the two start-ups add up; started here, from the command line's
entry before anything heavy loads, they overlap. The proxy then adopts the running process
(`adopted_server`) instead of spawning one through the SDK's stdio transport.

The process is started as the SDK would start it: the same argv, this process's environment and
working directory, stderr shared, in its own session (so the whole tree can be stopped), stdin and
stdout as pipes. If the proxy ends up not adopting it (the command line is refused, another mode is
chosen), it is stopped when the proxy exits.

The first exchange is relayed here too, by a thread, while the proxy imports: the client's
`initialize` goes to the server and the server's answer back to the client as soon as the server
gives it, not once Typer, the engine and the MCP SDK have loaded. `initialize` is never a decision
(the proxy checks `tools/call`), and the relay writes both messages as the SDK's transports would
(the JSON-RPC fields, nothing else). Anything else, or anything it is not sure of (another first
message, an answer that is not the result for that request), it leaves to the proxy, which then
handles it as if it had read it itself (`EarlyExchange`). When the proxy is ready before the server
has answered, it takes over the wait.

This module imports only the standard library at load; the transport imports anyio and the SDK when
it runs.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.client._transport import TransportStreams

# Options that take the proxy away from a stdio upstream given after `--` (Typer reports a misuse).
_OTHER_MODES = ("--listen", "--upstream", "--help")

# As the SDK's stdio transport: the server's grace period after its stdin closes, then SIGTERM to its
# process group, then SIGKILL.
_EXIT_GRACE_S = 2.0
_TERM_GRACE_S = 2.0
_FLUSH_S = 0.5
_READ_CHUNK = 65536

_POLL_S = 0.05  # how often the relay looks whether the proxy has taken over


class EarlyExchange:
    """What the early relay did before the proxy took over: `client_lines` it read and did not
    forward (the proxy handles them first, in order), the `initialize` it forwarded and that is still
    unanswered (`pending_id`), the `result` it relayed to the client, and `upstream_bytes` it read
    from the server and did not relay."""

    __slots__ = ("client_lines", "pending_id", "result", "upstream_bytes")

    def __init__(self) -> None:
        self.client_lines: list[str] = []
        self.pending_id: str | int | None = None
        self.result: dict[str, Any] | None = None
        self.upstream_bytes = b""


class Relay:
    """The thread relaying the first exchange between the client (`client_in` / `client_out`, this
    process's stdin and stdout) and the server `process`; `take_over` stops it and tells what it did."""

    def __init__(self, process: subprocess.Popen[bytes], client_in: int = 0, client_out: int = 1) -> None:
        self.client_in, self.client_out = client_in, client_out
        self.exchange = EarlyExchange()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(process,), name="railguard-mcp-early", daemon=True
        )
        self.thread.start()

    def take_over(self) -> EarlyExchange:
        self.stop.set()
        self.thread.join()
        return self.exchange

    def _run(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None, "started with pipes"
        try:
            data = self._read_client()
            if not data:
                return
            # split as the SDK's stdio transport splits (a UTF-8 text stream, universal newlines)
            lines = list(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace"))
            self.exchange.client_lines = lines
            request = _initialize_request(lines[0])
            if request is None:
                return
            _write_all(process.stdin.fileno(), _wire(request))
            self.exchange.client_lines = lines[1:]
            self.exchange.pending_id = request["id"]
            self._relay_answer(process.stdout.fileno(), request["id"])
        except Exception:  # what was read is in the exchange: the proxy goes on from there
            return

    def _read_client(self) -> bytes:
        """Whole lines from the client (once a line has begun, to its end), or nothing if the proxy
        took over first."""
        data = b""
        while not data.endswith(b"\n"):
            if not data and self.stop.is_set():
                return data
            if not select.select([self.client_in], [], [], _POLL_S)[0]:
                continue
            chunk = os.read(self.client_in, _READ_CHUNK)
            if not chunk:
                break
            data += chunk
        return data

    def _relay_answer(self, fd: int, request_id: str | int) -> None:
        data = b""
        while b"\n" not in data:
            if self.stop.is_set():
                break
            if not select.select([fd], [], [], _POLL_S)[0]:
                continue
            chunk = os.read(fd, _READ_CHUNK)
            self.exchange.upstream_bytes = data = data + chunk
            if not chunk:
                return
        if b"\n" not in data:
            return  # taken over while the server had not answered
        line, _, rest = data.partition(b"\n")
        result = _initialize_result(line, request_id)
        if result is None:
            return  # not yet, or not an answer this relay is sure of: the proxy reads it
        self.exchange.upstream_bytes = rest
        self.exchange.pending_id = None
        self.exchange.result = result
        try:
            _write_all(self.client_out, _wire({"jsonrpc": "2.0", "id": request_id, "result": result}))
        except OSError:
            pass  # the client is gone; the proxy finds its stdin closed


def _initialize_request(line: str) -> dict[str, Any] | None:
    """The client's `initialize` request as the SDK reads it (its JSON-RPC fields), or None."""
    message = _json_rpc(line)
    if message is None or message.get("method") != "initialize":
        return None
    request_id = message.get("id")
    if type(request_id) not in (int, str):  # a float or a bool id: the SDK reads a notification
        return None
    request = {"jsonrpc": "2.0", "id": request_id, "method": "initialize"}
    if "params" in message:
        if message["params"] is not None and not isinstance(message["params"], dict):
            return None
        request["params"] = message["params"]
    return request


def _initialize_result(line: bytes, request_id: str | int) -> dict[str, Any] | None:
    """The `result` of the server's answer to `request_id`, or None for any other line."""
    message = _json_rpc(line)
    if (
        message is None
        or "error" in message
        or type(message.get("id")) is not type(request_id)
        or message.get("id") != request_id
        or not isinstance(message.get("result"), dict)
    ):
        return None
    result: dict[str, Any] = message["result"]
    return result


def _json_rpc(line: str | bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) and message.get("jsonrpc") == "2.0" else None


def _wire(message: dict[str, Any]) -> bytes:
    """One message as the SDK writes it: compact JSON, UTF-8, one line."""
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_started: tuple[tuple[str, ...], subprocess.Popen[bytes], Relay] | None = None


def upstream_command(args: Sequence[str]) -> list[str] | None:
    """The server command of `mcp-proxy ARGS` when the proxy will run it over stdio: everything after
    the first `--`, with none of the options that choose another mode before it."""
    if "--" not in args:
        return None
    cut = list(args).index("--")
    options, command = args[:cut], list(args[cut + 1 :])
    if not command or any(o.split("=", 1)[0] in _OTHER_MODES for o in options):
        return None
    return command


def start_early(args: Sequence[str]) -> None:
    """Start the upstream server of `mcp-proxy ARGS` now, if there is one; a failure to start is left
    to the ordinary path, which reports it."""
    global _started
    command = upstream_command(args)
    if command is None or _started is not None or os.name != "posix":  # elsewhere: the SDK spawns it
        return
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )
    except (OSError, ValueError):
        return
    _started = (tuple(command), process, Relay(process))
    atexit.register(discard)


def adopt(command: Sequence[str]) -> tuple[subprocess.Popen[bytes], EarlyExchange] | None:
    """The server started early for exactly `command` and what the early relay did, handed over
    once; None otherwise (a server started for another command is stopped)."""
    global _started
    if _started is None:
        return None
    argv, process, relay = _started
    if argv != tuple(command):
        discard()
        return None
    _started = None
    return process, relay.take_over()


def discard() -> None:
    """Stop a server started early that nobody adopted."""
    global _started
    if _started is None:
        return
    _, process, relay = _started
    _started = None
    relay.stop.set()
    _stop_now(process)


def _stop_now(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with suppress(OSError):
                pipe.close()
    try:
        process.wait(_EXIT_GRACE_S)
        return
    except subprocess.TimeoutExpired:
        pass
    for sig, grace in ((signal.SIGTERM, _TERM_GRACE_S), (signal.SIGKILL, None)):
        with suppress(OSError):
            os.killpg(process.pid, sig)
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


@asynccontextmanager
async def adopted_server(
    process: subprocess.Popen[bytes], already_read: bytes = b""
) -> AsyncIterator[TransportStreams]:
    """The SDK's client transport streams over a server process already running: newline-delimited
    JSON-RPC on its stdout (after `already_read`, what was read from it before) and stdin. A line
    that is not a JSON-RPC message reaches the session as an exception, as with the SDK's own
    transport. On exit the server is stopped as the SDK stops its own: stdin closed, a grace period,
    then its process group terminated and killed."""
    import anyio
    import mcp_types as types
    from mcp.shared.message import SessionMessage

    assert process.stdin is not None and process.stdout is not None, "started with pipes"
    out_fd, in_fd = process.stdout.fileno(), process.stdin.fileno()
    os.set_blocking(out_fd, False)
    os.set_blocking(in_fd, False)
    to_session, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, from_session = anyio.create_memory_object_stream[SessionMessage](0)
    writer_done = anyio.Event()

    def parse(line: bytes) -> SessionMessage | Exception:
        try:
            return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
        except ValueError as err:
            return err

    async def read_chunk() -> bytes:
        while True:
            await anyio.wait_readable(out_fd)
            try:
                return os.read(out_fd, _READ_CHUNK)
            except BlockingIOError:
                continue

    async def reader() -> None:
        delivering = True  # once the session is gone, keep draining so the server never blocks
        buffer = b""
        try:
            async with to_session:
                unread = already_read
                while True:
                    chunk, unread = unread or await read_chunk(), b""
                    if not chunk:
                        return
                    if not delivering:
                        continue
                    *lines, buffer = (buffer + chunk).split(b"\n")
                    for line in lines:
                        try:
                            await to_session.send(parse(line))
                        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                            delivering = False
                            break
        except (OSError, anyio.ClosedResourceError):
            return  # the pipe closed under the read at shutdown

    async def write_all(data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(in_fd, view) :]
            except BlockingIOError:
                await anyio.wait_writable(in_fd)

    async def writer() -> None:
        try:
            async with from_session:
                async for item in from_session:
                    text = item.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await write_all((text + "\n").encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await to_session.aclose()  # the server cannot be written to: end the session's reads
        finally:
            writer_done.set()

    async def stop() -> None:
        read_stream.close()
        write_stream.close()
        with anyio.move_on_after(_FLUSH_S):
            await writer_done.wait()
        anyio.notify_closing(in_fd)
        with suppress(OSError):
            process.stdin.close()  # type: ignore[union-attr]
        if not await _exited_within(process, _EXIT_GRACE_S):
            for sig, grace in ((signal.SIGTERM, _TERM_GRACE_S), (signal.SIGKILL, _TERM_GRACE_S)):
                with suppress(OSError):
                    os.killpg(process.pid, sig)
                if await _exited_within(process, grace):
                    break
        anyio.notify_closing(out_fd)
        with suppress(OSError):
            process.stdout.close()  # type: ignore[union-attr]

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reader)
        tasks.start_soon(writer)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):
                await stop()
            tasks.cancel_scope.cancel()


async def _exited_within(process: subprocess.Popen[Any], seconds: float) -> bool:
    import anyio

    with anyio.move_on_after(seconds):
        while process.poll() is None:
            await anyio.sleep(0.01)
        return True
    return False


__all__ = ["EarlyExchange", "Relay", "adopt", "adopted_server", "discard", "start_early", "upstream_command"]
