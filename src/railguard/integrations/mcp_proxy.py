"""An MCP proxy that guards every `tools/call` between any MCP client and an MCP server.

    railguard mcp-proxy --policy policy.yaml -- npx -y @modelcontextprotocol/server-filesystem /tmp

It relays JSON-RPC messages between the client (the proxy's stdin/stdout, through the MCP SDK's
stdio server transport) and the upstream server (a subprocess, through the SDK's stdio client
transport). Relaying messages rather than re-serving them through a high-level SDK server keeps the
proxy transparent: resources, prompts, completions, notifications, progress, cancellation and the
server's own requests (sampling, elicitation) pass unchanged, in either protocol era. Only these
are touched:

- `tools/call` requests are checked by the engine (the tool is named `mcp__<server>__<tool>`):
  block -> an `isError` result with the reason; ask -> the engine's approval handler if one is
  installed, else an `isError` result saying a human must approve; modify -> forwarded with the
  rewritten arguments.
- `tools/call` results: secrets are redacted; untrusted output (policy `output_trust: untrusted`,
  or `--untrusted` globs) with injection signals gets a warning, or is withheld.
- `tools/list` results: with `hide_blocked`, tools the policy blocks unconditionally are removed.

If the upstream server dies, every call in flight and every later request gets an error answer, so
the client never hangs; the proxy keeps answering until the client disconnects.

The streamable-HTTP mode (`--listen`, `--upstream URL`) runs this same relay once per client session
(`_mcp_http.py`, `_mcp_http_upstream.py`).
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from mcp.client._transport import TransportStreams
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage

from railguard._decisions import refusal
from railguard.engine import Engine
from railguard.errors import GuardError
from railguard.integrations._mcp_early import EarlyExchange, adopted_server
from railguard.integrations._mcp_results import error_result, scan_result
from railguard.model import Action, Context, Decision, Mode, Trust, Verdict
from railguard.trace import tool_call

if TYPE_CHECKING:
    from railguard.remote import RemoteEngine

    Decider = Engine | RemoteEngine  # `--server URL`: the decisions come from a Railguard server

__all__ = ["McpProxy", "ProxyOptions", "run_stdio_proxy"]

AGENT = "mcp-proxy"
INTERNAL_ERROR = -32603
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")  # linear: a single character class, no nesting


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    """`server_name` overrides the name the upstream reports; `tool_name_format` builds the tool name
    the engine sees; `untrusted` are tool-name globs (engine names) whose output is scanned for
    injection on top of those the policy declares untrusted."""

    server_name: str | None = None
    tool_name_format: str = "mcp__{server}__{tool}"
    hide_blocked: bool = False
    untrusted: tuple[str, ...] = ()
    block_injection: bool = False
    agent: str = AGENT  # who the calls are attributed to, in decisions, traces and approvals
    tenant: str | None = None
    user: str | None = None


@dataclass(slots=True)
class _Pending:
    method: str
    tool: str | None = None
    # tools/call only: set when the call is answered, so its span lasts as long as the call
    answered: anyio.Event | None = None
    result: dict[str, Any] | None = None

    def answer(self, result: dict[str, Any] | None) -> None:
        self.result = result
        if self.answered is not None:
            self.answered.set()


@dataclass(slots=True)
class _State:
    upstream_alive: bool = True
    pending: dict[types.RequestId, _Pending] = field(default_factory=dict)
    server_name: str | None = None
    gone_reason: str = "the upstream MCP server exited before answering"


class McpProxy:
    """The relay. `serve` runs until the client side closes; `upstream_exited` tells how it ended."""

    def __init__(
        self,
        engine: Decider,
        options: ProxyOptions | None = None,
        *,
        fallback_name: str = "server",
        on_first_answer: Callable[[], object] | None = None,
    ):
        self.engine = engine
        # Called once the upstream's first answer (normally to `initialize`) has reached the client:
        # work that can wait (loading detectors) then no longer competes with the client's start.
        self._on_first_answer = on_first_answer
        self.options = options or ProxyOptions()
        self.session = uuid.uuid4().hex  # one client connection is one session (approval scope)
        self._fallback_name = _safe_name(fallback_name)
        self._state = _State(
            server_name=_safe_name(self.options.server_name) if self.options.server_name else None
        )

    @property
    def upstream_exited(self) -> bool:
        return not self._state.upstream_alive

    @property
    def server_name(self) -> str:
        return self._state.server_name or self._fallback_name

    def upstream_failed(self, reason: str) -> None:
        """Word the error answers for requests the upstream will never answer, when the transport that
        lost it knows better than "exited" (e.g. an HTTP server that could not be reached)."""
        self._state.gone_reason = reason

    def tool_name(self, tool: str) -> str:
        return self.options.tool_name_format.format(server=self.server_name, tool=tool)

    def take_over(self, early: EarlyExchange) -> list[SessionMessage | Exception]:
        """Go on from what the early relay did (`_mcp_early`): its `initialize` pending or answered,
        and the client messages it read and left to the proxy, parsed as the SDK's transport parses
        them, to pass to `serve` as `first_from_client`."""
        if early.pending_id is not None:
            self._state.pending[early.pending_id] = _Pending("initialize")
        if early.result is not None:
            self._rewrite(_Pending("initialize"), early.result)
            if self._on_first_answer is not None:
                first, self._on_first_answer = self._on_first_answer, None
                first()
        return [_parse_line(line) for line in early.client_lines]

    async def serve(
        self,
        client_read: ReadStream[SessionMessage | Exception],
        client_write: WriteStream[SessionMessage],
        upstream_read: ReadStream[SessionMessage | Exception],
        upstream_write: WriteStream[SessionMessage],
        first_from_client: Sequence[SessionMessage | Exception] = (),
    ) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._pump_upstream, upstream_read, client_write)
            for item in first_from_client:  # read before the transport started (see `take_over`)
                await self._from_client(tg, item, client_write, upstream_write)
            await self._pump_client(tg, client_read, client_write, upstream_write)
            tg.cancel_scope.cancel()
        # The client left and nothing writes to it any more. Closing our end is what lets the client
        # transport's writer task (e.g. the SDK's stdout writer) finish, and with it the process.
        await client_write.aclose()

    # -- client -> upstream ----------------------------------------------------------------------

    async def _pump_client(
        self,
        tg: TaskGroup,
        client_read: ReadStream[SessionMessage | Exception],
        client_write: WriteStream[SessionMessage],
        upstream_write: WriteStream[SessionMessage],
    ) -> None:
        try:
            async for item in client_read:
                await self._from_client(tg, item, client_write, upstream_write)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the client transport closed its stream under us (an HTTP session's DELETE): it left

    async def _from_client(
        self,
        tg: TaskGroup,
        item: SessionMessage | Exception,
        client_write: WriteStream[SessionMessage],
        upstream_write: WriteStream[SessionMessage],
    ) -> None:
        if isinstance(item, Exception):
            _warn(f"ignored a message from the client that is not valid JSON-RPC ({type(item).__name__})")
            return
        message = item.message
        if isinstance(message, types.JSONRPCRequest) and message.method == "tools/call":
            # Its own task: an approval may wait for a human without stalling other traffic.
            tg.start_soon(self._call_tool, message, client_write, upstream_write)
        elif isinstance(message, types.JSONRPCRequest):
            await self._forward_request(message, _Pending(message.method), client_write, upstream_write)
        else:
            self._note_cancellation(message)
            if self._state.upstream_alive:
                await self._send_upstream(item, upstream_write)

    def _note_cancellation(self, message: Any) -> None:
        """A cancelled call may never be answered: end its span now. It stays pending, so an answer
        that comes anyway is still scanned and redacted on its way to the client."""
        if getattr(message, "method", None) != "notifications/cancelled":
            return
        request_id = (getattr(message, "params", None) or {}).get("requestId")
        pending = self._state.pending.get(request_id) if request_id is not None else None
        if pending is not None and pending.answered is not None:
            pending.answered.set()

    async def _call_tool(
        self,
        request: types.JSONRPCRequest,
        client_write: WriteStream[SessionMessage],
        upstream_write: WriteStream[SessionMessage],
    ) -> None:
        params = dict(request.params or {})
        name, args = params.get("name"), params.get("arguments") or {}
        if not isinstance(name, str) or not isinstance(args, dict):
            await self._forward_request(request, _Pending("tools/call"), client_write, upstream_write)
            return  # malformed: the server answers it with its own validation error
        tool = self.tool_name(name)
        context = self._context()
        # One execute_tool span for the whole call: the decision, any wait for a human, and the server.
        with tool_call(tool, str(request.id), args, context=context) as span:
            try:
                decision = await self._decide(Action(tool, args, call_id=str(request.id), context=context))
            except GuardError as refused:
                await self._reply(client_write, request.id, error_result(refused.model_message()))
                return
            except Exception as problem:  # fail closed: an unchecked call never reaches the server
                reason = (
                    f"Railguard could not check the call to '{tool}' ({type(problem).__name__}); "
                    "it was not run."
                )
                await self._reply(client_write, request.id, error_result(reason))
                return
            if decision.verdict is Verdict.MODIFY and decision.args is not None:
                params["arguments"] = dict(decision.args)
                request = request.model_copy(update={"params": params})
            pending = _Pending("tools/call", tool, answered=anyio.Event())
            await self._forward_request(request, pending, client_write, upstream_write)
            await pending.answered.wait()  # type: ignore[union-attr]
            if pending.result is not None:
                span.record_result(pending.result)

    async def _decide(self, action: Action) -> Decision:
        """The decision to act on (`engine.aadmit`); raises its refusal when the call must not run."""
        decision = await self.engine.aadmit(action)
        refused = refusal(decision, action)
        if refused is not None:
            raise refused
        return decision

    def _context(self) -> Context:
        o = self.options
        return Context(
            agent=o.agent, tenant=o.tenant, user=o.user, session=self.session,
            labels={"mcp_server": self.server_name},
        )  # fmt: skip

    async def _forward_request(
        self,
        request: types.JSONRPCRequest,
        pending: _Pending,
        client_write: WriteStream[SessionMessage],
        upstream_write: WriteStream[SessionMessage],
    ) -> None:
        self._state.pending[request.id] = pending
        if not self._state.upstream_alive or not await self._send_upstream(
            SessionMessage(request), upstream_write
        ):
            await self._answer_gone(request.id, client_write)

    async def _send_upstream(self, item: SessionMessage, upstream_write: WriteStream[SessionMessage]) -> bool:
        try:
            await upstream_write.send(item)
            return True
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._state.upstream_alive = False
            return False

    # -- upstream -> client ----------------------------------------------------------------------

    async def _pump_upstream(
        self, upstream_read: ReadStream[SessionMessage | Exception], client_write: WriteStream[SessionMessage]
    ) -> None:
        async for item in upstream_read:
            if isinstance(item, Exception):
                _warn(f"ignored a line from the MCP server that is not JSON-RPC ({type(item).__name__})")
                continue
            message = item.message
            if isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
                pending = self._state.pending.pop(message.id, None) if message.id is not None else None
                result = None
                if pending is not None and isinstance(message, types.JSONRPCResponse):
                    result = self._rewrite(pending, message.result)
                    item = SessionMessage(message.model_copy(update={"result": result}))
                await _send_quietly(client_write, item)
                if pending is not None:
                    pending.answer(result)
                if self._on_first_answer is not None:
                    first, self._on_first_answer = self._on_first_answer, None
                    first()
                continue
            await _send_quietly(client_write, item)
        self._state.upstream_alive = False
        _warn("the MCP server exited; answering its pending and future requests with errors")
        for request_id in list(self._state.pending):
            await self._answer_gone(request_id, client_write)

    def _rewrite(self, pending: _Pending, result: dict[str, Any]) -> dict[str, Any]:
        if pending.method == "tools/call" and pending.tool is not None:
            return scan_result(
                result,
                pending.tool,
                untrusted=self._untrusted(pending.tool),
                block_injection=self.options.block_injection,
            )
        if pending.method == "tools/list" and self.options.hide_blocked:
            return {**result, "tools": [t for t in result.get("tools", []) if not self._hidden(t)]}
        if pending.method == "initialize" and self._state.server_name is None:
            info = result.get("serverInfo")
            if isinstance(info, dict) and isinstance(info.get("name"), str) and info["name"]:
                self._state.server_name = _safe_name(info["name"])
        return result

    def _untrusted(self, tool: str) -> bool:
        engine = self.engine
        if isinstance(engine, Engine) and engine.policy.trust_of(tool) is Trust.UNTRUSTED:
            return True  # (a server's policy stays on the server: --untrusted names its tools here)
        return any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.options.untrusted)

    def _hidden(self, tool: Any) -> bool:
        return (
            isinstance(tool, dict) and isinstance(tool.get("name"), str) and self.never_allowed(tool["name"])
        )

    def never_allowed(self, tool: str) -> bool:
        """True when a rule blocks every call of the tool: no condition, no exception, enforced."""
        engine = self.engine
        if not isinstance(engine, Engine) or engine.mode is Mode.AUDIT:
            return False  # a server's policy is not known here
        rules = engine.policy.plan(self.tool_name(tool)).rules
        return any(
            r.condition is None and r.verdict is Verdict.BLOCK and r.mode is Mode.ENFORCE and not r.exceptions
            for r in rules
        )

    async def _answer_gone(
        self, request_id: types.RequestId, client_write: WriteStream[SessionMessage]
    ) -> None:
        pending = self._state.pending.pop(request_id, None)
        if pending is None:
            return  # already answered
        reason = self._state.gone_reason
        if pending.method == "tools/call":
            await self._reply(client_write, request_id, error_result(f"Railguard MCP proxy: {reason}."))
            pending.answer(None)
            return
        error = types.JSONRPCError(
            jsonrpc="2.0", id=request_id, error=types.ErrorData(code=INTERNAL_ERROR, message=reason)
        )
        await _send_quietly(client_write, SessionMessage(error))

    async def _reply(
        self, client_write: WriteStream[SessionMessage], request_id: types.RequestId, result: dict[str, Any]
    ) -> None:
        response = types.JSONRPCResponse(jsonrpc="2.0", id=request_id, result=result)
        await _send_quietly(client_write, SessionMessage(response))


async def _send_quietly(client_write: WriteStream[SessionMessage], item: SessionMessage) -> None:
    try:
        await client_write.send(item)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass  # the client is gone; the client pump ends on its own


def _parse_line(line: str) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except Exception as exc:  # as the SDK's stdio transport: the proxy warns and goes on
        return exc


def _safe_name(name: str) -> str:
    return _NAME_UNSAFE.sub("_", name).strip("_") or "server"


def _warn(text: str) -> None:
    sys.stderr.write(f"railguard mcp-proxy: {text}\n")
    sys.stderr.flush()


async def run_stdio_proxy(
    engine: Decider,
    command: str,
    args: Sequence[str] = (),
    options: ProxyOptions | None = None,
    *,
    cwd: str | None = None,
    process: subprocess.Popen[bytes] | None = None,
    early: EarlyExchange | None = None,
    on_first_answer: Callable[[], object] | None = None,
) -> int:
    """Serve the proxy on this process's stdin/stdout in front of `command args...`. Returns the
    process exit code: 0, or 1 when the upstream server exited before the client disconnected.
    `process`: that server, already started (see `_mcp_early`), instead of spawning it here, and
    `early`: what the early relay did with it; `on_first_answer`: see `McpProxy`."""
    proxy = McpProxy(
        engine, options, fallback_name=_safe_name(Path(command).stem), on_first_answer=on_first_answer
    )
    first_from_client = proxy.take_over(early) if early is not None else []
    if process is not None:
        already_read = early.upstream_bytes if early is not None else b""
        connection: AbstractAsyncContextManager[TransportStreams] = adopted_server(process, already_read)
    else:
        upstream = StdioServerParameters(command=command, args=list(args), env=dict(os.environ), cwd=cwd)
        connection = stdio_client(upstream)
    async with stdio_server() as (client_read, client_write), connection as (up_read, up_write):
        await proxy.serve(client_read, client_write, up_read, up_write, first_from_client)
    return 1 if proxy.upstream_exited else 0
