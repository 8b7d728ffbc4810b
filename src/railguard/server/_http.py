"""uvicorn's httptools protocol with each turn of the event loop's writes to a connection sent as one
write: uvicorn writes a response's head and its body separately, so a small answer (the guard API's)
cost two send() system calls and two TCP segments, each waking the client, where one does. Measured
on loopback: most of the server's own CPU per request outside the app (see benchmarks/results/server.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    _HTTPTOOLS = True
except ImportError:  # httptools not installed
    HttpToolsProtocol = asyncio.Protocol  # type: ignore[misc, assignment]
    _HTTPTOOLS = False

FLUSH_AT_BYTES = 64 * 1024  # pending writes past this go out at once (a transport's usual high-water mark)


class CoalescingTransport:
    """A transport whose writes wait for the end of the current turn of the event loop, then go out
    together. Everything else is the wrapped transport's (closing sends what is pending first)."""

    __slots__ = ("_loop", "_pending", "_pending_bytes", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None
        self._pending_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is None:
            self._pending, self._pending_bytes = [bytes(data)], len(data)
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))
            self._pending_bytes += len(data)
        if self._pending_bytes >= FLUSH_AT_BYTES:
            # A response streamed without yielding to the loop: hand it on now, so the transport's
            # flow control (pause_writing past its high-water mark) still holds it back.
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending:
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # get_extra_info, is_closing, pause_reading...
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a CoalescingTransport (`uvicorn.Config(http=...)`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
        super().connection_made(coalescing)  # type: ignore[arg-type]


def http_protocol() -> type[asyncio.Protocol] | str:
    """What `uvicorn.Config(http=...)` should get: the coalescing protocol, or uvicorn's choice when
    httptools is missing (an install without the server extra's hot-path packages)."""
    return CoalescingHttpToolsProtocol if _HTTPTOOLS else "auto"
