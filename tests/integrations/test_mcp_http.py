"""The MCP proxy's streamable-HTTP mode end to end, with the real SDK on both sides: the SDK client
(`streamable_http_client` + `ClientSession`) talks to `python -m railguard.cli mcp-proxy --listen ...`
(a subprocess), which talks to the fixture MCPServer served over streamable HTTP (another subprocess)
or run over stdio, one process per client session."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from .test_mcp_proxy import (  # the stdio mode's fixtures and helpers, shared
    CALL_TIMEOUT_S,
    POLICY,
    SECRET,
    SERVER,
    SESSION_TIMEOUT_S,
    run,
    texts,
)

STARTUP_TIMEOUT_S = 60
ALL_TOOLS = {"echo", "delete_everything", "send_email", "read_config", "fetch_page", "crash"}
# The fixture server module, served over streamable HTTP instead of its default stdio.
SERVE_FIXTURE_OVER_HTTP = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('mcp_fixture_server', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "module.server.run('streamable-http', host='127.0.0.1', port=int(sys.argv[2]))\n"
)

pytestmark = pytest.mark.slow  # each test starts processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:  # bounded: fails the test if the process never listens
        if process.poll() is not None:
            raise AssertionError(f"the process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port} within {STARTUP_TIMEOUT_S}s")


@contextmanager
def background(args: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    # stderr goes to a file, not a pipe nobody reads (a full pipe would stall the process).
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_until_listening(process, port)
            yield process
        except AssertionError:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])  # shown by pytest on failure
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def proxy_args(port: int, *upstream: str) -> list[str]:
    listen = ["--listen", f"127.0.0.1:{port}"]
    return [sys.executable, "-m", "railguard.cli", "mcp-proxy", "--policy", str(POLICY), *listen, *upstream]


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    port = free_port()
    with background([sys.executable, "-c", SERVE_FIXTURE_OVER_HTTP, str(SERVER), str(port)], port):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def http_proxy(upstream_url: str) -> Iterator[str]:
    """The proxy listening on HTTP in front of the HTTP fixture server."""
    port = free_port()
    with background(proxy_args(port, "--upstream", upstream_url), port):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def stdio_backed_proxy() -> Iterator[str]:
    """The proxy listening on HTTP in front of the fixture server run over stdio (one per session)."""
    port = free_port()
    with background(proxy_args(port, "--", sys.executable, str(SERVER)), port):
        yield f"http://127.0.0.1:{port}/mcp"


@asynccontextmanager
async def session_at(url: str) -> AsyncIterator[ClientSession]:
    with anyio.fail_after(SESSION_TIMEOUT_S):  # a hung proxy fails the test instead of hanging it
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


# -- HTTP client -> proxy -> HTTP server, or stdio server (one process per session) ---------------

UPSTREAM_KINDS = pytest.mark.parametrize("proxy", ["http_proxy", "stdio_backed_proxy"], indirect=True)


@pytest.fixture
def proxy(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


@UPSTREAM_KINDS
def test_lists_tools_and_forwards_an_allowed_call(proxy: str) -> None:
    async def body() -> None:
        async with session_at(proxy) as session:
            assert {t.name for t in (await session.list_tools()).tools} == ALL_TOOLS
            result = await session.call_tool("echo", {"text": "hello"})
            assert not result.is_error
            assert texts(result) == ["hello"]

    run(body)


@UPSTREAM_KINDS
def test_blocked_call_is_an_error_result_with_the_reason(proxy: str) -> None:
    async def body() -> None:
        async with session_at(proxy) as session:
            result = await session.call_tool("delete_everything", {"path": "/"})
            assert result.is_error
            (reason,) = texts(result)
            assert reason.startswith("Railguard blocked the call to 'mcp__fixture__delete_everything'")
            assert "deleting everything is never allowed [rules: tests/no-delete]" in reason
            conditional = await session.call_tool("echo", {"text": "a forbidden word"})
            assert conditional.is_error and "forbidden word" in texts(conditional)[0]

    run(body)


@UPSTREAM_KINDS
def test_modified_call_reaches_the_server_with_rewritten_arguments(proxy: str) -> None:
    async def body() -> None:
        async with session_at(proxy) as session:
            result = await session.call_tool("send_email", {"to": "boss@elsewhere.org", "body": "hi"})
            assert not result.is_error
            assert texts(result) == ["to=security@example.com body=hi"]

    run(body)


@UPSTREAM_KINDS
def test_secret_in_a_result_is_redacted(proxy: str) -> None:
    async def body() -> None:
        async with session_at(proxy) as session:
            result = await session.call_tool("read_config", {})
            assert not result.is_error
            assert texts(result)[0] == "region=eu-west-1\nAWS_SECRET_ACCESS_KEY=[redacted:aws_secret_key]\n"
            assert SECRET not in repr(result.content) and SECRET not in repr(result.structured_content)

    run(body)


def test_resources_and_prompts_pass_through(http_proxy: str) -> None:
    async def body() -> None:
        async with session_at(http_proxy) as session:
            read = await session.read_resource("note://hello")
            assert read.contents[0].text == "hello from a resource"  # type: ignore[union-attr]
            prompt = await session.get_prompt("greet", {"name": "Ana"})
            assert "Say hello to Ana." in repr(prompt.messages[0].content)

    run(body)


def test_concurrent_client_sessions_are_served_independently(http_proxy: str) -> None:
    async def one_client(text: str, answers: dict[str, list[str]]) -> None:
        async with session_at(http_proxy) as session:
            answers[text] = texts(await session.call_tool("echo", {"text": text}))

    async def body() -> None:
        answers: dict[str, list[str]] = {}
        async with anyio.create_task_group() as tg:
            for text in ("first", "second", "third"):
                tg.start_soon(one_client, text, answers)
        assert answers == {"first": ["first"], "second": ["second"], "third": ["third"]}

    run(body)


# -- failures and HTTP-level rules ----------------------------------------------------------------


def test_upstream_down_gives_the_client_an_error_not_a_hang() -> None:
    dead_port, proxy_port = free_port(), free_port()  # nothing listens on dead_port

    async def body() -> None:
        url = f"http://127.0.0.1:{proxy_port}/mcp"
        for _attempt in range(2):  # the proxy stays up and answers the next session the same way
            with anyio.fail_after(CALL_TIMEOUT_S), pytest.raises(BaseExceptionGroup) as failure:
                async with session_at(url):
                    pass
            assert failure.group_contains(MCPError, match="upstream MCP server could not be reached")

    with background(proxy_args(proxy_port, "--upstream", f"http://127.0.0.1:{dead_port}/mcp"), proxy_port):
        run(body)


def test_unknown_session_id_is_not_found_and_a_deleted_session_is_gone(http_proxy: str) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with httpx.Client(timeout=CALL_TIMEOUT_S) as client:
        unknown = client.post(http_proxy, json=ping, headers={**headers, "mcp-session-id": "not-a-session"})
        assert unknown.status_code == 404
        without_session = client.post(http_proxy, json=ping, headers=headers)
        assert without_session.status_code == 400  # only initialize opens a session
        initialize = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        opened = client.post(http_proxy, json=initialize, headers=headers)
        assert opened.status_code == 200 and '"serverInfo"' in opened.text
        session = {**headers, "mcp-session-id": opened.headers["mcp-session-id"]}
        assert client.delete(http_proxy, headers=session).status_code == 200
        assert client.post(http_proxy, json=ping, headers=session).status_code == 404


def test_foreign_host_header_and_unsupported_protocol_version_are_refused(http_proxy: str) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with httpx.Client(timeout=CALL_TIMEOUT_S) as client:
        rebound = client.post(http_proxy, json=ping, headers={**headers, "Host": "attacker.example"})
        assert rebound.status_code in (403, 421)
        other_era = client.post(
            http_proxy, json=ping, headers={**headers, "mcp-protocol-version": "2099-01-01"}
        )
        assert other_era.status_code == 400
        assert "session-based protocol versions" in other_era.json()["error"]["message"]


# -- a stdio server per session ----------------------------------------------------------------


def test_a_crashing_stdio_server_fails_only_its_own_session(stdio_backed_proxy: str) -> None:
    async def body() -> None:
        async with session_at(stdio_backed_proxy) as bystander, session_at(stdio_backed_proxy) as doomed:
            with anyio.fail_after(CALL_TIMEOUT_S):
                crashed = await doomed.call_tool("crash", {})
            assert crashed.is_error
            assert texts(crashed) == ["Railguard MCP proxy: the upstream MCP server exited before answering."]
            with anyio.fail_after(CALL_TIMEOUT_S):
                later = await doomed.call_tool("echo", {"text": "still there?"})
            assert later.is_error
            assert texts(await bystander.call_tool("echo", {"text": "fine"})) == ["fine"]

    run(body)


# -- stdio client -> proxy -> HTTP server ---------------------------------------------------------


def test_stdio_client_through_the_proxy_to_an_http_server(upstream_url: str) -> None:
    args = ["-m", "railguard.cli", "mcp-proxy", "--policy", str(POLICY), "--upstream", upstream_url]

    async def body() -> None:
        params = StdioServerParameters(command=sys.executable, args=args)
        with anyio.fail_after(SESSION_TIMEOUT_S):
            async with stdio_client(params) as streams, ClientSession(*streams) as session:
                await session.initialize()
                assert texts(await session.call_tool("echo", {"text": "over http"})) == ["over http"]
                blocked = await session.call_tool("delete_everything", {"path": "/"})
                assert blocked.is_error and "tests/no-delete" in texts(blocked)[0]

    run(body)
