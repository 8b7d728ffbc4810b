"""`check` input lines, fuzzed: whatever the lines hold (actions, garbage bytes, cut-off JSON,
deep nesting, lone surrogates, blank lines), reading never raises and answers exactly one item per
non-blank line, in order, with that line's number — unless the whole input is one JSON value
spread over several lines, which is then the one item."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from railguard._jsonl import read_objects
from railguard.cli import app

from ._shapes import FUZZ, json_values

RUNNER = CliRunner()

ACTION = st.builds(
    lambda tool, args: json.dumps({"tool": tool, "args": args}).encode(),
    st.sampled_from(["shell", "write_file", "read_ticket"]),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)
LINE = st.one_of(
    ACTION,
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b"{", b"[", b"}", b"", b"   ", b'{"tool": "x",', b'"\\ud800"', b"\xff\xfe", b"null"]),
    st.sampled_from([10, 300, 3_000]).map(lambda d: b"[" * d + b"1" + b"]" * d),
)


def _single_value(lines: list[bytes]) -> bool:
    try:
        json.loads(b"\n".join(lines).decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return sum(1 for line in lines if line.strip()) > 1 and not _parses(lines[0])


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


@FUZZ
@given(st.lists(LINE, max_size=12))
def test_one_answer_per_line_in_order(lines: list[bytes]) -> None:
    items = list(read_objects(line + b"\n" for line in lines))
    expected = [n for n, line in enumerate(lines, 1) if line.strip()]
    if _single_value(lines):
        assert len(items) == 1 and items[0].error is None
        return
    assert [item.line for item in items] == expected
    for item in items:
        if item.error is not None:
            assert f"line {item.line}" in item.error


@settings(FUZZ, max_examples=25)
@given(st.lists(LINE, min_size=1, max_size=6))
def test_the_command_never_crashes_and_keeps_lines_in_step(lines: list[bytes]) -> None:
    stdin = b"".join(line + b"\n" for line in [*lines, b'{"tool": "shell", "args": {"command": "rm -rf /"}}'])
    done = RUNNER.invoke(app, ["check", "--pack", "coding-agent", "--json"], input=stdin)
    assert done.exit_code in (0, 2), done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert "Traceback" not in done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers[-1]["verdict"] == "block"  # the last line is always decided, never swallowed
    assert done.exit_code == (2 if any("error" in a for a in answers) else 0)
