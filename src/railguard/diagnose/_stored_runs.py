"""Stored history as replay transcripts: what the backtest and the gate's replay read.

Each stored decision is an action (its arguments come from the decision record's `action_args`, or
from its `execute_tool` span when the record predates them); `execute_tool` spans that carry no
decision (traces ingested over OTLP from other instrumentation) are actions too. A tool span's
recorded result becomes a `tool_result` event, the user turns of `chat` spans' captured input
messages become `user` events (so provenance sees what the live engine saw) and their token and cost
usage `usage` events (so budgets count what the run spent). Events are ordered by time — an action
with a span at its span's start, so that it and its result are read on one clock; a call checked
again under the same call id (the re-check after a person answered, a retry) is one action. An
action whose arguments were never recorded is counted as skipped, never guessed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from railguard.store import Store
from railguard.store._otel_map import TOOL_OPERATION
from railguard.store._schema import decisions, spans
from railguard.trace import _keys as k

__all__ = ["HistoryAction", "StoredHistory", "read_history"]

NS = 1_000_000_000
_CHAT_OPERATIONS = ("chat", "text_completion", "generate_content")
# Event order at equal times: a user turn and a model call's usage before the action they led to;
# calls and results in the order they were read (a result right after its call, one call's result
# before the next call, which may start the instant it ended).
_ORDER = {"user": 0, "usage": 1, "action": 2, "tool_result": 2}


@dataclass(frozen=True, slots=True)
class HistoryAction:
    """What was recorded about one stored action, beside its replay event."""

    run: str
    agent: str
    tenant: str
    tool: str
    trace_id: str | None
    decision_id: str | None
    recorded: str | None  # the verdict the policy gave before any human answered; None: not decided
    human: str | None  # "approved" | "denied" when a person answered an ask
    rules: tuple[str, ...] = ()
    call_id: str | None = None

    @property
    def key(self) -> str | None:
        """What identifies the call across readings: its decision, else its run and call id."""
        return self.decision_id or (f"{self.run}\x1f{self.call_id}" if self.call_id else None)


@dataclass(slots=True)
class StoredHistory:
    """Transcript events in replay order; `actions[i]` describes the i-th action event."""

    events: list[dict[str, Any]] = field(default_factory=list)
    actions: list[HistoryAction] = field(default_factory=list)
    skipped: int = 0  # actions whose arguments were not recorded


def read_history(
    store: Store,
    *,
    since: float,
    until: float,
    tenant: str | None = None,
    agent: str | None = None,
) -> StoredHistory:
    """The stored actions of [since, until) (one tenant / agent when given) as replay events."""
    store.migrate()
    with store.read_connection() as conn:
        dq = select(decisions.c.ts, decisions.c.record).where(decisions.c.ts >= since, decisions.c.ts < until)
        if tenant is not None:
            dq = dq.where(decisions.c.tenant == tenant)
        if agent is not None:
            dq = dq.where(decisions.c.agent == agent)
        records = [(float(ts), dict(rec)) for ts, rec in conn.execute(dq.order_by(decisions.c.ts))]
        sq = select(
            spans.c.trace_id, spans.c.start_ns, spans.c.end_ns, spans.c.operation, spans.c.tool_name,
            spans.c.tool_call_id, spans.c.decision_id, spans.c.tenant, spans.c.agent, spans.c.session,
            spans.c.attributes, spans.c.input_tokens, spans.c.output_tokens, spans.c.cost_usd,
        ).where(
            spans.c.start_ns >= int(since * NS),
            spans.c.start_ns < int(until * NS),
            or_(spans.c.operation == TOOL_OPERATION, spans.c.operation.in_(_CHAT_OPERATIONS)),
        )  # fmt: skip
        if tenant is not None:
            sq = sq.where(spans.c.tenant == tenant)
        if agent is not None:
            sq = sq.where(spans.c.agent == agent)
        span_rows = conn.execute(sq.order_by(spans.c.start_ns)).all()
    return _assemble(records, span_rows)


def _assemble(records: list[tuple[float, dict[str, Any]]], span_rows: Sequence[Any]) -> StoredHistory:
    by_decision = {row.decision_id: row for row in span_rows if row.decision_id}  # the last span: its result
    started: dict[str, float] = {}  # decision id -> its first span's start
    for row in span_rows:
        if row.decision_id and row.decision_id not in started:
            started[row.decision_id] = row.start_ns / NS
    human = _human_answers(records)
    timed: list[tuple[float, int, int, dict[str, Any], HistoryAction | None]] = []
    history = StoredHistory()
    run_of_trace: dict[str, str] = {}
    seq = 0
    placed: dict[str, int] = {}  # decision id of a call with an id -> its action's place in `timed`
    for ts, record in records:
        decision_id = str(record.get("decision_id", ""))
        if decision_id.startswith("approval:"):
            continue  # a human's answer, recorded as a decision of its own: read by _human_answers
        if record.get("call_id") is not None and decision_id in placed:
            # The same call checked again (after a person approved or denied its ask, or a retry):
            # one action, replayed as first decided; a person's answer is what that event lacked.
            _answered(
                timed,
                placed[decision_id],
                human.get(str(record.get("approval_id") or "")) or _human_of(record),
            )
            continue
        span = by_decision.get(record.get("decision_id"))
        args = record.get("action_args")
        if args is None and span is not None:
            args = _json_attr(span.attributes, k.TOOL_ARGUMENTS)
        if not isinstance(args, Mapping):
            history.skipped += 1
            continue
        context = dict(record.get("context") or {})
        run = str(context.get("run") or context.get("session") or (span.trace_id if span else "") or "-")
        context["run"] = run
        if span is not None:
            run_of_trace.setdefault(span.trace_id, run)
        call_id = record.get("call_id")
        event = {"run": run, "type": "action", "tool": record["tool"], "args": dict(args), "context": context}
        if call_id is not None:
            event["id"] = str(call_id)
        meta = HistoryAction(
            run=run,
            agent=str(context.get("agent") or ""),
            tenant=str(context.get("tenant") or ""),
            tool=str(record["tool"]),
            trace_id=span.trace_id if span is not None else None,
            decision_id=str(record.get("decision_id")),
            recorded=_recorded_verdict(record),
            human=human.get(str(record.get("approval_id") or "")) or _human_of(record),
            rules=tuple(r for r in record.get("rules") or () if not str(r).startswith("approval/")),
            call_id=None if call_id is None else str(call_id),
        )
        if call_id is not None:
            placed[decision_id] = len(timed)
        timed.append((started.get(decision_id, ts), _ORDER["action"], seq, event, meta))
        seq += 1
        if span is not None:
            seq = _result_event(span, run, str(record["tool"]), call_id, timed, seq)
    for row in span_rows:
        if row.operation == TOOL_OPERATION and not row.decision_id:
            seq = _undecided_action(row, timed, seq, history, run_of_trace)
    for row in span_rows:
        if row.operation in _CHAT_OPERATIONS:
            seq = _user_turns(row, run_of_trace.get(row.trace_id, row.trace_id), timed, seq)
            seq = _usage(row, run_of_trace.get(row.trace_id, row.trace_id), timed, seq)
    timed.sort(key=lambda item: (item[0], item[1], item[2]))
    seen_user: set[tuple[str, str]] = set()
    for _ts, order, _seq, event, described in timed:
        if order == _ORDER["user"]:
            key = (event["run"], event["content"])
            if key in seen_user:  # each chat call resends the whole conversation
                continue
            seen_user.add(key)
        history.events.append(event)
        if described is not None:
            history.actions.append(described)
    return history


def _answered(
    timed: list[tuple[float, int, int, dict[str, Any], HistoryAction | None]], at: int, answer: str | None
) -> None:
    ts, order, n, event, meta = timed[at]
    if meta is not None and answer is not None and meta.human is None:
        timed[at] = (ts, order, n, event, dataclasses.replace(meta, human=answer))


def _usage(
    row: Any, run: str, timed: list[tuple[float, int, int, dict[str, Any], HistoryAction | None]], seq: int
) -> int:
    """A model call's tokens and cost, known when it ended."""
    tokens = int(row.input_tokens or 0) + int(row.output_tokens or 0)
    cost = float(row.cost_usd or 0.0)
    if not tokens and not cost:
        return seq
    context = {
        key: v for key, v in (("tenant", row.tenant), ("agent", row.agent), ("session", row.session)) if v
    }
    event = {"run": run, "type": "usage", "tokens": tokens, "cost": cost, "context": context}
    timed.append((row.end_ns / NS, _ORDER["usage"], seq, event, None))
    return seq + 1


def _undecided_action(
    row: Any,
    timed: list[tuple[float, int, int, dict[str, Any], HistoryAction | None]],
    seq: int,
    history: StoredHistory,
    run_of_trace: dict[str, str],
) -> int:
    """An `execute_tool` span with no decision on it (OTLP from other instrumentation)."""
    args = _json_attr(row.attributes, k.TOOL_ARGUMENTS)
    if not isinstance(args, Mapping) or not row.tool_name:
        history.skipped += 1
        return seq
    run = run_of_trace.setdefault(row.trace_id, row.trace_id)
    context = {"run": run, "tenant": row.tenant, "agent": row.agent, "session": row.session}
    event = {
        "run": run, "type": "action", "tool": row.tool_name, "args": dict(args),
        "context": {key: v for key, v in context.items() if v},
    }  # fmt: skip
    if row.tool_call_id:
        event["id"] = str(row.tool_call_id)
    meta = HistoryAction(
        run=run, agent=row.agent or "", tenant=row.tenant or "", tool=row.tool_name, trace_id=row.trace_id,
        decision_id=None, recorded=None, human=None, call_id=str(row.tool_call_id) if row.tool_call_id else None,
    )  # fmt: skip
    timed.append((row.start_ns / NS, _ORDER["action"], seq, event, meta))
    return _result_event(row, run, row.tool_name, row.tool_call_id, timed, seq + 1)


def _result_event(
    span: Any,
    run: str,
    tool: str,
    call_id: Any,
    timed: list[tuple[float, int, int, dict[str, Any], HistoryAction | None]],
    seq: int,
) -> int:
    attributes = span.attributes or {}
    if k.TOOL_RESULT not in attributes:
        return seq
    event: dict[str, Any] = {
        "run": run,
        "type": "tool_result",
        "tool": tool,
        "content": attributes[k.TOOL_RESULT],
    }
    if call_id is not None:
        event["id"] = str(call_id)
    timed.append((span.end_ns / NS, _ORDER["tool_result"], seq, event, None))
    return seq + 1


def _user_turns(
    row: Any, run: str, timed: list[tuple[float, int, int, dict[str, Any], HistoryAction | None]], seq: int
) -> int:
    messages = _json_attr(row.attributes, k.INPUT_MESSAGES)
    if not isinstance(messages, list):
        return seq
    for text in _user_texts(messages):
        timed.append(
            (row.start_ns / NS, _ORDER["user"], seq, {"run": run, "type": "user", "content": text}, None)
        )
        seq += 1
    return seq


def _user_texts(messages: list[Any]) -> Iterator[str]:
    """The text of the user messages (plain strings or lists of text parts)."""
    for message in messages:
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content", message.get("parts"))
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            parts = [str(p.get("content") or p.get("text") or "") for p in content if isinstance(p, Mapping)]
            text = "\n".join(p for p in parts if p)
            if text:
                yield text


def _json_attr(attributes: Mapping[str, Any] | None, key: str) -> Any:
    value = (attributes or {}).get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _recorded_verdict(record: Mapping[str, Any]) -> str:
    """The verdict before any human answered: an answered ask was an ask."""
    if record.get("approval_id") or any(
        str(h.get("rule", "")).startswith("approval/") for h in record.get("hits") or ()
    ):
        return "ask"
    return str(record.get("verdict"))


def _human_of(record: Mapping[str, Any]) -> str | None:
    rules = [str(h.get("rule", "")) for h in record.get("hits") or ()]
    if "approval/denied" in rules:
        return "denied"
    if "approval/approved" in rules or (record.get("approval_id") and record.get("verdict") == "allow"):
        return "approved"
    if record.get("approval_id") and record.get("verdict") == "block":
        return "denied"
    return None


def _human_answers(records: list[tuple[float, dict[str, Any]]]) -> dict[str, str]:
    """approval id -> "approved" / "denied", from the approvals' own decision records."""
    out: dict[str, str] = {}
    for _ts, record in records:
        approval_id = record.get("approval_id")
        if approval_id and str(record.get("decision_id", "")).startswith("approval:"):
            answer = _human_of(record)
            if answer is not None:
                out[str(approval_id)] = answer
    return out
