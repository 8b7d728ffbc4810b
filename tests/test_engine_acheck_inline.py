"""`acheck` runs a store-bound engine's evaluation on the event loop when no step will wait on the
store this time (each step says so with `needs_store`), and in a worker thread otherwise; the
decisions are the same as `check`'s either way. Real approvals on a real SQLite store."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import railguard as rg
from railguard.state import install_cushions
from railguard.store import open_store

POLICY = """
name: inline
version: 1
rules:
  - rule: no-rm
    tools: [bash]
    when: args.command.contains("rm -rf")
    verdict: block
    message: no
  - rule: big-refund
    tools: [refund]
    when: args.amount > 100
    verdict: ask
    message: a human decides
"""


def _thread_of_step(engine: rg.Engine, stage: str, **probe: object) -> list[int]:
    ran: list[int] = []

    def step(_action: rg.Action, _facts: object) -> None:
        ran.append(threading.get_ident())

    engine.add_step(step, stage=stage, name="spy", **probe)  # type: ignore[arg-type]
    return ran


async def _acheck(engine: rg.Engine, action: rg.Action) -> tuple[rg.Decision, int]:
    return await engine.acheck(action), threading.get_ident()


def test_store_free_checks_run_on_the_loop_and_store_bound_ones_in_a_thread(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'rg.db'}") as store:
        engine = rg.Engine(text=POLICY)
        cushions = install_cushions(engine, store)
        ran = _thread_of_step(engine, "guards", needs_store=lambda action, _facts: action.tool == "stored")
        try:
            for tool, args, on_loop in (
                ("bash", {"command": "ls"}, True),
                ("bash", {"command": "rm -rf /"}, True),
                ("stored", {}, False),  # the spy says it will read the store
                ("refund", {"amount": 500}, False),  # an ask: the approval step reads the store
                ("refund", {"amount": 5}, True),
            ):
                action = rg.Action(tool, args, context=rg.Context(tenant="t", session="s"))
                expected = engine.check(action).verdict
                ran.clear()
                decision, loop_thread = asyncio.run(_acheck(engine, action))
                assert decision.verdict is expected
                # the evaluation that decided is the last one (an ask is found inline, then redone)
                assert (ran[-1] == loop_thread) is on_loop, (tool, args)
                assert len(ran) == (2 if tool == "refund" and not on_loop else 1)
        finally:
            cushions.close()


def test_a_store_stage_step_without_a_probe_always_runs_in_a_thread() -> None:
    engine = rg.Engine(text=POLICY)
    ran = _thread_of_step(engine, "approval")
    decision, loop_thread = asyncio.run(_acheck(engine, rg.Action("bash", {"command": "ls"})))
    assert decision.verdict is rg.Verdict.ALLOW and ran and ran[0] != loop_thread
