"""The dashboard overview's numbers for a time window, aggregated in the database: two grouped
queries (runs per hour and agent, decisions per verdict and rules) whose answers are a few hundred
rows however many spans the window holds. Scoped by tenant (None: every tenant, global admins only).

Usage, calls and cost come from the run rows (each run counted in the bucket it started in), not
from the spans: the run rows are maintained at ingest, one per trace, so a day of a million spans is
read as the tens of thousands of runs it holds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from railguard.store._queries import count_buckets
from railguard.store._schema import decisions, runs
from railguard.store._store import Store

_NS = 1_000_000_000


@dataclass(slots=True)
class Overview:
    """`buckets`: one dict per `bucket_s` from `since` (dense, zeros included) with start, runs,
    calls, tool_calls, model_calls, blocks, asks, errors, input_tokens, output_tokens, cost_usd.
    `agents`: (agent or None, runs, cost_usd) by cost, highest first. `verdicts`: decision events
    per verdict; `would_block`: audit-mode events that would have blocked; `rules`: rule id ->
    decision events it fired in (any verdict)."""

    buckets: list[dict[str, Any]]
    agents: list[tuple[str | None, int, float]]
    verdicts: dict[str, int] = field(default_factory=dict)
    would_block: int = 0
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def runs(self) -> int:
        return sum(b["runs"] for b in self.buckets)


_SUMMED = (
    "tool_calls",
    "model_calls",
    "blocks",
    "asks",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)


def dashboard_overview(
    store: Store, *, tenant: str | None, since: float, until: float, bucket_s: int = 3600
) -> Overview:
    """Runs started and decisions taken in [since, until)."""
    count = count_buckets(since, until, bucket_s)
    since_ns, until_ns, bucket_ns = int(since * _NS), int(until * _NS), bucket_s * _NS
    bucket = ((runs.c.start_ns - since_ns) // bucket_ns).label("bucket")
    run_query = (
        select(bucket, runs.c.agent, func.count(), *(func.sum(runs.c[name]) for name in _SUMMED))
        .where(runs.c.start_ns >= since_ns, runs.c.start_ns < until_ns)
        .group_by(bucket, runs.c.agent)
    )
    decision_query = (
        select(decisions.c.verdict, decisions.c.would_verdict, decisions.c.rules, func.count())
        .where(decisions.c.ts >= since, decisions.c.ts < until)
        .group_by(decisions.c.verdict, decisions.c.would_verdict, decisions.c.rules)
    )
    if tenant is not None:
        run_query = run_query.where(runs.c.tenant == tenant)
        decision_query = decision_query.where(decisions.c.tenant == tenant)
    with store.read_connection() as conn:
        run_rows = conn.execute(run_query).all()
        decision_rows = conn.execute(decision_query).all()

    buckets = [_empty_bucket(since + i * bucket_s) for i in range(count)]
    agents: dict[str | None, list[Any]] = {}
    for index, agent, n, *sums in run_rows:
        into = buckets[int(index)]
        into["runs"] += int(n)
        for name, value in zip(_SUMMED, sums, strict=True):
            into[name] += float(value or 0) if name == "cost_usd" else int(value or 0)
        per_agent = agents.setdefault(agent, [0, 0.0])
        per_agent[0] += int(n)
        per_agent[1] += float(sums[-1] or 0)
    for b in buckets:
        b["calls"] = b["tool_calls"] + b["model_calls"]

    result = Overview(
        buckets, sorted(((a, n, c) for a, (n, c) in agents.items()), key=lambda x: (-x[2], -x[1], x[0] or ""))
    )
    for verdict, would, rules, n in decision_rows:
        result.verdicts[str(verdict)] = result.verdicts.get(str(verdict), 0) + int(n)
        if verdict != "block" and would == "block":
            result.would_block += int(n)
        for rule in filter(None, (rules or "").split(",")):
            result.rules[rule] += int(n)
    return result


def _empty_bucket(start: float) -> dict[str, Any]:
    return {"start": start, "runs": 0, "calls": 0, **dict.fromkeys(_SUMMED, 0), "cost_usd": 0.0}
