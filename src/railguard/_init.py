"""`railguard.init(...)`: the common case in one call. Tracing into the store, the engine traced,
and the store-backed cushions (kill switch, approvals, the policy's budgets/limits/loops) installed,
so that decisions and runs show up in `railguard traces list` and `railguard decisions`."""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from pathlib import Path

from railguard.engine import Engine


def init(
    policy: str | Path | Sequence[str | Path] | None = None,
    *,
    packs: Sequence[str] | None = None,
    db: str | None = None,
    service_name: str = "railguard-agent",
    otlp_endpoint: str | None = None,
    approval_wait: float = 0.0,
    provenance: bool = False,
    watch: bool = False,
) -> Engine:
    """Load the policy (files and/or packs; the `default` pack when neither is given) and return its
    engine, with every decision and `railguard.run(...)` traced into the store `db` (None: the
    embedded SQLite file ./.railguard/railguard.db or $RAILGUARD_DB; or "postgresql://...") and
    also sent to `otlp_endpoint` when given, and the cushions installed on the same store.
    `approval_wait`: seconds a call waits for a human's approval before raising ApprovalRequired.
    `provenance`: also stop values from untrusted tool outputs from driving actions. Everything is
    flushed when the process exits."""
    from railguard.state import install_cushions, install_provenance
    from railguard.store import open_store
    from railguard.trace import configure_tracing, trace_engine

    paths = [policy] if isinstance(policy, str | Path) else list(policy or [])
    engine = Engine([str(p) for p in paths] or None, packs=list(packs) if packs else None)
    store = open_store(db)
    tracing = configure_tracing(store, otlp_endpoint=otlp_endpoint, service_name=service_name)
    atexit.register(store.close)
    atexit.register(tracing.shutdown)  # atexit runs last-in first: flush the traces, then close
    trace_engine(engine)
    install_cushions(engine, store, wait=approval_wait)
    if provenance:
        install_provenance(engine, store)
    if watch:
        engine.watch()
    return engine
