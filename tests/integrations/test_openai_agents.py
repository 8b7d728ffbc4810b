"""The OpenAI Agents SDK integration against the real SDK: a real Agent and Runner.run, driven by a
scripted model that implements the SDK's Model interface (no network). The guardrails decide with a
real engine; spans go through configure_tracing into a SQLite store and are read back from it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import (
    Agent,
    FunctionTool,
    Model,
    ModelResponse,
    ModelSettings,
    ModelTracing,
    Runner,
    ToolInputGuardrailTripwireTriggered,
    Usage,
    function_tool,
    generation_span,
    set_trace_processors,
)
from agents.tracing import get_trace_provider
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from railguard._scope import run
from railguard.engine import Engine
from railguard.integrations.openai_agents import (
    RailguardTracingProcessor,
    guard_agent,
    railguard_tool_guardrail,
)
from railguard.store import SpanRow
from railguard.trace import Tracing, configure_tracing, trace_engine

from .fake_providers import stored_spans

POLICY = """
rules:
  - rule: files/no-etc
    tools: [read_file]
    when: "args.path.startsWith('/etc/')"
    verdict: block
    message: "system files are off limits"
  - rule: mail/short-subject
    tools: [send_note]
    when: "args.subject.size() > 10"
    verdict: modify
    modify:
      set: {subject: 'args.subject.substring(0, 10)'}
    message: "subject too long"
tools:
  lookup_user:
    output: {type: object, required: [id], properties: {id: {type: integer}}}
"""


def _call(name: str, args: dict[str, Any], call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call", name=name, arguments=json.dumps(args), call_id=call_id, id=f"fc_{call_id}"
    )


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


class ScriptedModel(Model):
    """Answers each turn with the next scripted output, records what it was given, and opens a
    generation span the way the SDK's own models do."""

    def __init__(self, turns: list[list[Any]]) -> None:
        self.turns = list(turns)
        self.inputs: list[Any] = []

    async def get_response(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: ModelSettings,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> ModelResponse:
        self.inputs.append(input)
        output = self.turns.pop(0)
        with generation_span(model="gpt-4o-mini", input=[{"role": "user", "content": "scripted"}]) as span:
            span.span_data.output = [item.model_dump() for item in output]
            span.span_data.usage = {"input_tokens": 120, "output_tokens": 12}
        return ModelResponse(
            output=output, usage=Usage(requests=1, input_tokens=120, output_tokens=12), response_id=None
        )

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the tests run the non-streaming path")


@pytest.fixture(autouse=True)
def _no_sdk_exporter() -> Iterator[None]:
    """No test sends traces to OpenAI's backend: only the processors a test installs run."""
    set_trace_processors([])
    yield
    set_trace_processors([])


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine.from_yaml(POLICY)
    unsubscribe = trace_engine(eng)
    yield eng
    unsubscribe()


@pytest.fixture
def tracing(tmp_path: Path) -> Iterator[Tracing]:
    setup = configure_tracing(f"sqlite:///{tmp_path / 'traces.db'}", service_name="agents-test")
    set_trace_processors([RailguardTracingProcessor()])
    yield setup
    setup.shutdown()


def _spans(tracing: Tracing) -> list[SpanRow]:
    get_trace_provider().force_flush()  # the SDK's processors first, then Railguard's store
    return stored_spans(tracing)


def _tool_outputs(model_input: Any) -> dict[str, str]:
    return {
        item["call_id"]: str(item["output"])
        for item in model_input
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    }


def _file_agent(model: Model, ran: list[str]) -> Agent[Any]:
    @function_tool
    def read_file(path: str) -> str:
        """Read a file."""
        ran.append(path)
        return f"contents of {path}"

    return Agent(name="files", instructions="help", model=model, tools=[read_file])


def test_blocked_call_never_runs_and_the_model_reads_the_reason(engine: Engine, tracing: Tracing) -> None:
    ran: list[str] = []
    model = ScriptedModel(
        [
            [_call("read_file", {"path": "/etc/shadow"}, "call_blocked")],
            [_call("read_file", {"path": "/tmp/notes.txt"}, "call_allowed")],
            [_message("done")],
        ]
    )
    agent = guard_agent(_file_agent(model, ran), engine)

    with run(agent="files", tenant="acme", session="s-1"):
        result = asyncio.run(Runner.run(agent, "read my files"))

    assert result.final_output == "done"
    assert ran == ["/tmp/notes.txt"]
    second_turn = _tool_outputs(model.inputs[1])
    assert "system files are off limits" in second_turn["call_blocked"]
    assert "files/no-etc" in second_turn["call_blocked"]
    assert _tool_outputs(model.inputs[2])["call_allowed"] == "contents of /tmp/notes.txt"

    rows = _spans(tracing)
    tools = {row.tool_call_id: row for row in rows if row.operation == "execute_tool"}
    assert set(tools) == {"call_blocked", "call_allowed"}
    assert tools["call_blocked"].verdict == "block" and tools["call_blocked"].rules == "files/no-etc"
    assert tools["call_allowed"].verdict == "allow"
    assert "contents of /tmp/notes.txt" in tools["call_allowed"].attributes["gen_ai.tool.call.result"]
    chats = [row for row in rows if row.operation == "chat"]
    assert len(chats) == 3 and all(c.request_model == "gpt-4o-mini" and c.input_tokens == 120 for c in chats)
    agents = [row for row in rows if row.operation == "invoke_agent"]
    sdk_agent = next(row for row in agents if row.name == "invoke_agent files" and row.parent_span_id)
    assert {row.parent_span_id for row in chats} == {sdk_agent.span_id}
    assert {row.parent_span_id for row in tools.values()} == {sdk_agent.span_id}
    assert len({row.trace_id for row in rows}) == 1  # the SDK's run nests inside railguard.run


def test_modify_asks_the_model_to_retry_with_sanitized_arguments(engine: Engine) -> None:
    sent: list[str] = []

    @function_tool
    def send_note(subject: str) -> str:
        """Send a note."""
        sent.append(subject)
        return "sent"

    model = ScriptedModel(
        [
            [_call("send_note", {"subject": "a very long subject"}, "c1")],
            [_call("send_note", {"subject": "a very lo"}, "c2")],
            [_message("ok")],
        ]
    )
    agent = guard_agent(Agent(name="notes", model=model, tools=[send_note]), engine)
    asyncio.run(Runner.run(agent, "send it"))
    retry = _tool_outputs(model.inputs[1])["c1"]
    assert "subject too long" in retry and '{"subject":"a very lon"}' in retry
    assert sent == ["a very lo"]


def test_output_guardrail_enforces_contract_and_redacts_secrets(engine: Engine) -> None:
    key = "AKIA" + "Q3EGRT7XNM2KD4PL"

    @function_tool
    def lookup_user(name: str) -> str:
        """Look a user up."""
        return json.dumps({"id": "not-a-number"})

    @function_tool
    def read_config(name: str) -> str:
        """Read config."""
        return f"aws_access_key_id = {key}\nregion = eu-west-1"

    model = ScriptedModel(
        [
            [_call("lookup_user", {"name": "ana"}, "u1"), _call("read_config", {"name": "prod"}, "r1")],
            [_message("ok")],
        ]
    )
    agent = guard_agent(Agent(name="ops", model=model, tools=[lookup_user, read_config]), engine)
    engine.declare_tool("lookup_user", output={"type": "object", "required": ["id"]})
    asyncio.run(Runner.run(agent, "check"))
    outputs = _tool_outputs(model.inputs[1])
    assert "broke its contract" in outputs["u1"]
    assert key not in outputs["r1"]
    assert "contained secrets" in outputs["r1"] and "region = eu-west-1" in outputs["r1"]


def test_raise_mode_halts_the_run_and_guard_agent_is_idempotent(engine: Engine) -> None:
    ran: list[str] = []
    model = ScriptedModel([[_call("read_file", {"path": "/etc/passwd"}, "c1")], [_message("no")]])
    agent = _file_agent(model, ran)
    guard_agent(agent, engine, on_block="raise")
    guard_agent(agent, engine)
    tool = agent.tools[0]
    assert isinstance(tool, FunctionTool)
    assert [g.get_name() for g in tool.tool_input_guardrails or []] == ["railguard"]
    with pytest.raises(ToolInputGuardrailTripwireTriggered):
        asyncio.run(Runner.run(agent, "read"))
    assert ran == []


def test_handoff_agents_are_guarded_too(engine: Engine) -> None:
    ran: list[str] = []
    inner = _file_agent(ScriptedModel([]), ran)
    outer = Agent(name="triage", model=ScriptedModel([]), handoffs=[inner])
    guard_agent(outer, engine)
    tool = inner.tools[0]
    assert isinstance(tool, FunctionTool) and tool.tool_input_guardrails
    standalone = railguard_tool_guardrail(engine)
    assert standalone.get_name() == "railguard"
