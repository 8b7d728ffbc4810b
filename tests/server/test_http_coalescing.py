"""The server's HTTP protocol sends what a turn of the event loop wrote to a connection as one write
(uvicorn writes a response's head and body separately: two system calls and two TCP segments)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from railguard.server._http import FLUSH_AT_BYTES, CoalescingHttpToolsProtocol, CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5)}.get(name, default)


def test_writes_of_one_turn_go_out_together_and_in_order() -> None:
    async def scenario() -> list[bytes]:
        recorded = RecordingTransport()
        transport = CoalescingTransport(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(bytearray(b"{}"))
        assert recorded.writes == []  # not before the turn ends
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        assert transport.get_extra_info("peername") == ("127.0.0.1", 5)  # the rest is the transport's
        return recorded.writes

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"next"]


def test_a_large_response_written_in_one_turn_goes_out_before_the_turn_ends() -> None:
    """Past FLUSH_AT_BYTES pending, writes go on to the transport at once: its flow control (pause
    past the high-water mark) still sees a response streamed without yielding to the loop."""

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        recorded = RecordingTransport()
        transport = CoalescingTransport(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
        chunk = b"x" * (FLUSH_AT_BYTES // 2)
        for n in range(5):
            transport.write(chunk[:-1] + bytes([48 + n]))
        within_the_turn = list(recorded.writes)
        await asyncio.sleep(0)
        return within_the_turn, recorded.writes

    within_the_turn, writes = asyncio.run(scenario())
    assert len(within_the_turn) == 2 and all(len(w) >= FLUSH_AT_BYTES for w in within_the_turn)
    assert b"".join(writes).count(b"x") == 5 * (FLUSH_AT_BYTES // 2 - 1)
    assert [w[-1] for w in writes] == [49, 51, 52]  # in order: chunks 0-1, 2-3, then 4 at the turn's end


def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    async def scenario() -> tuple[RecordingTransport, RecordingTransport]:
        loop = asyncio.get_running_loop()
        closed, aborted = RecordingTransport(), RecordingTransport()
        for recorded in (closed, aborted):
            transport = CoalescingTransport(recorded, loop)  # type: ignore[arg-type]
            transport.write(b"last words")
            transport.close() if recorded is closed else transport.abort()
        await asyncio.sleep(0)  # the scheduled flush finds nothing left to send
        return closed, aborted

    closed, aborted = asyncio.run(scenario())
    assert closed.writes == [b"last words"] and closed.closed
    assert aborted.writes == [] and aborted.closed


class CountingTransport:
    """The socket's transport, counting its writes."""

    writes: list[bytes] = []

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        CountingTransport.writes.append(data)
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CountingProtocol(CoalescingHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CountingTransport(transport))  # type: ignore[arg-type]


def test_a_response_over_a_real_socket_is_one_write() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b'{"verdict":"allow"}'
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    async def scenario() -> bytes:
        import uvicorn

        config = uvicorn.Config(app, http=CountingProtocol, lifespan="off", log_level="warning")
        config.load()
        server = uvicorn.Server(config)
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            lambda: CountingProtocol(config=config, server_state=server.server_state, app_state={}),
            "127.0.0.1",
            0,
        )
        port = listener.sockets[0].getsockname()[1]

        def client() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while not answer.endswith(b"}"):
                    answer += conn.recv(65536)
                return answer

        try:
            return await loop.run_in_executor(None, client)
        finally:
            listener.close()

    answer = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b'\r\n\r\n{"verdict":"allow"}')
    assert CountingTransport.writes == [answer]  # head and body: one write (uvicorn alone makes two)
