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

This module imports only the standard library at load; the transport imports anyio and the SDK when
it runs.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
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

_started: tuple[tuple[str, ...], subprocess.Popen[bytes]] | None = None


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
    _started = (tuple(command), process)
    atexit.register(discard)


def adopt(command: Sequence[str]) -> subprocess.Popen[bytes] | None:
    """The server started early for exactly `command`, handed over once; None otherwise (a server
    started for another command is stopped)."""
    global _started
    if _started is None:
        return None
    argv, process = _started
    if argv != tuple(command):
        discard()
        return None
    _started = None
    return process


def discard() -> None:
    """Stop a server started early that nobody adopted."""
    global _started
    if _started is None:
        return
    _, process = _started
    _started = None
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
async def adopted_server(process: subprocess.Popen[bytes]) -> AsyncIterator[TransportStreams]:
    """The SDK's client transport streams over a server process already running: newline-delimited
    JSON-RPC on its stdout and stdin. A line that is not a JSON-RPC message reaches the session as an
    exception, as with the SDK's own transport. On exit the server is stopped as the SDK stops its
    own: stdin closed, a grace period, then its process group terminated and killed."""
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
                while True:
                    chunk = await read_chunk()
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


__all__ = ["adopt", "adopted_server", "discard", "start_early", "upstream_command"]
