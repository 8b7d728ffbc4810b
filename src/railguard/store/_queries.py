"""Read queries. Every function takes `tenant`: None means all tenants (admin callers only); any other
value filters every row by it, so one tenant's data never reaches another's query."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql import Select

from railguard.model import Verdict
from railguard.store._otel_map import AGENT_OPERATION, MODEL_OPERATIONS, TOOL_OPERATION
from railguard.store._rows import RunSummary, SpanRow
from railguard.store._schema import decisions, runs, spans

MAX_PAGE = 1000
MAX_BUCKETS = 10_000
_NS = 1_000_000_000
_SPAN_FIELDS = tuple(f.name for f in fields(SpanRow))
_RUN_COLUMNS = [runs.c[f.name] for f in fields(RunSummary) if f.name != "status"]
_STATUS_AT = [f.name for f in fields(RunSummary)].index("status")


def _tenant_filter(column: Any, tenant: str | None) -> list[ColumnElement[bool]]:
    return [] if tenant is None else [column == tenant]


def _run_select(tenant: str | None) -> Select[Any]:
    return select(*_RUN_COLUMNS, runs.c.errors).where(*_tenant_filter(runs.c.tenant, tenant))


def _to_summary(row: Any) -> RunSummary:
    # Positional (the row is RunSummary's fields without status, then `errors`): mapping lookups by
    # name were most of the run list's client time.
    *values, errors = row
    values.insert(_STATUS_AT, "error" if errors else "ok")
    return RunSummary(*values)


def parse_cursor(before: str) -> tuple[int, str]:
    start, sep, trace_id = before.partition(":")
    if not sep or not start.isdigit() or not trace_id:
        raise ValueError(f"invalid page cursor {before[:80]!r}; pass RunSummary.cursor of the last row shown")
    return int(start), trace_id


def list_runs(
    conn: Connection,
    *,
    tenant: str | None,
    agent: str | None,
    session: str | None,
    since: float | None,
    until: float | None,
    status: str | None,
    verdict: str | None,
    limit: int,
    before: str | None,
    min_cost: float | None = None,
) -> list[RunSummary]:
    query = _run_select(tenant)
    if min_cost is not None:
        query = query.where(runs.c.cost_usd >= min_cost)
    if agent is not None:
        query = query.where(runs.c.agent == agent)
    if session is not None:
        query = query.where(runs.c.session == session)
    if since is not None:
        query = query.where(runs.c.start_ns >= int(since * _NS))
    if until is not None:
        query = query.where(runs.c.start_ns < int(until * _NS))
    if status is not None:
        query = query.where(_status_filter(status))
    if verdict is not None:
        query = query.where(_verdict_filter(verdict))
    if before is not None:
        start_ns, trace_id = parse_cursor(before)
        # A row-value comparison, not "a < x OR (a = x AND b < y)": both databases turn it into an
        # index range start, so a deep page costs what the first page costs.
        query = query.where(tuple_(runs.c.start_ns, runs.c.trace_id) < (start_ns, trace_id))
    limit = max(1, min(int(limit), MAX_PAGE))
    query = query.order_by(runs.c.start_ns.desc(), runs.c.trace_id.desc()).limit(limit)
    return [_to_summary(row) for row in conn.execute(query).all()]


def _status_filter(status: str) -> ColumnElement[bool]:
    if status == "error":
        return runs.c.errors > 0
    if status == "ok":
        return runs.c.errors == 0
    raise ValueError(f"unknown run status {status!r}; use 'ok' or 'error'")


def _verdict_filter(verdict: str) -> ColumnElement[bool]:
    if verdict == Verdict.BLOCK:
        return runs.c.blocks > 0
    if verdict == Verdict.ASK:
        return runs.c.asks > 0
    if verdict == Verdict.ALLOW:
        return and_(runs.c.blocks == 0, runs.c.asks == 0)
    raise ValueError(f"unknown run verdict filter {verdict!r}; use 'block', 'ask' or 'allow'")


def session_runs(conn: Connection, session: str, *, tenant: str | None) -> list[RunSummary]:
    query = _run_select(tenant).where(runs.c.session == session)
    query = query.order_by(runs.c.start_ns, runs.c.trace_id).limit(MAX_PAGE)
    return [_to_summary(row) for row in conn.execute(query).all()]


def get_trace(conn: Connection, trace_id: str, *, tenant: str | None) -> list[SpanRow]:
    # The trace's rows come in through the primary key and only then is their tenant checked: written
    # as `tenant || ''` (same value, NULL stays NULL) so that SQLite without statistics does not walk
    # the tenant's whole (tenant, start_ns) index instead, which took 70 ms at 1M spans.
    query = select(*(spans.c[name] for name in _SPAN_FIELDS)).where(
        spans.c.trace_id == trace_id, *_tenant_filter(spans.c.tenant.concat(""), tenant)
    )
    query = query.order_by(spans.c.start_ns, spans.c.span_id)
    # Positional: the columns are selected in SpanRow's field order, and keyword unpacking of each
    # row's mapping cost more than the query itself on a 1,000-span trace.
    return [SpanRow(*row) for row in conn.execute(query).all()]


def count_buckets(since: float, until: float, bucket_s: int) -> int:
    """How many `bucket_s` buckets cover [since, until); refuses a cut finer than MAX_BUCKETS."""
    if bucket_s < 1:
        raise ValueError("bucket_s must be at least 1 second")
    count = max(0, int((until - since + bucket_s - 1) // bucket_s))
    if count > MAX_BUCKETS:
        raise ValueError(f"{count} buckets requested; at most {MAX_BUCKETS}: widen bucket_s")
    return count


def timeseries(
    conn: Connection, *, tenant: str | None, bucket_s: int, since: float, until: float, agent: str | None
) -> list[dict[str, Any]]:
    """Dense buckets [since, until): empty buckets are present with zeros, so charts need no gap logic."""
    bucket_count = count_buckets(since, until, bucket_s)
    since_ns, until_ns, bucket_ns = int(since * _NS), int(until * _NS), bucket_s * _NS
    bucket = ((spans.c.start_ns - since_ns) // bucket_ns).label("bucket")
    is_tool = spans.c.operation == TOOL_OPERATION
    is_model = spans.c.operation.in_(sorted(MODEL_OPERATIONS))
    counts_usage = or_(spans.c.operation.is_(None), spans.c.operation != AGENT_OPERATION)
    tool_latency_ms = case((is_tool, (spans.c.end_ns - spans.c.start_ns) / 1e6))
    query = (
        select(
            bucket,
            func.count().label("spans"),
            _count_where(is_tool).label("tool_calls"),
            _count_where(is_model).label("model_calls"),
            _count_where(spans.c.verdict == Verdict.BLOCK.value).label("blocks"),
            _count_where(spans.c.verdict == Verdict.ASK.value).label("asks"),
            _count_where(spans.c.status == "error").label("errors"),
            func.sum(case((counts_usage, func.coalesce(spans.c.input_tokens, 0)), else_=0)).label(
                "input_tokens"
            ),
            func.sum(case((counts_usage, func.coalesce(spans.c.output_tokens, 0)), else_=0)).label(
                "output_tokens"
            ),
            func.sum(case((counts_usage, func.coalesce(spans.c.cost_usd, 0.0)), else_=0.0)).label("cost_usd"),
            func.avg(tool_latency_ms).label("tool_latency_avg_ms"),
            func.max(tool_latency_ms).label("tool_latency_max_ms"),
        )
        .where(
            spans.c.start_ns >= since_ns, spans.c.start_ns < until_ns, *_tenant_filter(spans.c.tenant, tenant)
        )
        .group_by(bucket)
    )
    if agent is not None:
        query = query.where(spans.c.agent == agent)
    found = {int(row.bucket): row._mapping for row in conn.execute(query)}
    return [_bucket_dict(since + i * bucket_s, found.get(i)) for i in range(bucket_count)]


def _count_where(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _bucket_dict(start: float, row: Any) -> dict[str, Any]:
    def num(name: str, cast: type = int) -> Any:
        value = None if row is None else row[name]
        return cast(value or 0)

    tool_calls, model_calls = num("tool_calls"), num("model_calls")
    avg = None if row is None else row["tool_latency_avg_ms"]
    peak = None if row is None else row["tool_latency_max_ms"]
    return {
        "start": start,
        "calls": tool_calls + model_calls,
        "tool_calls": tool_calls,
        "model_calls": model_calls,
        "spans": num("spans"),
        "blocks": num("blocks"),
        "asks": num("asks"),
        "errors": num("errors"),
        "input_tokens": num("input_tokens"),
        "output_tokens": num("output_tokens"),
        "cost_usd": num("cost_usd", float),
        "tool_latency_avg_ms": None if avg is None else float(avg),
        "tool_latency_max_ms": None if peak is None else float(peak),
    }


def list_decisions(
    conn: Connection,
    *,
    tenant: str | None,
    since: float | None,
    verdict: str | None,
    tool: str | None,
    limit: int,
    rule: str | None = None,
) -> list[dict[str, Any]]:
    """Decision events, newest first; each record carries its `event_id` and `seq` (the n-th event
    of its decision id)."""
    query = select(decisions.c.record, decisions.c.event_id, decisions.c.seq).where(
        *_decision_filters(tenant, since, verdict, tool, rule)
    )
    limit = max(1, min(int(limit), MAX_PAGE))
    query = query.order_by(decisions.c.ts.desc(), decisions.c.decision_id.desc(), decisions.c.seq.desc())
    return [
        {**record, "event_id": event_id, "seq": seq}
        for record, event_id, seq in conn.execute(query.limit(limit))
    ]


def _decision_filters(
    tenant: str | None, since: float | None, verdict: str | None, tool: str | None, rule: str | None
) -> list[ColumnElement[bool]]:
    where = _tenant_filter(decisions.c.tenant, tenant)
    if since is not None:
        where.append(decisions.c.ts >= since)
    if verdict is not None:
        where.append(decisions.c.verdict == verdict)
    if tool is not None:
        where.append(decisions.c.tool == tool)
    if rule is not None:  # `rules` is the comma-joined list: match one whole item
        listed = literal(",") + func.coalesce(decisions.c.rules, "") + literal(",")
        where.append(listed.contains(f",{rule},", autoescape=True))
    return where


def decision_stats(
    conn: Connection,
    *,
    tenant: str | None,
    since: float | None,
    verdict: str | None = None,
    tool: str | None = None,
    rule: str | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """Counts per verdict, the rules and tools that fired most (blocks and asks), and per UTC day."""
    where = _decision_filters(tenant, since, verdict, tool, rule)
    by_verdict = {
        str(v): int(n)
        for v, n in conn.execute(
            select(decisions.c.verdict, func.count()).where(*where).group_by(decisions.c.verdict)
        )
    }
    stopped = [*where, decisions.c.verdict.in_(("block", "ask"))]
    rule_counts: dict[str, int] = {}
    for rules, n in conn.execute(
        select(decisions.c.rules, func.count()).where(*stopped).group_by(decisions.c.rules)
    ):
        for name in filter(None, (rules or "").split(",")):
            rule_counts[name] = rule_counts.get(name, 0) + int(n)
    tools = conn.execute(
        select(decisions.c.tool, func.count().label("n"))
        .where(*stopped)
        .group_by(decisions.c.tool)
        .order_by(func.count().desc(), decisions.c.tool)
        .limit(top)
    ).all()
    day = (
        func.floor(decisions.c.ts / 86400)
        if conn.dialect.name == "postgresql"
        else cast(decisions.c.ts / 86400, Integer)  # ts > 0: truncation is floor
    ).label("day")
    per_day: dict[int, dict[str, int]] = {}
    for d, v, n in conn.execute(
        select(day, decisions.c.verdict, func.count()).where(*where).group_by(day, decisions.c.verdict)
    ):
        per_day.setdefault(int(d), {})[str(v)] = int(n)
    total = sum(by_verdict.values())
    return {
        "total": total,
        "verdicts": by_verdict,
        "block_rate": by_verdict.get("block", 0) / total if total else 0.0,
        "ask_rate": by_verdict.get("ask", 0) / total if total else 0.0,
        "top_rules": sorted(rule_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
        "top_tools": [(str(t), int(n)) for t, n in tools],
        "per_day": [(d * 86400, per_day[d]) for d in sorted(per_day)],
    }


def match_trace_ids(conn: Connection, key: str, *, tenant: str | None, limit: int = 2) -> list[str]:
    """Trace ids starting with `key` (hex digits), else the traces whose run id (`railguard.run` on
    the root span) is `key`: what a person copies from a narrow terminal or from `railguard demo`."""
    found = _ids_starting_with(conn, runs.c.trace_id, runs.c.tenant, key.strip().lower(), tenant, limit)
    if found:
        return found
    run_id = spans.c.attributes["railguard.run"].as_string()
    rows = conn.execute(
        select(spans.c.trace_id)
        .where(
            spans.c.parent_span_id.is_(None), run_id == key.strip(), *_tenant_filter(spans.c.tenant, tenant)
        )
        .distinct()
        .limit(limit)
    ).all()
    return [row[0] for row in rows]


def _ids_starting_with(
    conn: Connection, column: Any, tenant_column: Any, prefix: str, tenant: str | None, limit: int
) -> list[str]:
    """Values of a (primary key) id column that start with `prefix`; a range, not LIKE, so both
    databases answer it from the key's index and no character of the prefix is a wildcard."""
    if not prefix:
        return []
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    query = (
        select(column)
        .where(column >= prefix, column < upper, *_tenant_filter(tenant_column, tenant))
        .distinct()  # a decision id has one row per event
        .order_by(column)
        .limit(limit)
    )
    return [row[0] for row in conn.execute(query).all()]


def match_decision_ids(conn: Connection, prefix: str, *, tenant: str | None, limit: int = 2) -> list[str]:
    return _ids_starting_with(
        conn, decisions.c.decision_id, decisions.c.tenant, prefix.strip(), tenant, limit
    )


def get_decision(conn: Connection, decision_id: str, *, tenant: str | None) -> dict[str, Any] | None:
    """The latest event of a decision (its last seq)."""
    query = (
        select(decisions.c.record)
        .where(decisions.c.decision_id == decision_id, *_tenant_filter(decisions.c.tenant, tenant))
        .order_by(decisions.c.seq.desc())
        .limit(1)
    )
    record = conn.execute(query).scalar()
    return None if record is None else dict(record)
