"""Appending decision events on the bare driver connection (`DriverTx`).

Every guard decision the server answers is recorded, so this runs once per decision: through
SQLAlchemy (statement compiled per batch, a type processor and `json.dumps` per value) it cost more
CPU than the check it records. Here the statements are fixed text, the row is a tuple and the
record is encoded once with orjson. Semantics are `_ingest.insert_decision_events`' as they were: a
stored `event_id` is skipped (a batch retried after a failed write), each new event gets the next
`seq` of its decision id, and a concurrent writer numbering the same decision is a
`ConcurrentDuplicate` (the caller retries).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from railguard.store._connect import DriverTx, json_dumps
from railguard.store._ingest import ConcurrentDuplicate

_COLUMNS = (
    "event_id", "decision_id", "seq", "ts", "tenant", "session", "agent", "run", "tool", "verdict",
    "would_verdict", "mode", "severity", "rules", "policy_revision", "trace_id", "span_id", "record",
)  # fmt: skip
_SEQ = _COLUMNS.index("seq")

# A record as its insert's parameters (`decision_row`): what a writer queues to hold no nested
# containers (one list for the garbage collector to track, not a dozen) and encode nothing later.
DecisionRow = list[Any]
_KEY_CHUNK = 400  # bound parameters per lookup, well under SQLite's limit


def insert_decision_events(tx: DriverTx, records: Iterable[Mapping[str, Any] | DecisionRow]) -> int:
    """Append decision events (records, or rows made by `decision_row`) in `tx`; returns how many
    were new."""
    rows = {row[0]: row for row in map(_as_row, records)}  # a repeat in one batch counts once
    if not rows:
        return 0
    stored = _existing_event_ids(tx, sorted(rows))
    new_rows = [row for event_id, row in rows.items() if event_id not in stored]
    if not new_rows:
        return 0
    next_seq = _max_seq(tx, sorted({row[1] for row in new_rows}))
    for row in new_rows:
        next_seq[row[1]] = row[_SEQ] = next_seq.get(row[1], 0) + 1
    mark = tx.mark
    record_mark = mark if tx.dialect == "sqlite" else f"CAST({mark} AS jsonb)"
    marks = ", ".join([mark] * (len(_COLUMNS) - 1) + [record_mark])
    columns = ", ".join(f'"{c}"' for c in _COLUMNS)
    try:
        tx.many(f"INSERT INTO decisions ({columns}) VALUES ({marks})", new_rows)
    except tx.integrity_error as exc:
        # Another writer numbered an event of the same decision (or stored the same event) first.
        raise ConcurrentDuplicate(str(exc).strip().splitlines()[0]) from None
    return len(new_rows)


def _existing_event_ids(tx: DriverTx, event_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(event_ids):
        marks = ", ".join([tx.mark] * len(chunk))
        found.update(
            e for (e,) in tx.rows(f"SELECT event_id FROM decisions WHERE event_id IN ({marks})", chunk)
        )
    return found


def _max_seq(tx: DriverTx, decision_ids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(decision_ids):
        marks = ", ".join([tx.mark] * len(chunk))
        sql = (
            f"SELECT decision_id, MAX(seq) FROM decisions WHERE decision_id IN ({marks}) GROUP BY decision_id"
        )
        out.update({decision_id: int(seq) for decision_id, seq in tx.rows(sql, chunk)})
    return out


def _chunks(values: list[str]) -> Iterable[list[str]]:
    return (values[i : i + _KEY_CHUNK] for i in range(0, len(values), _KEY_CHUNK))


def _as_row(record: Mapping[str, Any] | DecisionRow) -> DecisionRow:
    return record if type(record) is list else decision_row(record)  # type: ignore[arg-type]


def decision_row(record: Mapping[str, Any]) -> DecisionRow:
    """A DecisionV1 record as its row's values (`seq` is numbered at insert)."""
    decision_id = record.get("decision_id")
    if not decision_id:
        raise ValueError("a decision record needs a 'decision_id' (see Decision.to_record())")
    # A record without an event id (not written through railguard.trace.DecisionLog) is a new event.
    event_id = record.get("event_id") or uuid.uuid4().hex
    context = record.get("context") or {}
    rules = record.get("rules") or ()
    return [
        str(event_id),
        str(decision_id),
        0,  # seq: numbered at insert
        float(record.get("timestamp") or time.time()),
        context.get("tenant"),
        context.get("session"),
        context.get("agent"),
        context.get("run"),
        str(record.get("tool") or ""),
        str(record.get("verdict") or ""),
        record.get("would_verdict"),
        record.get("mode"),
        record.get("severity"),
        rules if isinstance(rules, str) else ",".join(str(r) for r in rules),
        record.get("policy_revision"),
        record.get("trace_id"),
        record.get("span_id"),
        _encoded(record),
    ]


def _encoded(record: Mapping[str, Any]) -> str:
    """The record as the JSON column's text; what orjson refuses (a non-string key, an integer past
    64 bits, a lone surrogate) goes through the columns' general serializer, as before."""
    try:
        return orjson.dumps(record, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json_dumps(record)
