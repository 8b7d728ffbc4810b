"""The MCP proxy's streamable-HTTP mode: serve MCP over HTTP to clients, one relay per client session.

    railguard mcp-proxy --listen 127.0.0.1:8765 --upstream http://127.0.0.1:8000/mcp
    railguard mcp-proxy --listen 127.0.0.1:8765 -- python server.py

Each client session gets the SDK's `StreamableHTTPServerTransport` (session ids, SSE streams, DELETE,
DNS-rebinding checks) and its own upstream session (an HTTP session, or one server process), joined by
the same relay core as the stdio mode (`McpProxy`), so every decision is made the same way. The SDK's
`StreamableHTTPSessionManager` is not used because it can only run a high-level `Server`; this small
manager runs a relay instead, with the same rules: a session is opened by a request without a session
id, unknown ids get 404, idle sessions expire, and the number of open sessions is capped (each may own
a server process).
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final
from uuid import uuid4

import anyio
import mcp_types as types
from anyio.abc import TaskGroup, TaskStatus
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from railguard.errors import ConfigurationError
from railguard.integrations._mcp_http_upstream import Upstream, relay_session
from railguard.integrations.mcp_proxy import McpProxy, ProxyOptions

if TYPE_CHECKING:
    from railguard.integrations.mcp_proxy import Decider

__all__ = ["RelaySessions", "http_proxy_app", "parse_listen", "run_http_proxy", "run_stdio_to_upstream"]

MCP_PATH: Final = "/mcp"
DEFAULT_IDLE_TIMEOUT_S: Final = 30 * 60
DEFAULT_MAX_SESSIONS: Final = 100
_PROTOCOL_VERSION_HEADER: Final = b"mcp-protocol-version"
_LOOPBACK_NAMES: Final = frozenset({"localhost"})


class RelaySessions:
    """An ASGI app serving the proxy's MCP endpoint; `run()` must be entered (the app's lifespan)."""

    def __init__(
        self,
        engine: Decider,
        upstream: Upstream,
        options: ProxyOptions | None = None,
        *,
        security: TransportSecuritySettings | None = None,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT_S,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        self.engine = engine
        self.upstream = upstream
        self.options = options or ProxyOptions()
        self._security = security or loopback_security()
        self._idle_timeout = idle_timeout
        self._max_sessions = max_sessions
        self._sessions: dict[str, StreamableHTTPServerTransport] = {}
        self._task_group: TaskGroup | None = None

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._task_group = tg
            try:
                yield
            finally:
                tg.cancel_scope.cancel()  # ends every session (and its upstream)
                self._task_group = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        version = headers.get(_PROTOCOL_VERSION_HEADER)
        if version is not None and version.decode("latin-1") not in HANDSHAKE_PROTOCOL_VERSIONS:
            supported = ", ".join(HANDSHAKE_PROTOCOL_VERSIONS)
            message = f"the Railguard MCP proxy serves the session-based protocol versions ({supported})"
            await _error(message, 400)(scope, receive, send)
            return
        session_id = headers.get(MCP_SESSION_ID_HEADER.encode())
        if session_id is None:
            await self._open_session(scope, receive, send)
            return
        transport = self._sessions.get(session_id.decode("latin-1"))
        if transport is None:
            await _error("Session not found", 404)(scope, receive, send)
            return
        await transport.handle_request(scope, receive, send)
        if transport.is_terminated:  # the client ended it (DELETE): forget it now
            await self._discard(transport)

    async def _open_session(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._task_group is None:
            raise RuntimeError("RelaySessions.run() must be entered before serving requests")
        if len(self._sessions) >= self._max_sessions:
            await _error("Too many open sessions", 503, types.INTERNAL_ERROR)(scope, receive, send)
            return
        transport = StreamableHTTPServerTransport(
            mcp_session_id=uuid4().hex, security_settings=self._security, idle_timeout=self._idle_timeout
        )
        assert transport.mcp_session_id is not None
        self._sessions[transport.mcp_session_id] = transport
        established = False
        try:
            await self._task_group.start(self._serve_session, transport)
            status = await _answer_and_report_status(transport, scope, receive, send)
            established = status is not None and status < 400
        finally:
            if not established:  # only an accepted initialize opens a session
                await self._discard(transport)

    async def _serve_session(
        self, transport: StreamableHTTPServerTransport, *, task_status: TaskStatus[None]
    ) -> None:
        try:
            async with transport.connect() as (client_read, client_write):
                task_status.started()
                idle_scope = transport.idle_scope or anyio.CancelScope()
                with idle_scope:
                    proxy = McpProxy(self.engine, self.options, fallback_name=self.upstream.fallback_name)
                    await relay_session(proxy, client_read, client_write, self.upstream)
        except Exception as problem:  # one broken session must not stop the others
            _warn(f"a client session ended with an error: {describe_failure(problem)}")
        finally:
            await self._discard(transport)

    async def _discard(self, transport: StreamableHTTPServerTransport) -> None:
        # Forget first (no await before it): from now on the id answers 404.
        self._sessions.pop(transport.mcp_session_id or "", None)
        if not transport.is_terminated:
            with anyio.CancelScope(shield=True):
                await transport.terminate()


def http_proxy_app(sessions: RelaySessions, path: str = MCP_PATH) -> Starlette:
    """A Starlette app serving `sessions` at `path`, its lifespan running them."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with sessions.run():
            yield

    return Starlette(
        routes=[Route(path, endpoint=sessions, methods=["GET", "POST", "DELETE"])], lifespan=lifespan
    )


def loopback_security() -> TransportSecuritySettings:
    """Only loopback Host/Origin headers: a web page cannot reach the proxy through DNS rebinding."""
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:PORT`) on a loopback address. The proxy has no authentication, so it
    refuses other interfaces; put an authenticating reverse proxy in front for remote clients."""
    host, sep, port_text = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigurationError(f"--listen expects HOST:PORT, e.g. 127.0.0.1:8765 (got {listen!r})")
    if not _is_loopback(host):
        raise ConfigurationError(
            f"--listen {listen!r} is not a loopback address; the proxy has no authentication, so it only "
            "listens on 127.0.0.1, ::1 or localhost (put an authenticating reverse proxy in front of it)"
        )
    return host, int(port_text)


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def run_http_proxy(
    engine: Decider,
    host: str,
    port: int,
    upstream: Upstream,
    options: ProxyOptions | None = None,
    *,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> int:
    """Serve the proxy at http://HOST:PORT/mcp until interrupted. Returns the process exit code."""
    import uvicorn

    sessions = RelaySessions(engine, upstream, options, max_sessions=max_sessions)
    config = uvicorn.Config(
        http_proxy_app(sessions),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,  # open SSE streams must not hold a shutdown forever
    )
    server = uvicorn.Server(config)
    shown_host = f"[{host}]" if ":" in host else host
    _warn(f"serving MCP at http://{shown_host}:{port}{MCP_PATH}")
    await server.serve()
    return 0 if server.started else 1


async def run_stdio_to_upstream(
    engine: Decider, upstream: Upstream, options: ProxyOptions | None = None
) -> int:
    """Serve the proxy on this process's stdin/stdout in front of `upstream` (typically an HTTP server,
    so a stdio-only client can use it). Returns 1 when the upstream was lost before the client left."""
    proxy = McpProxy(engine, options, fallback_name=upstream.fallback_name)
    async with stdio_server() as (client_read, client_write):
        await relay_session(proxy, client_read, client_write, upstream)
    return 1 if proxy.upstream_exited else 0


async def _answer_and_report_status(
    transport: StreamableHTTPServerTransport, scope: Scope, receive: Receive, send: Send
) -> int | None:
    status: int | None = None

    async def watch(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    await transport.handle_request(scope, receive, watch)
    return status


def _error(message: str, status: int, code: int = types.INVALID_REQUEST) -> Response:
    body = types.JSONRPCError(jsonrpc="2.0", id=None, error=types.ErrorData(code=code, message=message))
    return Response(
        body.model_dump_json(by_alias=True, exclude_unset=True),
        status_code=status,
        media_type="application/json",
    )


def describe_failure(problem: BaseException) -> str:
    """The real causes inside (nested) exception groups, as `Type: message` (redacted, one line each
    cut short): task groups wrap the one error that matters in layers that say nothing."""
    from railguard.detect.redact import redact

    leaves: list[BaseException] = []
    pending = [problem]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        else:
            leaves.append(current)
    parts = []
    for leaf in leaves[:3]:
        message = str(leaf).strip().splitlines()[0][:200] if str(leaf).strip() else ""
        parts.append(f"{type(leaf).__name__}: {redact(message).text}" if message else type(leaf).__name__)
    more = f" (+{len(leaves) - 3} more)" if len(leaves) > 3 else ""
    return "; ".join(parts) + more


def _warn(text: str) -> None:
    sys.stderr.write(f"railguard mcp-proxy: {text}\n")
    sys.stderr.flush()
