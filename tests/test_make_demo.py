"""`make demo` on a fresh clone: says what it is doing, shows pip's progress, and installs the extras
the README's next commands need (`railguard serve`, `railguard mcp-proxy`). Checked with make's dry
run against a virtualenv path that does not exist, so nothing is installed here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_installs_the_readme_extras_with_visible_progress(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    planned = subprocess.run(  # -s: no "Entering directory" lines
        ["make", "-s", "-n", "-C", str(REPO), "demo", f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    install = next(line for line in planned if "pip install" in line and "-e" in line)
    assert '".[server,mcp]"' in install  # serve and mcp-proxy, used right after the demo in the README
    assert " -q" not in install  # the slow step shows its progress
    assert any(line.startswith("echo") and "Installing Railguard" in line for line in planned)
    assert planned[-1] == f"{venv}/bin/railguard demo"
    assert planned[-2].startswith("echo") and "Running the demo" in planned[-2]
    upgrade = next(line for line in planned if "--upgrade pip" in line)
    assert " -q" not in upgrade  # no silent step: each says what it does and shows pip's progress
    assert all(
        planned[i - 1].startswith("echo")
        for i, line in enumerate(planned)
        if "pip install" in line or "-m venv" in line
    )
