"""The MCP proxy's lifecycle and what it records, with the real SDK client and a real server:
it exits on its own when its client closes stdin, a clean HTTP session logs nothing alarming, and an
`execute_tool` span lasts the whole call (decision, a human's approval, the server) and says who acted."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
import mcp.client.stdio as sdk_stdio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from railguard.integrations._mcp_http import describe_failure
from railguard.state import Approvals
from railguard.store import open_store

from .test_mcp_http import SERVER, free_port, proxy_args, session_at, wait_until_listening
from .test_mcp_proxy import POLICY, SECRET, SESSION_TIMEOUT_S, texts

# Patience far above any shutdown: a proxy that does not exit by itself is then killed by the SDK's
# escalation, which the test sees (instead of the SDK's default 2 s hiding it).
GENEROUS_EXIT_WAIT_S = 60.0
APPROVAL_POLL_S = 0.05
APPROVAL_POLLS = 1200  # bounded: 60 s at most for the proxy to file its request


def _proxy(*options: str) -> StdioServerParameters:
    args = [
        "-m",
        "railguard.cli",
        "mcp-proxy",
        "--policy",
        str(POLICY),
        *options,
        "--",
        sys.executable,
        str(SERVER),
    ]
    return StdioServerParameters(command=sys.executable, args=args)


def test_stdio_proxy_exits_by_itself_when_its_client_closes_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    escalations: list[int] = []
    real_terminate = sdk_stdio._terminate_process_tree

    async def record_escalation(process: sdk_stdio.ServerProcess) -> None:
        escalations.append(process.pid)
        await real_terminate(process)

    monkeypatch.setattr(sdk_stdio, "PROCESS_TERMINATION_TIMEOUT", GENEROUS_EXIT_WAIT_S)
    monkeypatch.setattr(sdk_stdio, "_terminate_process_tree", record_escalation)

    async def body() -> None:
        with anyio.fail_after(SESSION_TIMEOUT_S + GENEROUS_EXIT_WAIT_S):
            async with stdio_client(_proxy()) as streams, ClientSession(*streams) as session:
                await session.initialize()
                assert texts(await session.call_tool("echo", {"text": "hi"})) == ["hi"]
            # Leaving the client closed the proxy's stdin and waited for it to exit.

    anyio.run(body)
    assert escalations == [], "the proxy had to be terminated: it did not exit when stdin closed"


def test_a_clean_http_session_logs_nothing_alarming() -> None:
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            proxy_args(port, "--", sys.executable, str(SERVER)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_until_listening(process, port)

            async def body() -> None:
                for text in ("first", "second"):  # the second session outlives the first one's teardown
                    async with session_at(f"http://127.0.0.1:{port}/mcp") as session:
                        assert texts(await session.call_tool("echo", {"text": text})) == [text]

            anyio.run(body)
        finally:
            process.terminate()
            process.wait(timeout=30)
        log.seek(0)
        output = log.read().decode(errors="replace")
    assert "serving MCP at" in output
    assert "error" not in output.lower(), output


def test_a_session_failure_is_logged_with_its_real_cause() -> None:
    def fail() -> None:
        raise ConnectionResetError("upstream reset the connection")

    try:
        try:
            fail()
        except ConnectionResetError as inner:
            raise ExceptionGroup(
                "unhandled errors in a TaskGroup", [ExceptionGroup("nested", [inner])]
            ) from None
    except ExceptionGroup as group:
        described = describe_failure(group)
    assert described == "ConnectionResetError: upstream reset the connection"
    leaked = ValueError(f"AWS_SECRET_ACCESS_KEY={SECRET} rejected")
    assert SECRET not in describe_failure(ExceptionGroup("g", [leaked]))


def test_execute_tool_span_covers_the_approval_wait_and_the_call_and_names_who_acted(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'mcp.db'}"
    options = ("--db", db, "--approval-wait", "60", "--agent", "ops-bot", "--tenant", "acme", "--user", "ana")
    approved_at: list[float] = []

    async def approve_when_asked() -> None:
        with open_store(db) as store:
            approvals = Approvals(store)
            for _ in range(APPROVAL_POLLS):
                pending = approvals.list_requests(status="pending", tenant=None, limit=5)
                if pending:
                    decided = approvals.approve(pending[0].id, by="lead")
                    approved_at.append(float(decided.decided_at or 0))
                    return
                await anyio.sleep(APPROVAL_POLL_S)
        raise AssertionError("the proxy never filed an approval request")

    async def body() -> None:
        with anyio.fail_after(SESSION_TIMEOUT_S):
            async with stdio_client(_proxy(*options)) as streams, ClientSession(*streams) as session:
                await session.initialize()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(approve_when_asked)
                    result = await session.call_tool("echo", {"text": "needs approval"})
                assert texts(result) == ["needs approval"]

    anyio.run(body)
    with open_store(db) as store:
        (run,) = store.list_runs(tenant=None)
        assert (run.agent, run.tenant) == ("ops-bot", "acme") and run.session
        spans = store.get_trace(run.trace_id, tenant=None)
    (span,) = [s for s in spans if s.name == "execute_tool mcp__fixture__echo"]
    assert span.verdict == "allow" and span.agent == "ops-bot" and span.tenant == "acme"
    # The human approved while the span was open, and the span holds the server's answer.
    assert span.start_ns < approved_at[0] * 1e9 < span.end_ns
    assert "needs approval" in str(span.attributes.get("gen_ai.tool.call.result"))
    assert span.attributes.get("railguard.user")  # present (hashed on export, never in clear)
    assert span.attributes["railguard.user"] != "ana"


def test_a_cancelled_call_ends_its_span_but_its_late_answer_is_still_scanned() -> None:
    import mcp_types as types

    from railguard.engine import Engine
    from railguard.integrations.mcp_proxy import McpProxy, _Pending

    async def body() -> None:
        proxy = McpProxy(Engine(packs=["default"]))
        pending = _Pending("tools/call", "mcp__s__t", answered=anyio.Event())
        proxy._state.pending[7] = pending
        cancel = types.JSONRPCNotification(
            jsonrpc="2.0", method="notifications/cancelled", params={"requestId": 7, "reason": "user"}
        )
        proxy._note_cancellation(cancel)
        assert pending.answered is not None and pending.answered.is_set()
        assert proxy._state.pending[7] is pending  # a late answer is still matched, scanned, redacted

    anyio.run(body)
