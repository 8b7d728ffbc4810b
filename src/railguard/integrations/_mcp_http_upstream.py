"""The upstream side of one proxied MCP session: where the server is (an HTTP endpoint or a command),
and the bridge that keeps a failing upstream inside its session.

The SDK's client transports report a lost upstream differently: the stdio one ends its read stream,
the streamable-HTTP one raises out of its context (e.g. a refused connection on the first POST). The
bridge turns both into the same thing for the relay, an ended read stream, so `McpProxy` answers the
requests in flight and every later one with errors and the client never waits on a dead server.
"""

from __future__ import annotations

import os
import sys
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage

from railguard.integrations.mcp_proxy import McpProxy

__all__ = ["HttpUpstream", "StdioUpstream", "Upstream", "relay_session"]

UpstreamStreams = tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]


@dataclass(frozen=True, slots=True)
class HttpUpstream:
    """An MCP server serving streamable HTTP at `url` (e.g. http://127.0.0.1:8000/mcp)."""

    url: str

    def open(self) -> AbstractAsyncContextManager[UpstreamStreams]:
        return streamable_http_client(self.url)

    @property
    def fallback_name(self) -> str:
        return urlsplit(self.url).hostname or "server"

    @property
    def unreachable_reason(self) -> str:
        return "the upstream MCP server could not be reached or stopped answering"


@dataclass(frozen=True, slots=True)
class StdioUpstream:
    """An MCP server run as a subprocess speaking stdio; one process per proxied session."""

    command: str
    args: tuple[str, ...] = ()
    cwd: str | None = None

    def open(self) -> AbstractAsyncContextManager[UpstreamStreams]:
        params = StdioServerParameters(
            command=self.command, args=list(self.args), env=dict(os.environ), cwd=self.cwd
        )
        return stdio_client(params)

    @property
    def fallback_name(self) -> str:
        return Path(self.command).stem or "server"

    @property
    def unreachable_reason(self) -> str:
        return "the upstream MCP server could not be started or exited"


Upstream = HttpUpstream | StdioUpstream


async def relay_session(
    proxy: McpProxy,
    client_read: ReadStream[SessionMessage | Exception],
    client_write: WriteStream[SessionMessage],
    upstream: Upstream,
) -> None:
    """Relay one client session through `proxy` to its own upstream session until the client leaves."""
    to_proxy, from_upstream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_upstream, from_proxy = anyio.create_memory_object_stream[SessionMessage](0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_bridge, proxy, upstream, from_proxy, to_proxy)
        async with to_upstream, from_upstream:
            await proxy.serve(client_read, client_write, from_upstream, to_upstream)
        # Closing `to_upstream` ends the bridge's send loop, so it leaves the upstream transport in
        # order (the HTTP one then ends its upstream session with a DELETE, the stdio one its process).


async def _bridge(
    proxy: McpProxy,
    upstream: Upstream,
    from_proxy: MemoryObjectReceiveStream[SessionMessage],
    to_proxy: MemoryObjectSendStream[SessionMessage | Exception],
) -> None:
    async with from_proxy:
        try:
            # Connect on the client's first message, so a refused opening request costs no upstream.
            first = await from_proxy.receive()
        except anyio.EndOfStream:
            to_proxy.close()
            return
        try:
            async with upstream.open() as (up_read, up_write), anyio.create_task_group() as tg:
                tg.start_soon(_copy_to_proxy, up_read, to_proxy, tg.cancel_scope)
                await up_write.send(first)
                async for item in from_proxy:
                    try:
                        await up_write.send(item)
                    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                        break  # the upstream is gone; its read side ending tells the relay
                tg.cancel_scope.cancel()
        except Exception as problem:  # any transport failure ends only this session's upstream
            proxy.upstream_failed(upstream.unreachable_reason)
            _warn(f"the upstream MCP session failed ({_kinds(problem)}); answering its requests with errors")
        finally:
            to_proxy.close()  # the relay's read side ends: pending and later requests get error answers


async def _copy_to_proxy(
    up_read: ReadStream[SessionMessage | Exception],
    to_proxy: MemoryObjectSendStream[SessionMessage | Exception],
    bridge_scope: anyio.CancelScope,
) -> None:
    try:
        async for item in up_read:
            await to_proxy.send(item)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        return  # the relay already finished (the client left)
    # The upstream ended its stream (a stdio server exited): stop the bridge, whose `finally` ends the
    # relay's read side only after any failure reason was recorded.
    bridge_scope.cancel()


def _kinds(problem: BaseException) -> str:
    """Exception type names only: a message could carry a URL with credentials or a server's text."""
    if isinstance(problem, BaseExceptionGroup):
        return ", ".join(sorted({_kinds(inner) for inner in problem.exceptions}))
    return type(problem).__name__


def _warn(text: str) -> None:
    sys.stderr.write(f"railguard mcp-proxy: {text}\n")
    sys.stderr.flush()
