"""`railguard tools suggest`: declarations from tool schemas, each with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from railguard.cli import app
from railguard.engine import Engine
from railguard.errors import ConfigurationError
from railguard.model import Effect, Trust
from railguard.policy.suggest import suggest_tools, suggestions_yaml

MCP_TOOLS = {
    "tools": [
        {"name": "read_text_file", "description": "Read the complete contents of a file.",
         "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": True}},
        {"name": "move_file", "description": "Move or rename files.", "annotations": {"destructiveHint": True}},
        {"name": "get_weather", "description": "Current temperature for a city."},
        {"name": "createIssueComment", "description": "Comment on a GitHub issue."},
        {"name": "frobnicate", "description": "Frobnicates."},
        {"name": "browse", "description": "Open a URL and return the page.", "annotations": {"openWorldHint": True}},
    ]
}  # fmt: skip


def by_name(document: object) -> dict[str, tuple[Effect, Trust]]:
    return {s.name: (s.effect, s.output_trust) for s in suggest_tools(document)}


def test_mcp_annotations_names_and_descriptions() -> None:
    got = by_name(MCP_TOOLS)
    assert got["read_text_file"] == (Effect.READ, Trust.UNTRUSTED)  # annotated read; files carry others' text
    assert got["move_file"][0] is Effect.IRREVERSIBLE
    assert got["get_weather"] == (Effect.READ, Trust.TRUSTED)
    assert got["createIssueComment"] == (Effect.WRITE, Trust.UNTRUSTED)  # camelCase verbs count
    assert got["frobnicate"] == (Effect.WRITE, Trust.TRUSTED)  # unknown: acting until confirmed
    assert got["browse"] == (Effect.READ, Trust.UNTRUSTED)


def test_function_schema_shapes_are_accepted() -> None:
    openai = [
        {
            "type": "function",
            "function": {"name": "send_money", "description": "Send money.", "parameters": {}},
        }
    ]
    anthropic = [{"name": "search_emails", "description": "Search the inbox.", "input_schema": {}}]
    rpc = {"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "list_users"}]}}
    assert by_name(openai) == {"send_money": (Effect.IRREVERSIBLE, Trust.TRUSTED)}
    assert by_name(anthropic) == {"search_emails": (Effect.READ, Trust.UNTRUSTED)}
    assert by_name(rpc) == {"list_users": (Effect.READ, Trust.TRUSTED)}
    with pytest.raises(ConfigurationError, match="tool #1 has no 'name'"):
        suggest_tools([{"description": "x"}])
    with pytest.raises(ConfigurationError, match="must be a list of tools"):
        suggest_tools("tools")


def test_the_yaml_is_a_valid_policy_with_the_reasons() -> None:
    text = suggestions_yaml(suggest_tools(MCP_TOOLS))
    assert "# move_file: annotated destructiveHint" in text
    engine = Engine(text="version: 1\n" + text.split("\n", 1)[1])
    spec = engine.tool_spec("get_weather")
    assert spec is not None and spec.effect is Effect.READ and spec.output_trust is Trust.TRUSTED


def test_cli(tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(MCP_TOOLS))
    result = CliRunner().invoke(app, ["tools", "suggest", str(path), "--json"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0] == {"tool": "read_text_file", "effect": "read", "effect_reason": "annotated readOnlyHint",
                       "output_trust": "untrusted", "trust_reason": rows[0]["trust_reason"]}  # fmt: skip
    path.write_text("{not json")
    bad = CliRunner().invoke(app, ["tools", "suggest", str(path)])
    assert bad.exit_code == 2 and "is not JSON" in bad.output


def test_an_output_schema_names_the_fields_others_write() -> None:
    hotel = {
        "name": "get_hotel",
        "description": "Details and reviews of a hotel.",
        "outputSchema": {"type": "object", "properties": {
            "name": {"type": "string"}, "price": {"type": "number"},
            "reviews": {"type": "array", "items": {"type": "object", "properties": {
                "rating": {"type": "number"}, "comment": {"type": "string"}}}},
        }},
    }  # fmt: skip
    (s,) = suggest_tools([hotel])
    assert (s.output_trust, s.untrusted_fields) == (Trust.TRUSTED, ("reviews",))
    text = suggestions_yaml([s])
    assert "get_hotel: {effect: read, output_trust: trusted, untrusted_fields: [reviews]}" in text
    engine = Engine(text="version: 1\n" + text.split("\n", 1)[1])
    spec = engine.tool_spec("get_hotel")
    assert spec is not None and spec.untrusted_fields == ("reviews",)
