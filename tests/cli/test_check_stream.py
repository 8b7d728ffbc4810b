"""`railguard check` streams: one input per line, one answer per input, in order. A bad line (cut
short, not UTF-8, a lone surrogate, nested too deep) answers its own error with its line number and
never hides, swallows or shifts the lines after it; the exit code is then 2. Run as a real process
fed raw bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

RM = b'{"tool": "shell", "args": {"command": "rm -rf /"}}'
LS = b'{"tool": "read_ticket", "args": {"id": 1}}'


def check(stdin: bytes, *options: str) -> tuple[int, list[dict[str, Any]], bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "railguard.cli", "check", "--pack", "coding-agent", "--json", *options],
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    assert b"Traceback" not in done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def shape(answers: list[dict[str, Any]]) -> list[str]:
    return [a["verdict"] if "verdict" in a else f"error@{a['line']}" for a in answers]


@pytest.mark.parametrize("first", [LS + b"\n", b""], ids=["after-a-good-line", "first-line"])
def test_an_unclosed_object_never_swallows_the_next_line(first: bytes) -> None:
    offset = 1 if first else 0
    code, answers, _ = check(first + b"{\n" + RM + b"\n" + LS + b"\n")
    assert code == 2
    assert shape(answers) == [*(["allow"] if first else []), f"error@{1 + offset}", "block", "allow"]


@pytest.mark.parametrize(
    "bad",
    [
        b'{"tool": "shell", "args": {"command": "ls \xff\xfe"}}',  # not UTF-8
        b'{"tool": "shell", "args": {"command": "ls \\ud800"}}',  # a lone surrogate
        b'{"tool": "shell", "args": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",  # deep
        b'{"tool": "shell", "args": {"x": ' + b"[" * 900 + b"]" * 900 + b"}}",  # deep, under json's limit
        b'{"tool": "shell", "args": {"command": "rm -rf /"}',  # cut short
    ],
    ids=["not-utf8", "lone-surrogate", "deep-100k", "deep-900", "unclosed"],
)
def test_a_bad_line_is_its_own_error_and_the_stream_goes_on(bad: bytes) -> None:
    code, answers, _ = check(LS + b"\n" + bad + b"\n" + RM + b"\n")
    assert code == 2
    assert shape(answers) == ["allow", "error@2", "block"]
    assert "line 2" in answers[1]["error"]


def test_errors_in_human_output_name_their_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "railguard.cli", "check", "--pack", "coding-agent"],
        input=b"\xff\n" + RM + b"\n",
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert b"line 1" in done.stderr and b"UTF-8" in done.stderr
    assert b"BLOCK" in done.stdout


def test_a_pretty_printed_object_counts_only_as_the_whole_input() -> None:
    pretty = b'{\n  "tool": "shell",\n  "args": {"command": "rm -rf /"}\n}\n'
    code, answers, _ = check(pretty + b"\n\n")
    assert (code, shape(answers)) == (0, ["block"])
    # Followed by anything, its lines are JSON Lines like any others: each answered on its own.
    code, answers, _ = check(pretty + LS + b"\n")
    assert code == 2
    assert shape(answers) == ["error@1", "error@2", "error@3", "error@4", "allow"]


def test_piped_human_output_is_the_line_rich_would_write() -> None:
    """Without a terminal, `check` writes its human lines itself (no Rich import); they must be the
    lines Rich writes to a pipe, whatever the reason or tool holds (markup-like brackets, emoji codes)."""
    import io

    from rich.console import Console

    import railguard as rg
    from railguard.cli._check import plain_decision, print_decision

    engine = rg.Engine.from_yaml(
        "rules:\n"
        "  - {rule: no-x, tools: ['odd?tool?'], verdict: block, message: 'never [bold]x[/bold] :x: here'}\n"
    )
    decisions = [
        engine.check("odd[tool]", {"a": 1}),
        engine.check("read_ticket", {"id": 1}),
        engine.check("shell", {"command": "ls"}),
    ]
    for decision in decisions:
        buffer = io.StringIO()
        print_decision(Console(file=buffer, highlight=False, soft_wrap=True, width=40), decision)
        assert buffer.getvalue() == plain_decision(decision) + "\n"
    assert "[bold]x[/bold] :x:" in plain_decision(decisions[0])


def test_human_output_through_a_pipe() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "railguard.cli", "check", "--pack", "coding-agent"],
        input=RM + b"\n" + LS + b"\n",
        capture_output=True,
        timeout=120,
    )
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 0 and len(lines) == 2, done.stderr
    assert lines[0].startswith("BLOCK  shell: ") and lines[1].startswith("ALLOW  read_ticket: ")
    assert "rich" not in done.stderr.decode()
