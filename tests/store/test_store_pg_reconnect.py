"""PostgreSQL connections the server hung up on (a restart, a terminated backend) are replaced on
checkout, without a liveness round trip per use: the next read, write and guard decision after
every pooled backend was terminated succeed, and a connection that broke in use is not reused."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from railguard.engine import Engine
from railguard.model import Action, Context
from railguard.state.cushions import install_cushions
from railguard.store import open_store

POLICY = """
name: counted
limits:
  - {name: refunds, tools: [refund], key: tenant, window_s: 3600, max_count: 1000}
rules: []
"""


def _terminate(pg_server: str, application: str) -> int:
    """Terminate the backends of the connections named `application` (this test's store only)."""
    with psycopg.connect(pg_server, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application,),
        ).fetchall()
        # A backend sends its goodbye before it exits: once none is left, every pooled socket holds it
        # (a condition, not a pause that a busy machine could outlast).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchone() != (0,):
            time.sleep(0.01)
    return len(rows)


@pytest.mark.postgres
def test_terminated_backends_are_replaced_on_checkout(pg_server: str, pg_url: str) -> None:
    application = f"rg_reconnect_{uuid.uuid4().hex[:12]}"
    with open_store(f"{pg_url}&application_name={application}") as store:
        engine = Engine(text=POLICY)
        cushions = install_cushions(engine, store, killswitch_refresh_s=3600)
        try:
            action = Action("refund", {"amount": 1}, context=Context(tenant="acme", run="r"))
            assert engine.admit(action).allowed
            store.write_decisions([{"decision_id": "d1", "verdict": "allow", "tool": "x"}])
            assert _terminate(pg_server, application) >= 1
            assert engine.admit(action).allowed  # the guards' driver transaction
            assert store.write_decisions([{"decision_id": "d2", "verdict": "allow", "tool": "x"}]) == 1
            assert store.get_decision("d1", tenant=None) is not None  # a SQLAlchemy read
        finally:
            cushions.close()
