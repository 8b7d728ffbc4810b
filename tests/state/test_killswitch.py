"""Kill switches on a real store: scopes, propagation to an engine in another process, fail-closed."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from railguard.engine import Engine
from railguard.model import Action, Context, Verdict
from railguard.state import KillSwitch, install_killswitch
from railguard.store import Store, open_store

POLICY = "rules:\n  - rule: nothing\n    tools: [never]\n    verdict: block\n"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as s:
        yield s


def _eventually(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _verdict(engine: Engine, tool: str = "search", **ctx: str) -> Verdict:
    return engine.check(Action(tool, {}, context=Context(**ctx))).verdict  # type: ignore[arg-type]


def test_switches_stop_only_what_they_name(store: Store) -> None:
    engine = Engine(text=POLICY)
    step = install_killswitch(engine, store, refresh_s=3600)  # refreshed by hand below
    switches = KillSwitch(store)
    try:
        assert _verdict(engine, tenant="acme", agent="support") is Verdict.ALLOW
        switches.engage(tenant="acme", agent="support", reason="refund loop", by="oncall")
        switches.engage(tool="send_money", by="oncall")
        step.refresh()
        blocked = engine.check(Action("search", {}, context=Context(tenant="acme", agent="support")))
        assert blocked.verdict is Verdict.BLOCK and blocked.rules == ("killswitch/engaged",)
        assert blocked.hits[0].source == "killswitch" and "refund loop" in blocked.reason
        assert _verdict(engine, tenant="acme", agent="sales") is Verdict.ALLOW
        assert _verdict(engine, tenant="globex", agent="support") is Verdict.ALLOW
        assert _verdict(engine, "send_money", tenant="globex") is Verdict.BLOCK
        switches.engage(by="oncall", reason="incident")  # global
        step.refresh()
        assert _verdict(engine, tenant="globex", agent="x") is Verdict.BLOCK
        for kwargs in ({}, {"tool": "send_money"}, {"tenant": "acme", "agent": "support"}):
            switches.release(by="oncall", **kwargs)
        step.refresh()
        assert _verdict(engine, tenant="acme", agent="support") is Verdict.ALLOW
        assert [s.engaged for s in switches.status()] == [False, False, False]
        assert {s.scope for s in switches.status()} == {
            "global",
            "tool=send_money",
            "tenant=acme agent=support",
        }
    finally:
        step.close()


def test_a_switch_reaches_an_engine_in_another_process(store_url: str) -> None:
    engine_process = """
import sys, time
from railguard.engine import Engine
from railguard.model import Action, Context
from railguard.state import install_killswitch
from railguard.store import open_store
engine = Engine(text=sys.argv[2])
step = install_killswitch(engine, open_store(sys.argv[1]), refresh_s=0.5)
action = Action("search", {}, context=Context(agent="support"))
print("allowed" if engine.check(action).allowed else "blocked", flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and engine.check(action).allowed:
    time.sleep(0.01)
print("blocked" if not engine.check(action).allowed else "never blocked", flush=True)
"""
    child = subprocess.Popen(
        [sys.executable, "-c", engine_process, store_url, POLICY], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "allowed"  # running, switch off
        with open_store(store_url) as store:
            KillSwitch(store).engage(agent="support", reason="stop", by="test")
        assert child.stdout.readline().strip() == "blocked"  # no restart needed
        assert child.wait(60) == 0
    finally:
        child.kill()


def test_fails_closed_when_the_store_stays_unreadable_past_the_grace(store: Store) -> None:
    engine = Engine(text=POLICY)
    step = install_killswitch(engine, store, refresh_s=0.05, grace_s=0.5)
    try:
        assert _verdict(engine, agent="a") is Verdict.ALLOW
        with store.write_transaction() as conn:  # the store breaks under the engine
            conn.execute(text("DROP TABLE rg_kill_switches"))
        assert _eventually(lambda: _verdict(engine, agent="a") is Verdict.BLOCK)
        decision = engine.check(Action("search", {}, context=Context(agent="a")))
        assert decision.rules == ("killswitch/unknown",) and step.refresh_errors > 0
    finally:
        step.close()
