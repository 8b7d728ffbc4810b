"""Typed tool contracts and the guard decorator (sync and async)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

import railguard as rg
from railguard.engine import Engine

POLICY = """
name: shop
tools:
  refund:
    effect: irreversible
    args:
      type: object
      required: [order, amount]
      properties:
        order: {type: string, pattern: "^ord_"}
        amount: {type: number, exclusiveMinimum: 0, maximum: 1000}
      additionalProperties: false
    output:
      type: object
      required: [status]
      properties: {status: {enum: [ok, failed]}}
rules:
  - {rule: big, tools: [refund], when: args.amount > 100, verdict: ask, message: "refund over 100"}
  - {rule: no-test-orders, tools: [refund], when: 'args.order.startsWith("ord_test")', verdict: block}
  - rule: strip-cc
    tools: [send_email]
    when: has(args.cc)
    verdict: modify
    modify: {remove: [cc]}
"""


@pytest.fixture
def engine() -> Engine:
    return Engine.from_yaml(POLICY)


def test_contract_blocks_malformed_arguments_naming_the_field(engine: Engine) -> None:
    d = engine.check("refund", {"order": "ord_1", "amount": "lots", "extra": "sk-secret-value"})
    assert d.verdict is rg.Verdict.BLOCK and d.rules == ("contract/args",)
    assert "args.amount: must be of type number, got string" in d.reason
    assert "unexpected field(s) 'extra'" in d.reason
    assert "lots" not in d.reason and "sk-secret-value" not in d.reason  # values are never echoed
    assert d.hits[0].source == "contract"


def test_contract_reports_missing_and_pattern(engine: Engine) -> None:
    d = engine.check("refund", {"order": "x1"})
    assert "missing required field 'amount'" in d.reason
    assert "args.order: must match the pattern" in d.reason


def test_valid_arguments_reach_the_rules(engine: Engine) -> None:
    assert engine.check("refund", {"order": "ord_1", "amount": 50}).verdict is rg.Verdict.ALLOW
    assert engine.check("refund", {"order": "ord_1", "amount": 500}).verdict is rg.Verdict.ASK


class Transfer(BaseModel):
    iban: str
    amount: float


class Receipt(BaseModel):
    id: str
    amount: float


def test_pydantic_contract_declared_in_code(engine: Engine) -> None:
    engine.declare_tool("transfer", args=Transfer, output=Receipt, effect="irreversible")
    d = engine.check("transfer", {"iban": "DE89", "amount": "x"})
    assert d.verdict is rg.Verdict.BLOCK and "args.amount" in d.reason
    assert engine.check("transfer", {"iban": "DE89", "amount": 3}).verdict is rg.Verdict.ALLOW
    assert engine.tool_spec("transfer").effect is rg.Effect.IRREVERSIBLE  # type: ignore[union-attr]


def test_output_contract_violation_halts_and_is_recorded(engine: Engine) -> None:
    recorded: list[rg.Decision] = []
    engine.subscribe(lambda d, a: recorded.append(d))
    with pytest.raises(rg.ContractViolation) as info:
        engine.check_output("refund", {"status": "maybe"})
    assert "output.status: must be one of ['ok', 'failed']" in str(info.value)
    assert recorded[-1].rules == ("contract/output",) and recorded[-1].verdict is rg.Verdict.BLOCK
    assert engine.check_output("refund", {"status": "ok"}) == {"status": "ok"}


def test_step_output_validated_with_a_pydantic_model(engine: Engine) -> None:
    parsed = engine.validate_step("extract_receipt", {"id": "r1", "amount": "12.5"}, Receipt)
    assert isinstance(parsed, Receipt) and parsed.amount == 12.5
    with pytest.raises(rg.ContractViolation) as info:
        engine.validate_step("extract_receipt", {"id": "r1"})
    assert "output.amount" in str(info.value)


def test_guard_runs_allowed_calls_and_blocks_others(engine: Engine) -> None:
    calls: list[tuple[str, float]] = []

    @engine.guard
    def refund(order: str, amount: float) -> dict[str, str]:
        calls.append((order, amount))
        return {"status": "ok"}

    assert refund("ord_1", 10) == {"status": "ok"}
    with pytest.raises(rg.GuardBlocked) as blocked:
        refund("ord_test_1", 10)
    assert "Do not retry" in str(blocked.value) and blocked.value.decision.rules == ("no-test-orders",)
    with pytest.raises(rg.ApprovalRequired) as asked:
        refund(order="ord_2", amount=500)
    assert "approval" in str(asked.value)
    assert calls == [("ord_1", 10)]


def test_guard_output_contract(engine: Engine) -> None:
    @engine.guard
    def refund(order: str, amount: float) -> dict[str, str]:
        return {"status": "unknown"}

    with pytest.raises(rg.ContractViolation):
        refund("ord_1", 1)


def test_guard_applies_modified_arguments(engine: Engine) -> None:
    seen: dict[str, Any] = {}

    @engine.guard
    def send_email(to: str, body: str, cc: str | None = None, **headers: str) -> str:
        seen.update(to=to, body=body, cc=cc, headers=headers)
        return "sent"

    assert send_email("a@x.io", "hi", cc="boss@x.io", priority="high") == "sent"
    assert seen == {"to": "a@x.io", "body": "hi", "cc": None, "headers": {"priority": "high"}}


def test_guard_with_explicit_name_and_contract(engine: Engine) -> None:
    @engine.guard(name="wire", args=Transfer)
    def do_wire(iban: str, amount: float) -> str:
        return "done"

    assert do_wire("DE1", 2) == "done"
    with pytest.raises(rg.GuardBlocked):
        do_wire("DE1", "x")  # type: ignore[arg-type]


def test_async_guard(engine: Engine) -> None:
    @engine.guard
    async def refund(order: str, amount: float) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"status": "ok"}

    async def main() -> None:
        assert await refund("ord_1", 5) == {"status": "ok"}
        with pytest.raises(rg.GuardBlocked):
            await refund("ord_test", 5)
        d = await engine.acheck("refund", {"order": "ord_1", "amount": 900})
        assert d.verdict is rg.Verdict.ASK

    asyncio.run(main())


def test_guard_uses_the_approval_handler(engine: Engine) -> None:
    class AlwaysApprove:
        def request(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
            from dataclasses import replace

            return replace(decision, verdict=rg.Verdict.ALLOW, approval_id="apr-7")

        async def arequest(self, action: rg.Action, decision: rg.Decision) -> rg.Decision:
            return self.request(action, decision)

    engine.approval_handler = AlwaysApprove()

    @engine.guard
    def refund(order: str, amount: float) -> dict[str, str]:
        return {"status": "ok"}

    assert refund("ord_1", 500) == {"status": "ok"}


def test_guarded_method_ignores_self(engine: Engine) -> None:
    class Shop:
        @engine.guard(name="refund")
        def refund(self, order: str, amount: float) -> dict[str, str]:
            return {"status": "ok"}

    assert Shop().refund("ord_1", 1) == {"status": "ok"}
    with pytest.raises(rg.GuardBlocked):
        Shop().refund("ord_test", 1)
