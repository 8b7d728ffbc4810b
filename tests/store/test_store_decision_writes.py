"""`Store.write_decisions` on the bare driver: events numbered per decision id in order, a re-sent
event skipped, every column and the record read back as written, values JSON's fast encoder refuses
stored all the same, and a record without a decision id refused (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from railguard.store import Store


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
