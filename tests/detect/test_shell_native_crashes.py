"""Inputs that crashed the native parser (a SIGSEGV would kill the agent's process, not just fail a
check). Each runs in a subprocess so a regression shows as a failed test, not a dead test run."""

from __future__ import annotations

import subprocess
import sys

import pytest

CRASHERS = [
    "{" + chr(0xE0001),
    "{" + chr(0xF0000),
    "{" + chr(0x8FFFF),
    "µÁ" + chr(0xBD6B0) + "Ç;Í" + chr(0xC9629) + "{" + chr(0xEA911) + "¯t.+Ö",
    "echo {" + chr(0xE0041) + chr(0xE0042) + "} && rm -rf /",
]


@pytest.mark.parametrize("command", CRASHERS, ids=lambda c: c.encode("unicode_escape").decode()[:24])
def test_parser_survives(command: str) -> None:
    code = (
        "import sys\n"
        "from railguard.detect.shell import analyze_command\n"
        "text = sys.stdin.read()\n"
        "for _ in range(30):\n"
        "    a = analyze_command(text + ' ' * _, workspace='/w', home='/h')\n"
        "print(a.verdict)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=command,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() in ("allow", "ask", "block")


def test_astral_characters_do_not_hide_a_dangerous_command() -> None:
    from railguard.detect.shell import analyze_command

    assert (
        analyze_command("echo {" + chr(0xE0041) + "}; rm -rf /", workspace="/w", home="/h").verdict == "block"
    )
