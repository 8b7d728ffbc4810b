"""Running `railguard ...` in the test process (Typer's CliRunner): the same commands, options and
exit codes as the console script, without a Python start-up per call. One test per file still goes
through the real console entry (`rg_process`)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from typer.testing import CliRunner

from railguard.cli import app


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def rg(*args: str, stdin: str = "") -> Ran:
    # Wide enough that Rich never wraps a line the tests read.
    result = CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def rg_process(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "railguard.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
