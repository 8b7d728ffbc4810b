"""Human approvals on a real store (SQLite file and PostgreSQL): durability, exact-call coverage,
scopes, denial, and racing an approval against the expiry."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from railguard.engine import Engine
from railguard.errors import ApprovalDenied, ApprovalRequired, PolicyError
from railguard.model import Action, Context, Verdict
from railguard.state import ApprovalNotPending, Approvals, install_approvals
from railguard.state._approvals_repo import APPROVED, EXPIRED
from railguard.store import Store, open_store

POLICY = """
name: payments
rules:
  - rule: large-transfer
    tools: [wire]
    when: args.amount > 100
    verdict: ask
    message: transfers over 100 need a human
  - rule: refunds
    tools: [refund]
    verdict: ask
    approval: {scope: session, ttl: 8h, match: 'args.amount <= 50'}
  - rule: deploys
    tools: [deploy]
    verdict: ask
    approval: {scope: tool, ttl: 30m}
"""

CTX = Context(tenant="acme", agent="payer", user="ana", session="s1")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as s:
        yield s


def _engine() -> Engine:
    return Engine(text=POLICY)


def _ask(engine: Engine, approvals: Approvals, action: Action) -> str:
    """Check `action`, expect ask, file the request; returns its id."""
    decision = engine.check(action)
    assert decision.verdict is Verdict.ASK
    with pytest.raises(ApprovalRequired) as raised:
        approvals.request(action, decision)
    assert raised.value.approval_id
    return raised.value.approval_id


def test_request_survives_a_restart_and_the_retry_is_allowed(store_url: str) -> None:
    wire = Action("wire", {"amount": 500, "to": "DE89370400440532013000"}, context=CTX)
    with open_store(store_url) as first:
        engine = _engine()
        approval_id = _ask(engine, install_approvals(engine, first), wire)
        # asking again for the same call reuses the pending request instead of paging twice
        assert _ask(engine, engine.approval_handler, wire) == approval_id  # type: ignore[arg-type]

    with open_store(store_url) as second:  # another process, or this one after a restart
        pending = Approvals(second).get(approval_id)
        assert pending.status == "pending" and pending.tool == "wire"
        assert pending.args_redacted["to"] != "DE89370400440532013000"  # only a redacted copy is kept
        assert pending.args_digest == wire.args_digest()
        assert pending.rules == ("large-transfer",) and pending.context.user == "ana"
        Approvals(second).approve(approval_id[:8], by="bob", note="known supplier")

    with open_store(store_url) as third:
        engine = _engine()
        install_approvals(engine, third)
        decision = engine.check(wire)
        assert decision.verdict is Verdict.ALLOW and decision.approval_id == approval_id
        records = third.list_decisions(tenant="acme")
        assert any(r["reason"] == "approved by bob: known supplier" for r in records)


def test_changed_arguments_need_a_new_approval(store: Store) -> None:
    engine = _engine()
    approvals = install_approvals(engine, store)
    first = _ask(engine, approvals, Action("wire", {"amount": 500, "to": "x"}, context=CTX))
    approvals.approve(first, by="bob")
    assert engine.check(Action("wire", {"to": "x", "amount": 500}, context=CTX)).verdict is Verdict.ALLOW
    changed = Action("wire", {"amount": 5000, "to": "x"}, context=CTX)
    assert engine.check(changed).verdict is Verdict.ASK
    assert _ask(engine, approvals, changed) != first
    other_tenant = Action("wire", {"amount": 500, "to": "x"}, context=CTX.merged(tenant="globex"))
    assert engine.check(other_tenant).verdict is Verdict.ASK


def test_session_scope_covers_matching_calls_in_that_session_only(store: Store) -> None:
    engine = _engine()
    approvals = install_approvals(engine, store)
    approval_id = _ask(engine, approvals, Action("refund", {"amount": 20, "order": 1}, context=CTX))
    assert approvals.get(approval_id).scope == "session"
    approvals.approve(approval_id, by="bob")
    assert engine.check(Action("refund", {"amount": 45, "order": 2}, context=CTX)).verdict is Verdict.ALLOW
    # outside the approved pattern, or in another session: a human must look again
    assert engine.check(Action("refund", {"amount": 90, "order": 3}, context=CTX)).verdict is Verdict.ASK
    other = CTX.merged(session="s2")
    assert engine.check(Action("refund", {"amount": 20, "order": 1}, context=other)).verdict is Verdict.ASK


def test_tool_scope_covers_every_session_of_the_tenant(store: Store) -> None:
    engine = _engine()
    approvals = install_approvals(engine, store)
    approvals.approve(_ask(engine, approvals, Action("deploy", {"v": 1}, context=CTX)), by="bob")
    later = Action("deploy", {"v": 2}, context=CTX.merged(session="s9"))
    assert engine.check(later).verdict is Verdict.ALLOW
    assert engine.check(Action("deploy", {"v": 2}, context=CTX.merged(tenant="b"))).verdict is Verdict.ASK


def test_denied_call_raises_and_its_retry_is_blocked(store: Store) -> None:
    engine = _engine()
    approvals = install_approvals(engine, store)
    wire = Action("wire", {"amount": 900, "to": "y"}, context=CTX)
    approval_id = _ask(engine, approvals, wire)
    approvals.wait_s = 30.0
    denier = threading.Timer(
        0.3, lambda: Approvals(store).deny(approval_id, by="carol", note="unknown payee")
    )
    denier.start()
    with pytest.raises(ApprovalDenied) as raised:
        approvals.request(wire, engine.check(wire))  # waits until carol's denial
    denier.join()
    assert raised.value.approval_id == approval_id and "carol" in str(raised.value)
    retry = engine.check(wire)
    assert retry.verdict is Verdict.BLOCK and "approval/denied" in retry.rules
    assert "carol" in retry.reason
    with pytest.raises(ApprovalNotPending):
        approvals.approve(approval_id, by="bob")


def test_guarded_call_without_wait_raises_then_runs_after_approval(store: Store) -> None:
    engine = _engine()
    approvals = install_approvals(engine, store)
    sent: list[int] = []

    @engine.guard
    def wire(amount: int, to: str) -> str:
        sent.append(amount)
        return "ok"

    with pytest.raises(ApprovalRequired) as raised:
        with_context(lambda: wire(amount=300, to="z"))
    assert sent == []
    approvals.approve(raised.value.approval_id or "", by="bob")
    assert with_context(lambda: wire(amount=300, to="z")) == "ok" and sent == [300]


def with_context(fn: object) -> object:
    import railguard

    with railguard.run(tenant="acme", agent="payer", user="ana", session="s1"):
        return fn()  # type: ignore[operator]


def test_concurrent_approve_and_expire_have_exactly_one_winner(store: Store) -> None:
    base = 1_000_000.0
    wire = Action("wire", {"amount": 500}, context=CTX)
    engine = _engine()
    decision = engine.check(wire)
    for round_ in range(8):
        creator = Approvals(store, default_ttl_s=10, clock=lambda: base)
        action = Action("wire", {"amount": 500 + round_}, context=CTX)
        approval_id = creator.submit(action, decision).id
        approve_saw, expired_it = _race(store, approval_id, before=base + 9.999, after=base + 10.001)
        final = Approvals(store).get(approval_id).status
        assert final in (APPROVED, EXPIRED)
        assert expired_it == (final == EXPIRED)  # the expiry only reports requests it really expired
        assert approve_saw == final  # the approver sees the winner's outcome, approved or not


def _race(store: Store, approval_id: str, *, before: float, after: float) -> tuple[str, bool]:
    """Approve (with a clock that still sees the request as pending) while an expiry (with a clock
    past its deadline) runs; returns what the approver saw and whether the expiry expired it."""
    approver = Approvals(store, clock=lambda: before)
    expirer = Approvals(store, clock=lambda: after)
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def approve() -> None:
        barrier.wait()
        try:
            outcome["approve"] = approver.approve(approval_id, by="bob").status
        except ApprovalNotPending as err:
            outcome["approve"] = err.approval.status

    def expire() -> None:
        barrier.wait()
        outcome["expired"] = any(x.id == approval_id for x in expirer.expire_due())

    threads = [threading.Thread(target=approve), threading.Thread(target=expire)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return str(outcome["approve"]), bool(outcome["expired"])


def test_policy_rejects_malformed_approval_blocks() -> None:
    bad = {
        "verdict: block\n    approval: {scope: call}": "verdict block",
        "verdict: ask\n    approval: {scope: forever}": "invalid approval scope",
        "verdict: ask\n    approval: {scope: session, ttl: soon}": "invalid ttl",
        "verdict: ask\n    approval: {match: 'args.a == 1'}": "needs scope session or tool",
        "verdict: ask\n    approval: {scope: tool, when: x}": "unknown key 'when'",
    }
    for body, expected in bad.items():
        with pytest.raises(PolicyError) as raised:
            Engine(text=f"rules:\n  - rule: r\n    {body}\n")
        text = str(raised.value)
        assert expected in text and (":3" in text or ":4" in text)


def test_install_rejects_an_unknown_variable_in_match(store: Store) -> None:
    engine = Engine(
        text="rules:\n  - rule: r\n    verdict: ask\n    approval: {scope: tool, match: 'argz.a == 1'}\n"
    )
    with pytest.raises(PolicyError, match="argz"):
        install_approvals(engine, store)


def test_a_tenant_scoped_caller_can_neither_read_nor_decide_another_tenants_request(store: Store) -> None:
    from railguard.state import ApprovalNotFound

    engine = _engine()
    approvals = install_approvals(engine, store)
    acme = _ask(engine, approvals, Action("wire", {"amount": 500, "to": "x"}, context=CTX))
    for prefix in (acme, acme[:8]):  # by id and by the prefix `approvals list` shows
        with pytest.raises(ApprovalNotFound):
            approvals.get(prefix, tenant="globex")
        with pytest.raises(ApprovalNotFound):
            approvals.approve(prefix, by="mallory", tenant="globex")
        with pytest.raises(ApprovalNotFound):
            approvals.deny(prefix, by="mallory", tenant="globex")
    assert approvals.get(acme).status == "pending"  # untouched
    assert approvals.list_requests(tenant="globex") == []
    assert approvals.approve(acme, by="bob", tenant="acme").status == APPROVED
    assert approvals.get(acme, tenant="acme").decided_by == "bob"
