"""`railguard traces list|show|export` on a store the recorder filled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from railguard._scope import run
from railguard.cli import app
from railguard.cli._traces import parse_since
from railguard.engine import Engine
from railguard.model import Action
from railguard.trace import configure_tracing, model_call, tool_call

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, engine: Engine) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    tracing = configure_tracing(url)
    with run(agent="support", tenant="acme"):
        with model_call("openai", "gpt-4o") as call:
            call.record_usage(input_tokens=1000, output_tokens=100)
        with tool_call("send_email", args={"to": "eve@evil.example.net"}):
            engine.check(Action("send_email", {"to": "eve@evil.example.net"}))
    tracing.shutdown()
    return url


def _trace_id(db: str) -> str:
    result = runner.invoke(app, ["traces", "list", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.strip().splitlines()
    run_row = json.loads(line)
    assert (run_row["agent"], run_row["tenant"], run_row["tool_calls"], run_row["blocks"]) == (
        "support",
        "acme",
        1,
        1,
    )
    return str(run_row["trace_id"])


def test_list_and_show(db: str) -> None:
    trace_id = _trace_id(db)
    table = runner.invoke(app, ["traces", "list", "--db", db, "--agent", "nobody"])
    assert table.exit_code == 0 and trace_id not in table.output
    shown = runner.invoke(app, ["traces", "show", trace_id, "--db", db])
    assert shown.exit_code == 0, shown.output
    assert "invoke_agent support" in shown.output and "chat gpt-4o" in shown.output
    assert "block (mail/external)" in shown.output and "tokens 1000->100" in shown.output
    assert runner.invoke(app, ["traces", "show", "0" * 32, "--db", db]).exit_code == 1


def test_export_jsonl_and_otlp_json(db: str) -> None:
    trace_id = _trace_id(db)
    lines = runner.invoke(app, ["traces", "export", trace_id, "--db", db]).output.strip().splitlines()
    assert sorted(json.loads(line)["name"] for line in lines) == [
        "chat gpt-4o",
        "execute_tool send_email",
        "invoke_agent support",
    ]
    result = runner.invoke(app, ["traces", "export", "--since", "1h", "--db", db, "--format", "otlp-json"])
    assert result.exit_code == 0, result.output
    request = json.loads(result.output)
    (resource_spans,) = request["resourceSpans"]
    spans = resource_spans["scopeSpans"][0]["spans"]
    assert {s["traceId"] for s in spans} == {trace_id}
    tool = next(s for s in spans if s["name"] == "execute_tool send_email")
    attrs = {a["key"]: a["value"] for a in tool["attributes"]}
    assert attrs["railguard.verdict"] == {"stringValue": "block"}
    assert attrs["gen_ai.tool.call.arguments"]["stringValue"] == '{"to": "[redacted:email]"}'
    assert runner.invoke(app, ["traces", "export", "--db", db]).exit_code != 0  # neither id nor --since


def test_parse_since() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("1700000000") == 1_700_000_000.0
    assert parse_since("2025-01-31") > 1_700_000_000
