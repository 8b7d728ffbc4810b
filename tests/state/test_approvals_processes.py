"""Waiting for a human in another process: a guarded call blocks (sync and async) until a separate
Python process approves or denies the request in the shared store."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

import railguard
from railguard.engine import Engine
from railguard.errors import ApprovalDenied
from railguard.state import install_approvals
from railguard.store import open_store

pytestmark = pytest.mark.slow  # each test starts processes

POLICY = "rules:\n  - rule: big\n    tools: [wire]\n    when: args.amount > 100\n    verdict: ask\n"

# The human, in another process: wait for the pending request, then decide it.
DECIDER = """
import sys, time
from railguard.store import open_store
from railguard.state import Approvals
url, verb = sys.argv[1], sys.argv[2]
with open_store(url) as store:
    approvals = Approvals(store)
    for _ in range(600):
        pending = approvals.list_requests(status="pending")
        if pending:
            getattr(approvals, verb)(pending[0].id, by="human-in-other-process")
            break
        time.sleep(0.05)
    else:
        sys.exit("no pending request appeared")
"""


def _decider(url: str, verb: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", DECIDER, url, verb])


def test_sync_wait_is_unblocked_by_an_approval_from_another_process(store_url: str) -> None:
    with open_store(store_url) as store:
        engine = Engine(text=POLICY)
        install_approvals(engine, store, wait=60.0)
        sent: list[int] = []

        @engine.guard
        def wire(amount: int) -> str:
            sent.append(amount)
            return "sent"

        human = _decider(store_url, "approve")
        with railguard.run(tenant="acme", session="s1"):
            assert wire(amount=500) == "sent"
        assert human.wait(60) == 0
        assert sent == [500]


def test_async_wait_gets_a_denial_from_another_process(store_url: str) -> None:
    with open_store(store_url) as store:
        engine = Engine(text=POLICY)
        install_approvals(engine, store, wait=60.0)
        sent: list[int] = []

        @engine.guard
        async def wire(amount: int) -> str:
            sent.append(amount)
            return "sent"

        async def agent() -> None:
            with railguard.run(tenant="acme", session="s1"):
                await wire(amount=700)

        human = _decider(store_url, "deny")
        with pytest.raises(ApprovalDenied) as raised:
            asyncio.run(agent())
        assert human.wait(60) == 0
        assert sent == []
        assert "human-in-other-process" in str(raised.value)
