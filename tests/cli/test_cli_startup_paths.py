"""The start-up paths of the command line agree with the Typer app they stand in for: the static
command table (what `railguard --help` prints) lists exactly the app's commands with their one-line
help, and `railguard check` run as a command (its own option parser, no Typer) prints and exits
exactly as the Typer command does, for good input, bad input and every option spelling."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from railguard.cli import _table, app
from railguard.cli._check import parse_args

runner = CliRunner()


def _first_sentence(text: str) -> str:
    words = " ".join(text.split()).replace("\\[", "[")
    end = words.find(". ")
    return words if end < 0 else words[: end + 1]


def test_the_static_table_is_the_apps_command_list() -> None:
    group = typer.main.get_command(app)
    names = list(group.commands)  # type: ignore[attr-defined]
    assert [name for name, _modules, _help in _table.COMMANDS] == names
    for name, _modules, text in _table.COMMANDS:
        assert text == _first_sentence(group.commands[name].help or ""), name  # type: ignore[attr-defined]


def test_each_command_is_attached_by_the_modules_the_table_names() -> None:
    from railguard.cli._app import build

    for name, _modules, _help in _table.COMMANDS:
        assert name in typer.main.get_command(build([name])).commands, name  # type: ignore[attr-defined]


def test_help_and_no_arguments_print_the_table() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "railguard.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0
    assert "Usage: " in shown.stdout and _table.HELP in shown.stdout
    listed = re.findall(r"^  (\S+)\s", shown.stdout.split("Commands:")[1], re.M)
    assert listed == [name for name, _m, _h in _table.COMMANDS]
    bare = subprocess.run([sys.executable, "-m", "railguard.cli"], capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2  # as Click's no_args_is_help
    assert bare.stdout == shown.stdout


def test_the_fast_parser_reads_every_spelling_and_leaves_the_rest_to_typer() -> None:
    assert parse_args(
        ["--pack", "a", "--pack=b", "-p", "x.yaml", "-py.yaml", "--policy=z.yaml", "--json"]
    ) == {
        "policy": [Path("x.yaml"), Path("y.yaml"), Path("z.yaml")],
        "pack": ["a", "b"],
        "input": "-",
        "as_json": True,
        "mode": None,
        "db": None,
    }
    assert parse_args(["-iactions.jsonl", "--mode", "audit", "--db=sqlite:///x.db"]) == {
        "policy": None, "pack": None, "input": "actions.jsonl", "as_json": False, "mode": "audit",
        "db": "sqlite:///x.db",
    }  # fmt: skip
    for unhandled in (["--help"], ["--bogus"], ["--pack"], ["--json=yes"], ["stray"], ["--"], ["-x"]):
        assert parse_args(unhandled) is None, unhandled


POLICY = """
rules:
  - rule: no-prod
    tools: [deploy]
    when: args.env == "prod"
    verdict: block
    message: "no deploys to ${args.env}"
"""

STREAM = "\n".join(
    [
        json.dumps({"tool": "Bash", "args": {"command": "git status"}}),
        json.dumps({"tool": "Bash", "args": {"command": "rm -rf /"}}),
        "{not json",
        json.dumps({"tool": "deploy", "args": {"env": "prod"}}),
        json.dumps({"tool": "deploy", "args": {"env": "dev"}, "id": "c1"}),
        json.dumps({"args": {}}),
    ]
)


def _stable(text: str) -> str:
    """Latency is the one field that differs from run to run."""
    text = re.sub(r'"latency_us": [0-9.]+', '"latency_us": 0', text)
    return re.sub(r"\d+µs", "0µs", text)


@pytest.mark.parametrize(
    "args",
    [
        ["--json"],
        [],
        ["--json", "--pack", "coding-agent"],
        ["--json", "-p", "{policy}", "--mode", "audit"],
        ["-p{policy}", "--pack=default"],
        ["--json", "--input", "{missing}"],
        ["--json", "--policy", "{broken}"],
        ["--json", "--pack", "no-such-pack"],
        ["--json", "--input"],  # a missing value: Typer's error, from either entry
        ["--bogus"],
    ],
)
def test_check_as_a_command_answers_as_the_typer_command(tmp_path: Path, args: list[str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  - rule: x\n    when: args.amount >\n")
    values = {"policy": str(policy), "missing": str(tmp_path / "missing.jsonl"), "broken": str(broken)}
    argv = ["check", *(a.format(**values) for a in args)]
    direct = subprocess.run(
        [sys.executable, "-m", "railguard.cli", *argv],
        input=STREAM,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "COLUMNS": "200"},
    )
    typed = runner.invoke(app, argv, input=STREAM, env={"COLUMNS": "200"})
    assert direct.returncode == typed.exit_code, (direct.stderr, typed.stderr)
    assert _stable(direct.stdout) == _stable(typed.stdout)
    if "--bogus" in args or args[-1:] == ["--input"]:
        assert direct.returncode == 2 and direct.stderr.strip()
    else:
        assert _stable(direct.stderr) == _stable(typed.stderr)
