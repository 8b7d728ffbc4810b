"""`Store.write_decisions` on the bare driver: events numbered per decision id in order, a re-sent
event skipped, every column and the record read back as written, values JSON's fast encoder refuses
stored all the same, and a record without a decision id refused (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from railguard.store import Store
from railguard.store._decision_writes import decision_row


def _record(decision_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "decision_id": decision_id,
        "event_id": uuid.uuid4().hex,
        "timestamp": 1_700_000_000.5,
        "tool": "bash",
        "verdict": "block",
        "would_verdict": "block",
        "mode": "enforce",
        "severity": "high",
        "rules": ["shell/rm", "shell/root"],
        "policy_revision": "r3",
        "context": {"tenant": "acme", "session": "s1", "agent": "bot", "run": "run-1"},
        **extra,
    }


def _events(store: Store, decision_id: str) -> list[dict[str, Any]]:
    rows = store.list_decisions(tenant="acme", limit=100)
    return sorted((r for r in rows if r["decision_id"] == decision_id), key=lambda r: r["seq"])


def test_events_are_numbered_per_decision_and_a_resent_batch_is_skipped(store: Store) -> None:
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    batch = [_record(first), _record(second), _record(first, verdict="allow")]
    assert store.write_decisions(batch) == 3
    assert store.write_decisions(batch) == 0  # the writer's retry after a failed acknowledgement
    assert store.write_decisions([_record(first)]) == 1
    events = _events(store, first)
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert [e["verdict"] for e in events] == ["block", "allow", "block"]
    assert [e["event_id"] for e in events[:2]] == [batch[0]["event_id"], batch[2]["event_id"]]
    assert [e["seq"] for e in _events(store, second)] == [1]


def test_columns_and_record_read_back_as_written(store: Store) -> None:
    decision_id = uuid.uuid4().hex
    record = _record(decision_id, reason="rm -rf / — refusé", args={"n": 3, "f": 0.25, "ok": True})
    store.write_decisions([record])
    (stored,) = _events(store, decision_id)
    assert stored["rules"] == ["shell/rm", "shell/root"]
    assert stored["reason"] == "rm -rf / — refusé"
    assert stored["args"] == {"n": 3, "f": 0.25, "ok": True}
    assert stored["context"]["run"] == "run-1"
    page = store.list_decisions(tenant="acme", rule="shell/root", limit=10)
    assert decision_id in {r["decision_id"] for r in page}


def test_values_the_fast_encoder_refuses_are_stored_too(store: Store) -> None:
    decision_id = uuid.uuid4().hex
    store.write_decisions([_record(decision_id, args={"big": 2**70, 7: "int key"})])
    (stored,) = _events(store, decision_id)
    assert stored["args"] == {"big": 2**70, "7": "int key"}


def test_a_record_without_decision_id_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="decision_id"):
        store.write_decisions([{"verdict": "allow"}])


def test_rows_made_ahead_store_as_their_records_do(store: Store) -> None:
    """What a server's writer queues (`decision_row`, made in the submitting thread) is stored as the
    record itself would be: same columns, same record, same numbering, a re-sent row skipped."""
    by_record, by_row = uuid.uuid4().hex, uuid.uuid4().hex
    reason = "rm -rf / — refusé"
    store.write_decisions([_record(by_record, reason=reason), _record(by_record, verdict="allow")])
    rows = [decision_row(_record(by_row, reason=reason)), decision_row(_record(by_row, verdict="allow"))]
    assert store.write_decisions(rows) == 2
    assert store.write_decisions(rows) == 0  # a batch retried after a failed write
    assert store.write_decisions([rows[0], _record(by_row)]) == 1  # mixed in one batch

    def comparable(event: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in event.items() if k not in ("decision_id", "event_id")}

    expected = [comparable(e) for e in _events(store, by_record)]
    got = [comparable(e) for e in _events(store, by_row)]
    assert got[:2] == expected
    assert [e["seq"] for e in got] == [1, 2, 3]
