"""railguard._limits.parse_json: its shortcuts refuse exactly what the full checks refuse."""

from __future__ import annotations

import json

import pytest

from railguard._limits import MAX_JSON_DEPTH, LimitExceeded, parse_json


@pytest.mark.parametrize("as_bytes", [True, False])
def test_a_lone_surrogate_from_an_escape_is_refused(as_bytes: bool) -> None:
    text = '{"tool": "Bash", "args": {"command": "ls \\ud800"}}'
    with pytest.raises(LimitExceeded, match="surrogate"):
        parse_json(text.encode() if as_bytes else text)


def test_a_lone_surrogate_in_text_given_as_str_is_refused() -> None:
    with pytest.raises(LimitExceeded, match="surrogate"):
        parse_json('{"k\ud800": 1}')


def test_a_surrogate_pair_escape_is_text() -> None:
    assert parse_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


def test_depth_is_bounded_whatever_the_bracket_count() -> None:
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(LimitExceeded, match="deeper"):
        parse_json(deep)
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    wide = json.dumps([[1]] * 500)  # many openers, depth 2
    assert len(parse_json(wide.encode())) == 500
    quoted = json.dumps({"s": "[" * 1000})  # brackets inside a string do not nest
    assert parse_json(quoted) == {"s": "[" * 1000}
