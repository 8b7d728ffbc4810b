"""Railguard in the OpenAI Agents SDK (`openai-agents`): tool guardrails backed by the engine, and a
tracing processor that records the SDK's runs as Railguard spans.

    from agents import Agent, Runner, add_trace_processor
    from railguard.integrations.openai_agents import RailguardTracingProcessor, guard_agent

    guard_agent(agent, engine)                       # every function tool, handoff agents included
    add_trace_processor(RailguardTracingProcessor())  # after configure_tracing(...)
    trace_engine(engine)                              # decisions land on the execute_tool spans

How verdicts map onto the SDK's tool guardrails (`ToolGuardrailFunctionOutput`):

    allow  -> allow
    block  -> reject_content with the model-readable reason (or raise_exception: `on_block="raise"`)
    ask    -> waits on `engine.approval_handler` when set; otherwise reject_content saying a human's
              approval is needed
    modify -> the SDK's tool input guardrails cannot rewrite arguments, so the call is rejected and
              the model is told the arguments the policy accepts, to call again with them

The output guardrail validates the tool's output contract (`engine.check_output`) and scans the
output for secrets (and, for tools declared `output_trust: untrusted`, for prompt injection); the
SDK's output guardrails cannot edit a result, so when something is found the model gets the redacted
output with a notice in place of the original.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from agents import (
    Agent,
    FunctionTool,
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
    ToolOutputGuardrail,
    ToolOutputGuardrailData,
)

from railguard.engine import Engine
from railguard.errors import ContractViolation
from railguard.integrations._agents_tracing import RailguardTracingProcessor
from railguard.integrations._mcp_scan import DEFAULT_REDACT_KINDS, injection_notice, scan_text, secrets_notice
from railguard.integrations.generic import aadmit, tool_span
from railguard.model import Action, Decision, Trust, Verdict, canonical_json

__all__ = [
    "RailguardTracingProcessor",
    "guard_agent",
    "railguard_tool_guardrail",
    "railguard_tool_output_guardrail",
]

INPUT_GUARDRAIL_NAME = "railguard"
OUTPUT_GUARDRAIL_NAME = "railguard_output"


def _arguments(raw: str) -> dict[str, Any]:
    """The model's JSON arguments. Unparseable text is still checked (as `_raw`), never skipped."""
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {"_raw": raw}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}


def _info(decision: Decision) -> dict[str, Any]:
    return decision.to_json_line()


def _retry_message(action: Action, decision: Decision) -> str:
    return (
        f"Railguard did not run '{action.tool}' as called: {decision.reason}. It may run with these "
        f"arguments instead; call it again with exactly: {canonical_json(decision.args or {})}"
    )


def railguard_tool_guardrail(
    engine: Engine, *, on_block: Literal["reject", "raise"] = "reject", name: str = INPUT_GUARDRAIL_NAME
) -> ToolInputGuardrail[Any]:
    """A tool input guardrail that asks `engine` before each function tool call. `on_block="raise"`
    halts the run (`ToolInputGuardrailTripwireTriggered`) instead of telling the model."""

    async def railguard_check(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        ctx = data.context
        action = Action(ctx.tool_name, _arguments(ctx.tool_arguments), call_id=ctx.tool_call_id)
        with tool_span(action.tool, call_id=action.call_id, args=action.args):
            decision, refusal = await aadmit(engine, action)
        if refusal is not None:
            if on_block == "raise" and decision.verdict is Verdict.BLOCK:
                return ToolGuardrailFunctionOutput.raise_exception(output_info=_info(decision))
            return ToolGuardrailFunctionOutput.reject_content(refusal, output_info=_info(decision))
        if decision.verdict is Verdict.MODIFY and decision.args is not None and decision.args != action.args:
            return ToolGuardrailFunctionOutput.reject_content(
                _retry_message(action, decision), output_info=_info(decision)
            )
        return ToolGuardrailFunctionOutput.allow(output_info=_info(decision))

    return ToolInputGuardrail(guardrail_function=railguard_check, name=name)


def _output_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def railguard_tool_output_guardrail(
    engine: Engine, *, scan_secrets: bool = True, name: str = OUTPUT_GUARDRAIL_NAME
) -> ToolOutputGuardrail[Any]:
    """A tool output guardrail: the output contract, then secrets (and injection for untrusted
    tools). A finding replaces the output with the redacted text and a notice for the model."""

    def railguard_output_check(data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
        ctx = data.context
        action = Action(ctx.tool_name, _arguments(ctx.tool_arguments), call_id=ctx.tool_call_id)
        try:
            engine.check_output(action.tool, data.output, action=action)
        except ContractViolation as err:
            info = {"verdict": "block", "rules": ["contract/output"], "errors": err.errors}
            return ToolGuardrailFunctionOutput.reject_content(
                f"Railguard stopped the output of '{action.tool}': {err}", output_info=info
            )
        if not scan_secrets:
            return ToolGuardrailFunctionOutput.allow()
        spec = engine.tool_spec(action.tool)
        untrusted = spec is not None and spec.output_trust is Trust.UNTRUSTED
        scan = scan_text(_output_text(data.output), untrusted=untrusted, kinds=DEFAULT_REDACT_KINDS)
        notices = []
        if scan.secret_kinds:
            notices.append(secrets_notice(action.tool, scan.secret_kinds))
        if scan.injection_flagged:
            notices.append(injection_notice(action.tool, scan.injection_signals))
        if not notices:
            return ToolGuardrailFunctionOutput.allow()
        info = {"secret_kinds": list(scan.secret_kinds), "injection_signals": list(scan.injection_signals)}
        return ToolGuardrailFunctionOutput.reject_content(
            "\n".join(notices) + "\n\n" + scan.text, output_info=info
        )

    return ToolOutputGuardrail(guardrail_function=railguard_output_check, name=name)


def _agents(agent: Agent[Any]) -> Iterator[Agent[Any]]:
    """The agent and every agent reachable through its handoffs, each once."""
    seen: set[int] = set()
    stack: list[Any] = [agent]
    while stack:
        current = stack.pop()
        if not isinstance(current, Agent) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(current.handoffs)


def _attach(existing: list[Any] | None, guardrail: Any) -> list[Any]:
    guardrails = list(existing or [])
    if not any(getattr(g, "name", None) == guardrail.name for g in guardrails):
        guardrails.append(guardrail)
    return guardrails


def guard_agent(
    agent: Agent[Any],
    engine: Engine,
    *,
    check_output: bool = True,
    on_block: Literal["reject", "raise"] = "reject",
) -> Agent[Any]:
    """Attach the Railguard guardrails to every function tool of `agent` and of the agents its
    handoffs lead to (in place; idempotent). Returns `agent`. Hosted tools (web search, code
    interpreter...) run on OpenAI's side and cannot be guarded here."""
    input_guardrail = railguard_tool_guardrail(engine, on_block=on_block)
    output_guardrail = railguard_tool_output_guardrail(engine) if check_output else None
    for each in _agents(agent):
        for tool in each.tools:
            if not isinstance(tool, FunctionTool):
                continue
            tool.tool_input_guardrails = _attach(tool.tool_input_guardrails, input_guardrail)
            if output_guardrail is not None:
                tool.tool_output_guardrails = _attach(tool.tool_output_guardrails, output_guardrail)
    return agent
