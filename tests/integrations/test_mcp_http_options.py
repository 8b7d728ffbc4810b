"""How `railguard mcp-proxy` reads --listen / --upstream / the command, through the real CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from railguard.cli import app
from railguard.engine import Engine
from railguard.errors import ConfigurationError
from railguard.integrations._mcp_http import parse_listen
from railguard.integrations._mcp_http_upstream import HttpUpstream, StdioUpstream
from railguard.integrations.mcp_proxy import McpProxy

runner = CliRunner()


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:8765", ("127.0.0.1", 8765)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:9000", ("::1", 9000)),
        ("127.10.0.3:80", ("127.10.0.3", 80)),
    ],
)
def test_loopback_listen_addresses_are_accepted(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["0.0.0.0:8765", "192.168.1.5:80", "[::]:80", "example.com:80"])
def test_non_loopback_listen_addresses_are_refused(listen: str) -> None:
    with pytest.raises(ConfigurationError, match="not a loopback address"):
        parse_listen(listen)


@pytest.mark.parametrize("listen", ["8765", "127.0.0.1:", "127.0.0.1:http", ":8765", "127.0.0.1:70000"])
def test_malformed_listen_values_say_what_is_expected(listen: str) -> None:
    with pytest.raises(ConfigurationError, match="HOST:PORT"):
        parse_listen(listen)


def test_cli_refuses_both_a_command_and_an_upstream_url() -> None:
    result = runner.invoke(app, ["mcp-proxy", "--upstream", "http://127.0.0.1:9/mcp", "--", "python", "s.py"])
    assert result.exit_code == 2
    assert "either the MCP server command" in result.output


def test_cli_refuses_neither_a_command_nor_an_upstream_url() -> None:
    result = runner.invoke(app, ["mcp-proxy", "--listen", "127.0.0.1:0"])
    assert result.exit_code == 2


def test_cli_refuses_a_public_listen_address_before_serving() -> None:
    result = runner.invoke(
        app, ["mcp-proxy", "--listen", "0.0.0.0:8765", "--upstream", "http://127.0.0.1:9/mcp"]
    )
    assert result.exit_code == 2
    assert "not a loopback address" in result.output


def test_upstream_names_used_for_tool_names_before_initialize_are_made_safe() -> None:
    engine = Engine()
    from_url = McpProxy(engine, fallback_name=HttpUpstream("http://files.internal:8000/mcp").fallback_name)
    assert from_url.tool_name("read") == "mcp__files_internal__read"
    from_command = McpProxy(engine, fallback_name=StdioUpstream("/usr/bin/server-files.py").fallback_name)
    assert from_command.tool_name("read") == "mcp__server-files__read"
