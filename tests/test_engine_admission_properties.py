"""Property: for any pipeline of steps (allow / block / ask / audit / modify / raise / stop / slow by an
injected clock) and any approval handler, every entry point — `admit`, `aadmit`, `@engine.guard`,
`GuardedToolkit`, the model-SDK tool-call helper, the MCP proxy's admission and the Claude Code hook's
decision — reaches the same final decision for the same call, and a refused call never runs."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import railguard as rg
from railguard.engine import STAGES, Clock, Engine
from railguard.errors import ApprovalDenied, GuardError
from railguard.integrations._toolcalls import AllowedCall, ToolCallRequest, decide
from railguard.integrations.claude_code import hook_decision
from railguard.integrations.generic import GuardedToolkit, ToolOutcome
from railguard.integrations.mcp_proxy import McpProxy

POLICY = """
deadline_ms: 5
rules:
  - {rule: m, tools: [t], when: has(args.m), verdict: modify, modify: {set: {m: '"rewritten"'}}}
"""
KINDS = ("none", "allow", "block", "ask", "audit-block", "raise", "stop-block", "stop-ask", "slow")
HANDLERS = (None, "approve", "still-ask", "deny", "block", "crash")


class _Time:
    def __init__(self) -> None:
        self.ns = 0

    def clock(self) -> Clock:
        return Clock(cpu_ns=lambda: self.ns, wall_ns=lambda: self.ns)


def _step(kind: str, i: int, time: _Time) -> Any:
    def step(action: rg.Action, facts: rg.Facts) -> Any:
        name = f"s{i}/{kind}"
        if kind == "none":
            return None
        if kind == "raise":
            raise ValueError("step failed")
        if kind == "slow":
            time.ns += 50_000_000  # 50 ms of CPU: past the deadline when it is counted
            return None
        verdict = rg.Verdict(kind.split("-")[-1])
        mode = rg.Mode.AUDIT if kind.startswith("audit") else rg.Mode.ENFORCE
        hit = rg.RuleHit(name, verdict, f"step {i} says {verdict.value}", mode=mode, source="test")
        return rg.Stop(hit) if kind.startswith("stop") else hit

    return step


class _Handler:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def request(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
        if self.kind == "approve":
            return replace(decision, verdict=rg.Verdict.ALLOW, approval_id="apr-1")
        if self.kind == "deny":
            raise ApprovalDenied(decision, action, "apr-2")
        if self.kind == "block":
            return replace(decision, verdict=rg.Verdict.BLOCK)
        if self.kind == "crash":
            raise RuntimeError("the approval service is down")
        return decision  # still ask

    async def arequest(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
        return self.request(action, decision)


Outcome = tuple[str, Any]


def _of(decision: rg.Decision, args: dict[str, Any]) -> Outcome:
    if decision.allowed:
        used = dict(decision.args) if decision.args is not None else args
        return ("ran", used.get("m"))
    return ("refused", decision.verdict)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.tuples(st.sampled_from(STAGES), st.sampled_from(KINDS)), max_size=5),
    handler=st.sampled_from(HANDLERS),
    modify=st.booleans(),
)
def test_every_entry_point_reaches_the_same_decision_and_refused_calls_never_run(
    steps: list[tuple[str, str]], handler: str | None, modify: bool
) -> None:
    time = _Time()
    engine = Engine(text=POLICY, clock=time.clock())
    for i, (stage, kind) in enumerate(steps):
        engine.add_step(_step(kind, i, time), stage=stage, name=f"s{i}")
    engine.approval_handler = _Handler(handler) if handler else None
    args: dict[str, Any] = {"x": 1, "m": 7} if modify else {"x": 1}
    ran: list[Any] = []

    def t(x: int, **extra: Any) -> str:  # no defaults: every entry point checks exactly `args`
        ran.append(extra.get("m"))
        return "done"

    outcomes: dict[str, Outcome] = {}
    decision = engine.admit(rg.Action("t", args))
    outcomes["admit"] = _of(decision, args)
    outcomes["aadmit"] = _of(asyncio.run(engine.aadmit(rg.Action("t", args))), args)
    try:
        engine.guard(name="t")(t)(**args)
        outcomes["guard"] = ("ran", ran[-1])
    except GuardError as refused:
        outcomes["guard"] = ("refused", refused.decision.verdict)
    result = GuardedToolkit(engine, {"t": t}).call("t", args)
    outcomes["toolkit"] = ("refused", result.verdict) if isinstance(result, ToolOutcome) else ("ran", ran[-1])
    call = decide(engine, ToolCallRequest("c1", "t", args))
    outcomes["sdk"] = (
        ("ran", call.args.get("m")) if isinstance(call, AllowedCall) else ("refused", call.decision.verdict)
    )
    try:
        outcomes["mcp"] = _of(asyncio.run(McpProxy(engine)._decide(rg.Action("t", args))), args)
    except GuardError as refused:
        outcomes["mcp"] = ("refused", refused.decision.verdict)
    hook = hook_decision(engine, {"tool_name": "t", "tool_input": args, "hook_event_name": "PreToolUse"})
    outcomes["hook"] = _of(hook, args)

    assert set(outcomes.values()) == {outcomes["admit"]}, outcomes
    runs = sum(1 for o in ("guard", "toolkit") if outcomes[o][0] == "ran")
    assert len(ran) == runs  # a refused call never ran its tool
    before = engine.dry_run(rg.Action("t", args)).verdict
    if before is rg.Verdict.BLOCK or (before is rg.Verdict.ASK and handler != "approve"):
        assert outcomes["admit"][0] == "refused"
    if before in (rg.Verdict.ALLOW, rg.Verdict.MODIFY):
        assert outcomes["admit"] == (
            "ran",
            "rewritten" if modify and before is rg.Verdict.MODIFY else args.get("m"),
        )
