"""What the CLI prints for people: help text survives Rich markup, error prefixes keep their colon,
and the demo redacts consistently and ends with a command that works."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import railguard.cli as cli_package
from railguard._demo import SCRIPT, WRAP_UP
from railguard.cli import app
from railguard.detect.redact import find_sensitive

runner = CliRunner()
CLI_DIR = Path(cli_package.__file__).parent
BRACKETED = re.compile(r"\\?\[([a-z_]+:[a-z_]+)\]")


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, group
    for name, command in getattr(group, "commands", {}).items():  # Typer vendors its own click
        yield from _commands(command, (*path, name))


def test_every_help_text_keeps_its_bracketed_words() -> None:
    """Rich markup would eat `[redacted:kind]`; each such word in a docstring must reach --help."""
    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        words = BRACKETED.findall(command.help or "")
        if not words:
            continue
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        for word in words:
            assert f"[{word}]" in result.output, (path, word)
            assert f"\\[{word}]" not in result.output
        checked += 1
    assert checked >= 1  # `railguard redact` at least


def test_redact_help_names_the_placeholder() -> None:
    result = runner.invoke(app, ["redact", "--help"], env={"COLUMNS": "200"})
    assert "Replace secrets and PII with [redacted:kind]." in result.output


def test_red_error_prefixes_end_with_a_colon_in_every_cli_module() -> None:
    prefix = re.compile(r"\[red\]([^\[\]\"{]+)\[/red\] ")
    missing = [
        f"{path.name}: {match.group(1)!r}"
        for path in sorted(CLI_DIR.glob("*.py"))
        for match in prefix.finditer(path.read_text())
        if not match.group(1).rstrip().endswith(":")
    ]
    assert missing == []


def test_an_error_message_reads_prefix_colon_detail() -> None:
    result = runner.invoke(app, ["traces", "list", "--db", "mysql://nope"])
    assert result.exit_code == 2
    assert result.output.startswith("store error: unsupported store URL")


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [*_railguard(), "demo"], cwd=folder, capture_output=True, text=True, timeout=300, env=_env(200)
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, folder


def _railguard() -> list[str]:
    import sys

    return [sys.executable, "-m", "railguard.cli"]


def _env(columns: int) -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": str(columns)}


def test_the_demo_never_shows_a_value_it_redacts_elsewhere(demo_output: tuple[str, Path]) -> None:
    text, _folder = demo_output
    script_values = [str(v) for _tool, args, _intent in [*SCRIPT, *WRAP_UP] for v in args.values()]
    sensitive = {s[f.start : f.end] for s in script_values for f in find_sensitive(s)}
    assert {"169.254.169.254", "AKIAZ3MHK2LQ7NPXV4TD", "ops@acme.example"} <= sensitive
    for value in sensitive:
        assert value not in text, f"{value!r} is redacted on one line and shown on another"
    assert "[redacted:ip_address]" in text and "[redacted:aws_access_key]" in text


def test_the_demo_ends_with_commands_that_work_from_where_it_ran(demo_output: tuple[str, Path]) -> None:
    text, folder = demo_output
    last = text.strip().splitlines()[-1]
    show = re.search(r"Next: (.+?) traces show ([0-9a-f]+) \(this run\)", text.replace("\n", " "))
    assert show is not None, last
    command = [*shlex.split(show.group(1)), "traces", "show", show.group(2)]
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "invoke_agent support-bot" in result.stdout


def test_policy_packs_counts_own_rules_and_names_the_included_packs() -> None:
    import yaml

    from railguard.policy import available_packs, load_policy
    from railguard.policy._loader import pack_text

    result = runner.invoke(app, ["policy", "packs"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    for name in available_packs():
        doc = yaml.safe_load(pack_text(name))
        own = sum(1 for item in doc.get("rules", []) if "rule" in item and set(item) - {"rule", "enabled"})
        total = len(load_policy(packs=[name]).rules)
        includes = sorted(i.removeprefix("pack:") for i in doc.get("include", []))
        expected = f"{own} rule{'' if own == 1 else 's'}"
        if includes:
            expected += f" + {total - own} from {', '.join(includes)}"
        assert " ".join(lines[name].split()[1:]).startswith(expected), lines[name]
