"""The generic wrapper: guarded functions and toolkits answer with values (a ToolOutcome when the
call did not run), sync and async, with the decision traced onto the tool's span."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from railguard._scope import run
from railguard.engine import Engine
from railguard.errors import ApprovalDenied, ConfigurationError
from railguard.integrations.generic import GuardedToolkit, ToolOutcome, guarded
from railguard.model import Action, Decision, Verdict
from railguard.trace import Tracing, trace_engine

from .fake_providers import stored_spans

POLICY = """
rules:
  - rule: mail/external
    tools: [send_email]
    when: "!args.to.endsWith('@corp.example.com')"
    verdict: block
    message: "external recipient"
  - rule: pay/large
    tools: [pay]
    when: "args.amount > 100"
    verdict: ask
    message: "payments over 100 need approval"
  - rule: mail/short-subject
    tools: [send_email]
    when: "has(args.subject) && args.subject.size() > 10"
    verdict: modify
    modify:
      set: {subject: 'args.subject.substring(0, 10)'}
    message: "subject shortened"
tools:
  lookup:
    output: {type: object, required: [id], properties: {id: {type: integer}}}
"""


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine.from_yaml(POLICY)
    unsubscribe = trace_engine(eng)
    yield eng
    unsubscribe()


def test_blocked_call_returns_outcome_and_never_runs(engine: Engine) -> None:
    sent: list[str] = []

    def send_email(to: str, subject: str = "") -> str:
        sent.append(to)
        return "sent"

    send = guarded(engine, send_email)
    outcome = send(to="eve@evil.example", subject="hi")
    assert isinstance(outcome, ToolOutcome)
    assert outcome.blocked and outcome.verdict is Verdict.BLOCK
    assert "external recipient" in outcome.message and "mail/external" in outcome.message
    assert sent == []
    assert send(to="ana@corp.example.com", subject="hi") == "sent"
    assert sent == ["ana@corp.example.com"]


def test_modify_runs_with_rewritten_arguments(engine: Engine) -> None:
    seen: list[str] = []

    def send_email(to: str, subject: str) -> str:
        seen.append(subject)
        return "ok"

    toolkit = GuardedToolkit(engine, {"send_email": send_email})
    assert toolkit.call("send_email", {"to": "ana@corp.example.com", "subject": "quarterly numbers"}) == "ok"
    assert seen == ["quarterly "]


def test_ask_without_handler_refuses_and_with_handler_waits(engine: Engine) -> None:
    paid: list[int] = []

    def pay(amount: int) -> str:
        paid.append(amount)
        return "paid"

    toolkit = GuardedToolkit(engine, {"pay": pay})
    outcome = toolkit.call("pay", {"amount": 500})
    assert isinstance(outcome, ToolOutcome) and outcome.verdict is Verdict.ASK
    assert "needs a human's approval" in outcome.message

    class Approver:
        def __init__(self, approve: bool) -> None:
            self.approve = approve

        def request(self, action: Action, decision: Decision) -> Decision:
            if not self.approve:
                raise ApprovalDenied(decision, action, "apr-1")
            return Decision(Verdict.ALLOW, "approved", decision.decision_id, action.tool, approval_id="apr-2")

        async def arequest(self, action: Action, decision: Decision) -> Decision:
            return self.request(action, decision)

    engine.approval_handler = Approver(approve=True)
    assert toolkit.call("pay", {"amount": 500}) == "paid"
    engine.approval_handler = Approver(approve=False)
    denied = asyncio.run(toolkit.acall("pay", {"amount": 700}))
    assert isinstance(denied, ToolOutcome) and "denied" in denied.message
    assert paid == [500]


def test_async_tools_and_unknown_names(engine: Engine) -> None:
    async def send_email(to: str, subject: str = "") -> str:
        await asyncio.sleep(0)
        return f"sent to {to}"

    toolkit = GuardedToolkit(engine, {"send_email": send_email})
    assert (
        asyncio.run(toolkit.acall("send_email", {"to": "bo@corp.example.com"}))
        == "sent to bo@corp.example.com"
    )
    blocked = asyncio.run(toolkit.acall("send_email", {"to": "x@evil.example"}))
    assert isinstance(blocked, ToolOutcome) and blocked.blocked
    with pytest.raises(ConfigurationError, match="acall"):
        toolkit.call("send_email", {"to": "bo@corp.example.com"})
    missing = toolkit.call("delete_all", {})
    assert isinstance(missing, ToolOutcome) and "send_email" in missing.message
    wrapped = guarded(engine, send_email)
    assert asyncio.run(wrapped(to="x@evil.example")).blocked


def test_output_contract_violation_becomes_outcome(engine: Engine) -> None:
    toolkit = GuardedToolkit(engine, {"lookup": lambda key: {"id": "not-a-number"}, "ok": lambda: {"id": 1}})
    broken = toolkit.call("lookup", {"key": "a"})
    assert isinstance(broken, ToolOutcome) and broken.blocked
    assert "contract" in broken.message


def test_positional_only_tools_are_rejected(engine: Engine) -> None:
    def tool(x: int, /) -> int:
        return x

    with pytest.raises(ConfigurationError, match="positional-only"):
        guarded(engine, tool)


def test_calls_are_traced_with_their_decisions(engine: Engine, tracing: Tracing) -> None:
    def send_email(to: str, subject: str = "") -> str:
        return "sent"

    toolkit = GuardedToolkit(engine, {"send_email": send_email})
    with run(agent="mailer", tenant="acme"):
        toolkit.call("send_email", {"to": "eve@evil.example"}, call_id="call_1")
        toolkit.call("send_email", {"to": "ana@corp.example.com"}, call_id="call_2")
    tools = {row.tool_call_id: row for row in stored_spans(tracing) if row.operation == "execute_tool"}
    assert set(tools) == {"call_1", "call_2"}
    assert tools["call_1"].verdict == "block" and tools["call_1"].rules == "mail/external"
    assert tools["call_2"].verdict == "allow"
    assert tools["call_2"].attributes.get("gen_ai.tool.call.result") == '"sent"'
    assert tools["call_1"].agent == tools["call_2"].agent
