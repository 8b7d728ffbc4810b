"""The detectors' reads: aggregation done in SQL (per run, per run and step, per day), so a full
diagnosis moves thousands of rows out of the database, not millions of spans. Every query is scoped
to a time window and, when given, a tenant and an agent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, false, func, or_, select

from railguard.state._tables import approvals  # registers the approvals tables' migration
from railguard.store._otel_map import MODEL_OPERATIONS, TOOL_OPERATION
from railguard.store._schema import runs, spans
from railguard.trace import _keys as k

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Window:
    """[since, until) in Unix seconds, optionally one tenant and/or one agent."""

    since: float
    until: float
    tenant: str | None = None
    agent: str | None = None
    agents: tuple[tuple[str, str], ...] | None = None  # (tenant, agent) pairs to restrict to

    def span_filter(self) -> list[ColumnElement[bool]]:
        return self._filter(spans.c.start_ns, spans.c.tenant, spans.c.agent)

    def run_filter(self) -> list[ColumnElement[bool]]:
        return self._filter(runs.c.start_ns, runs.c.tenant, runs.c.agent)

    def _filter(self, start: Any, tenant: Any, agent: Any) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = [start >= int(self.since * NS), start < int(self.until * NS)]
        if self.tenant is not None:
            out.append(tenant == self.tenant)
        if self.agent is not None:
            out.append(agent == self.agent)
        if self.agents is not None:
            pairs = [and_(_tenant_is(tenant, t), agent == a) for t, a in self.agents]
            out.append(or_(*pairs) if pairs else false())
        return out


def _tenant_is(column: Any, tenant: str) -> ColumnElement[bool]:
    """Findings say "" for no tenant; the store keeps NULL."""
    return column == tenant if tenant else or_(column.is_(None), column == "")


BASELINE_LOOKBACK_S = 14 * 86_400


def with_lookback(w: Window) -> Window:
    """The window reaching BASELINE_LOOKBACK_S further back: rates and changes are reported inside
    `w`, but compared with a baseline that a change late in `w` does not leave a day or two of."""
    return Window(w.since - BASELINE_LOOKBACK_S, w.until, w.tenant, w.agent, w.agents)


def bucket_origin(since: float, bucket_s: int) -> int:
    """Buckets start at whole multiples of their size (UTC midnights for days)."""
    return int(since // bucket_s) * bucket_s


def _rows(conn: Connection, query: Any) -> list[Any]:
    return list(conn.execute(query).all())


def run_rows(conn: Connection, w: Window) -> list[Any]:
    """One row per run: identity, version, start, cost, tokens, counts."""
    query = select(
        runs.c.tenant,
        runs.c.agent,
        runs.c.agent_version,
        runs.c.prompt_version,
        runs.c.trace_id,
        runs.c.start_ns,
        runs.c.end_ns,
        runs.c.cost_usd,
        runs.c.errors,
        runs.c.blocks,
        runs.c.asks,
        runs.c.tool_calls,
        runs.c.input_tokens,
    ).where(*w.run_filter(), runs.c.agent.is_not(None))
    return _rows(conn, query)


_is_model = spans.c.operation.in_(sorted(MODEL_OPERATIONS))
_duration_ms = (spans.c.end_ns - spans.c.start_ns) / 1e6


def token_growth(conn: Connection, w: Window) -> list[Any]:
    """Per run: model calls, first call's start, and the smallest and largest input token counts."""
    query = (
        select(
            spans.c.tenant,
            spans.c.agent,
            spans.c.trace_id,
            func.min(spans.c.start_ns).label("start_ns"),
            func.count().label("calls"),
            func.min(spans.c.input_tokens).label("low"),
            func.max(spans.c.input_tokens).label("high"),
        )
        .where(*w.span_filter(), _is_model, spans.c.input_tokens.is_not(None), spans.c.agent.is_not(None))
        .group_by(spans.c.tenant, spans.c.agent, spans.c.trace_id)
    )
    return _rows(conn, query)


@dataclass(frozen=True, slots=True)
class StepLatency:
    tenant: str | None
    agent: str
    kind: str  # tool | model
    step: str
    trace_id: str
    start_ns: int
    ms: float


def step_latency(conn: Connection, w: Window) -> list[StepLatency]:
    """Per run and step (tool name or requested model): start and mean duration in ms. Grouped by the
    raw columns (the run's tenant and agent are one per trace: aggregated, not grouped on)."""
    query = (
        select(
            spans.c.trace_id,
            spans.c.operation,
            spans.c.tool_name,
            spans.c.request_model,
            func.max(spans.c.tenant),
            func.max(spans.c.agent),
            func.min(spans.c.start_ns),
            func.avg(_duration_ms),
        )
        .where(
            *w.span_filter(),
            spans.c.agent.is_not(None),
            spans.c.verdict.is_(None) | spans.c.verdict.in_(("allow", "modify")),  # refused calls never ran
            or_(
                and_(spans.c.operation == TOOL_OPERATION, spans.c.tool_name.is_not(None)),
                and_(_is_model, spans.c.request_model.is_not(None)),
            ),
        )
        .group_by(spans.c.trace_id, spans.c.operation, spans.c.tool_name, spans.c.request_model)
    )
    out = []
    for trace_id, operation, tool, model, tenant, agent, start_ns, ms in conn.execute(query):
        is_tool = operation == TOOL_OPERATION
        out.append(
            StepLatency(
                tenant,
                agent,
                "tool" if is_tool else "model",
                tool if is_tool else model,
                trace_id,
                start_ns,
                float(ms),
            )
        )
    return out


def tool_errors_by_bucket(conn: Connection, w: Window, bucket_s: int) -> list[Any]:
    """Per tool and time bucket: calls and failed calls (refused calls are not failures)."""
    bucket = ((spans.c.start_ns - bucket_origin(w.since, bucket_s) * NS) // (bucket_s * NS)).label("bucket")
    query = (
        select(
            spans.c.tenant,
            spans.c.agent,
            spans.c.tool_name,
            bucket,
            func.count().label("calls"),
            func.sum(case((spans.c.status == "error", 1), else_=0)).label("errors"),
        )
        .where(
            *w.span_filter(),
            spans.c.operation == TOOL_OPERATION,
            spans.c.agent.is_not(None),
            spans.c.tool_name.is_not(None),
        )
        .group_by(spans.c.tenant, spans.c.agent, spans.c.tool_name, bucket)
    )
    return _rows(conn, query)


def error_examples(
    conn: Connection, w: Window, tenant: str, agent: str, tool: str, limit: int = 3
) -> list[Any]:
    query = (
        select(spans.c.trace_id, spans.c.span_id, spans.c.status_message, spans.c.error_type)
        .where(
            *w.span_filter(),
            spans.c.tenant == tenant,
            spans.c.agent == agent,
            spans.c.tool_name == tool,
            spans.c.status == "error",
        )
        .order_by(spans.c.start_ns.desc())
        .limit(limit)
    )
    return _rows(conn, query)


_arguments = spans.c.attributes[k.TOOL_ARGUMENTS].as_string()


def repeated_calls(conn: Connection, w: Window, min_repeats: int) -> list[Any]:
    """Per run, tool and identical arguments called at least `min_repeats` times. Two steps: the runs
    and tools called that often at all (no JSON read), then their arguments."""
    often = (
        select(spans.c.trace_id, spans.c.tool_name)
        .where(*w.span_filter(), spans.c.operation == TOOL_OPERATION, spans.c.agent.is_not(None))
        .group_by(spans.c.trace_id, spans.c.tool_name)
        .having(func.count() >= min_repeats)
    )
    candidates = conn.execute(often).all()
    if not candidates:
        return []
    out: list[Any] = []
    traces = sorted({t for t, _ in candidates})
    for at in range(0, len(traces), 500):
        chunk = traces[at : at + 500]
        query = (
            select(
                spans.c.tenant,
                spans.c.agent,
                spans.c.trace_id,
                spans.c.tool_name,
                _arguments.label("args"),
                func.count().label("n"),
                func.min(spans.c.start_ns).label("start_ns"),
                func.max(spans.c.start_ns).label("last_ns"),
                func.max(spans.c.span_id).label("span_id"),
            )
            .where(spans.c.trace_id.in_(chunk), *w.span_filter(), spans.c.operation == TOOL_OPERATION)
            .group_by(spans.c.tenant, spans.c.agent, spans.c.trace_id, spans.c.tool_name, _arguments)
            .having(func.count() >= min_repeats)
        )
        out += _rows(conn, query)
    return out


def loop_guard_hits(conn: Connection, w: Window) -> list[Any]:
    """Tool spans on which a loop guard fired (rules loop/...)."""
    query = select(
        spans.c.tenant,
        spans.c.agent,
        spans.c.trace_id,
        spans.c.span_id,
        spans.c.tool_name,
        spans.c.start_ns,
        spans.c.decision_id,
    ).where(*w.span_filter(), spans.c.rules.like("%loop/%"), spans.c.agent.is_not(None))
    return _rows(conn, query)


def model_usage(conn: Connection, w: Window, bucket_s: int) -> list[Any]:
    """Per requested model, served model and bucket: calls, first/last call, mean cost, tokens, ms."""
    bucket = ((spans.c.start_ns - bucket_origin(w.since, bucket_s) * NS) // (bucket_s * NS)).label("bucket")
    served = func.coalesce(spans.c.response_model, spans.c.request_model)
    query = (
        select(
            spans.c.tenant,
            spans.c.agent,
            spans.c.request_model,
            served.label("served"),
            bucket,
            func.count().label("calls"),
            func.min(spans.c.start_ns).label("first_ns"),
            func.max(spans.c.start_ns).label("last_ns"),
            func.avg(func.coalesce(spans.c.cost_usd, 0.0)).label("cost"),
            func.avg(func.coalesce(spans.c.input_tokens, 0)).label("input_tokens"),
            func.avg(_duration_ms).label("ms"),
            func.max(spans.c.trace_id).label("trace_id"),
            func.max(spans.c.span_id).label("span_id"),
        )
        .where(*w.span_filter(), _is_model, spans.c.agent.is_not(None), spans.c.request_model.is_not(None))
        .group_by(spans.c.tenant, spans.c.agent, spans.c.request_model, served, bucket)
    )
    return _rows(conn, query)


_confidence = spans.c.attributes[k.CONFIDENCE].as_float()


def confidence_samples(conn: Connection, w: Window) -> list[Any]:
    """Every recorded confidence score, with its step (tool name, else span name)."""
    step = func.coalesce(spans.c.tool_name, spans.c.name)
    query = select(
        spans.c.tenant,
        spans.c.agent,
        step.label("step"),
        spans.c.trace_id,
        spans.c.span_id,
        spans.c.start_ns,
        _confidence.label("score"),
    ).where(*w.span_filter(), spans.c.agent.is_not(None), _confidence.is_not(None))
    return _rows(conn, query)


def refused_calls(conn: Connection, w: Window) -> list[Any]:
    """Tool spans the guard blocked or sent to a human, with their (redacted) arguments."""
    query = select(
        spans.c.tenant,
        spans.c.agent,
        spans.c.tool_name,
        spans.c.rules,
        spans.c.verdict,
        _arguments.label("args"),
        spans.c.start_ns,
        spans.c.trace_id,
        spans.c.span_id,
        spans.c.decision_id,
    ).where(*w.span_filter(), spans.c.verdict.in_(("block", "ask")), spans.c.agent.is_not(None))
    return _rows(conn, query)


def decided_approvals(conn: Connection, w: Window) -> list[Any]:
    query = select(
        approvals.c.tenant,
        approvals.c.agent,
        approvals.c.tool,
        approvals.c.rules,
        approvals.c.status,
        approvals.c.decided_at,
        approvals.c.decision_id,
        approvals.c.run,
        approvals.c.id,
    ).where(
        approvals.c.status.in_(("approved", "denied")),
        approvals.c.decided_at >= w.since,
        approvals.c.decided_at < w.until,
    )
    if w.tenant is not None:
        query = query.where(approvals.c.tenant == w.tenant)
    if w.agent is not None:
        query = query.where(approvals.c.agent == w.agent)
    return _rows(conn, query)


def failure_labels(conn: Connection, w: Window) -> dict[str, int]:
    """trace_id -> 1 (labelled failure) or 0 (labelled ok), for runs in the window."""
    from railguard.diagnose._tables import labels

    query = (
        select(labels.c.trace_id, func.max(case((labels.c.label == "failure", 1), else_=0)))
        .select_from(labels.join(runs, runs.c.trace_id == labels.c.trace_id))
        .where(*w.run_filter(), labels.c.tenant == func.coalesce(runs.c.tenant, ""))
        .group_by(labels.c.trace_id)
    )
    return {trace_id: int(failed) for trace_id, failed in conn.execute(query)}


def active_agents(conn: Connection, since: float, tenant: str | None) -> list[tuple[str, str]]:
    """(tenant, agent) pairs with runs that started at or after `since` (for incremental runs)."""
    query = select(runs.c.tenant, runs.c.agent).where(
        runs.c.start_ns >= int(since * NS), runs.c.agent.is_not(None)
    )
    if tenant is not None:
        query = query.where(runs.c.tenant == tenant)
    return sorted({(t or "", a) for t, a in conn.execute(query.distinct())})


def first_seen_versions(conn: Connection, w: Window) -> Sequence[Any]:
    query = (
        select(runs.c.tenant, runs.c.agent, runs.c.agent_version, func.min(runs.c.start_ns).label("first_ns"))
        .where(*w.run_filter(), runs.c.agent.is_not(None), runs.c.agent_version.is_not(None))
        .group_by(runs.c.tenant, runs.c.agent, runs.c.agent_version)
    )
    return _rows(conn, query)


def spans_revision() -> Any:
    """The policy revision that decided a step (a JSON attribute)."""
    return spans.c.attributes[k.POLICY_REVISION].as_string()


def failed_runs(conn: Connection, w: Window) -> set[str]:
    """Runs whose root span (the agent's own outcome) ended in an error. A run's error count also
    counts every tool call that failed and was retried; the root says whether the run itself failed."""
    query = select(spans.c.trace_id).where(
        *w.span_filter(), spans.c.parent_span_id.is_(None), spans.c.status == "error"
    )
    return {trace_id for (trace_id,) in conn.execute(query)}


def run_revisions(conn: Connection, w: Window) -> dict[str, str]:
    """trace_id -> the policy revision that decided its steps (the highest, if several)."""
    revision = spans_revision()
    query = (
        select(spans.c.trace_id, func.max(revision))
        .where(*w.span_filter(), spans.c.decision_id.is_not(None), revision.is_not(None))
        .group_by(spans.c.trace_id)
    )
    return {trace_id: str(value) for trace_id, value in conn.execute(query) if value}
