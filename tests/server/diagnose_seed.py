"""Runs written straight into a server's store (real spans through the store's ingest): an agent whose
runs sometimes loop, and one run blocked by a rule, for the diagnosis API and dashboard tests."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from railguard.store import SpanRow, Store

NS = 1_000_000_000


@dataclass
class Seeded:
    tenant: str
    loop_runs: list[str] = field(default_factory=list)
    clean_runs: list[str] = field(default_factory=list)
    blocked_run: str = ""
    blocked_span: str = ""


def _run(
    tenant: str,
    agent: str,
    start_s: float,
    calls: list[tuple[str, dict[str, object]]],
    *,
    block_last: bool = False,
) -> tuple[str, list[SpanRow]]:
    trace_id = uuid.uuid4().hex
    root = uuid.uuid4().hex[:16]
    t0 = int(start_s * NS)
    rows = [
        SpanRow(trace_id, root, None, f"invoke_agent {agent}", "internal", t0, t0 + (len(calls) + 1) * 10**8,
                tenant=tenant, agent=agent, operation="invoke_agent"),
    ]  # fmt: skip
    for i, (tool, args) in enumerate(calls):
        blocked = block_last and i == len(calls) - 1
        start = t0 + (i + 1) * 10**8
        rows.append(
            SpanRow(
                trace_id, uuid.uuid4().hex[:16], root, f"execute_tool {tool}", "internal", start, start + 5 * 10**7,
                tenant=tenant, agent=agent, operation="execute_tool", tool_name=tool,
                verdict="block" if blocked else None, rules="no-prod-apply" if blocked else None,
                attributes={"gen_ai.tool.call.arguments": json.dumps(args),
                            **({"railguard.reason": "terraform apply on prod is not allowed"} if blocked else {})},
            )
        )  # fmt: skip
    return trace_id, rows


def seed(store: Store, tenant: str, *, agent: str = "poller", runs: int = 20, loops: int = 5) -> Seeded:
    """`runs` runs over the last two days, `loops` of which call the same tool 5 times with the same
    arguments; plus one run whose last call was blocked."""
    now = time.time()
    out = Seeded(tenant)
    rows: list[SpanRow] = []
    for i in range(runs):
        start = now - 2 * 86_400 + i * (2 * 86_400 - 600) / runs
        if i >= runs - loops:
            calls = [("check_status", {"job": "j-1"})] * 5
        else:
            calls = [("read_ticket", {"id": f"T-{i}"}), ("check_status", {"job": f"j-{i}"})]
        trace_id, spans = _run(tenant, agent, start, calls)
        (out.loop_runs if i >= runs - loops else out.clean_runs).append(trace_id)
        rows += spans
    trace_id, spans = _run(
        tenant,
        "deployer",
        now - 300,
        [("plan", {"ws": "prod"}), ("terraform_apply", {"ws": "prod"})],
        block_last=True,
    )
    out.blocked_run, out.blocked_span = trace_id, spans[-1].span_id
    rows += spans
    store.write_spans(rows)
    return out
