"""No poisoned batch: values PostgreSQL cannot store (NUL and lone surrogates in text, NaN and
Infinity in JSON, integers past 64 bits) are replaced the same way on SQLite and PostgreSQL, the
span says where (`railguard.sanitized`), and the other spans of the batch are all stored. Before
the fix one such span failed the whole batch on PostgreSQL (0 of 100 stored)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from store_helpers import span

from railguard.store import Store
from railguard.store._ingest import SANITIZED

POISONS: dict[str, dict[str, Any]] = {
    "nul-in-name": {"name": "tool\x00call"},
    "nul-in-attribute": {"attributes": {"gen_ai.tool.call.arguments": '{"cmd": "ls\x00"}'}},
    "nul-in-key": {"attributes": {"bad\x00key": "v"}},
    "nan": {"attributes": {"railguard.confidence": math.nan}},
    "infinity": {"attributes": {"score": math.inf, "nested": {"low": [-math.inf]}}},
    "surrogate": {"attributes": {"gen_ai.tool.name": "x\ud800y"}},
    "nul-in-event": {"events": [{"name": "log", "time_ns": 1, "attributes": {"msg": "a\x00b"}}]},
    "huge-int": {"attributes": {"n": 2**80}, "input_tokens": 2**70},
    "nan-cost": {"cost_usd": math.nan},
}


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def poisoned(kind: str, span_id: str) -> Any:
    row = span("t-poison", span_id, "root")
    changes = dict(POISONS[kind])
    if "attributes" in changes:
        changes["attributes"] = {**row.attributes, **changes["attributes"]}
    return dataclasses.replace(row, **changes)


@pytest.mark.parametrize("kind", sorted(POISONS))
def test_one_poisoned_span_never_loses_its_batch(store: Store, kind: str) -> None:
    batch = [span("t-poison", "root"), *(span("t-poison", f"s{i}", "root") for i in range(98))]
    batch.append(poisoned(kind, "bad"))
    assert store.write_spans(batch) == 100
    stored = {row.span_id: row for row in store.get_trace("t-poison", tenant=None)}
    assert len(stored) == 100
    bad = stored["bad"]
    assert bad.attributes[SANITIZED]  # says where, never what
    assert SANITIZED not in stored["s1"].attributes
    text = repr(dataclasses.asdict(bad))
    assert "\\x00" not in text and "\\ud800" not in text and "inf" not in text
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(dataclasses.asdict(bad)))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_both_backends_store_the_same_replacements(store: Store) -> None:
    row = poisoned("nul-in-name", "a")
    row = dataclasses.replace(
        row, attributes={**row.attributes, "score": math.inf, "ratio": math.nan, "k\x00": "v\ud800"}
    )
    store.write_spans(
        [span("t-same", "root"), dataclasses.replace(row, trace_id="t-same", parent_span_id="root")]
    )
    stored = next(r for r in store.get_trace("t-same", tenant=None) if r.span_id == "a")
    assert stored.name == "tool\ufffdcall"
    assert stored.attributes["score"] == "Infinity" and stored.attributes["ratio"] == "NaN"
    assert stored.attributes["k\ufffd"] == "v\ufffd"
    assert sorted(stored.attributes[SANITIZED]) == [
        "attributes",
        "attributes.k\ufffd",
        "attributes.ratio",
        "attributes.score",
        "name",
    ]


def _exact_params(row: Any) -> dict[str, Any]:
    from railguard.store._connect import json_dumps
    from railguard.store._ingest import _sanitized
    from railguard.store._span_params import JSON_FIELDS, SPAN_FIELDS

    clean = _sanitized(row)
    return {
        name: json_dumps(v) if name in JSON_FIELDS else v
        for name, v in zip(SPAN_FIELDS, (getattr(clean, n) for n in SPAN_FIELDS), strict=True)
    }


def test_the_fast_check_binds_exactly_what_the_sanitizing_path_would() -> None:
    from railguard.store._span_params import _clean_params

    row = dataclasses.replace(
        span("t-fast", "s1", "root"),
        name="résumé ✓ 🚀",
        attributes={
            "text": 'naïve 🚀 back\\slash "quoted"',
            "edge": [2**63 - 1, -(2**63), 1.5, True, None, ("a", "b")],
            "nested": {"k": [{"deep": [1, 2]}], "é": 0.1},
        },
        events=[{"name": "e", "timestamp_ns": 1, "attributes": {"x": "y"}}],
    )
    fast = _clean_params(row, {})
    assert fast is not None and fast == _exact_params(row)
    assert list(fast) == list(_exact_params(row))  # positional binding relies on the order


@pytest.mark.parametrize(
    "changes",
    [
        *({**POISONS[kind]} for kind in sorted(POISONS)),
        {"attributes": {"b": b"bytes"}},  # not a JSON type: the exact path decides
        {"attributes": {1: "int key"}},
        {"attributes": {True: "bool key"}},
        {"attributes": {"n": -(2**63) - 1}},
        {"kind": "k" * 17},  # longer than the column
        {"tenant": "t" * 129},  # the columns are checked together: each against its own length
        {"agent": "a\ud800b"},
        {"status_message": "x\x00y"},
        {"output_tokens": -(2**63) - 1},
        {"cost_usd": -math.inf},
        {"session": ["not", "a", "column", "value"]},
        {"attributes": {"flat": 1, "n": 2**63}},
        {"attributes": {"deep": _nested(70)}},
    ],
    ids=repr,
)
def test_the_fast_check_leaves_every_doubtful_row_to_the_sanitizing_path(changes: dict[str, Any]) -> None:
    from railguard.store._span_params import _clean_params

    row = dataclasses.replace(span("t-fast", "s1", "root"), **changes)
    assert _clean_params(row, {}) is None
