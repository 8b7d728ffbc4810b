"""A clone without the evaluation data beside it gets a green `make test`: tests that read the data
skip with a reason saying where it was looked for, and fail instead when $CI is set (CI must never
silently stop running them) — the rule the PostgreSQL fixture follows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_TEST = "tests/detect/test_injection_training.py::test_training_script_runs_on_a_small_sample"


def _pytest(env_overrides: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in drop} | env_overrides
    return subprocess.run(
        [sys.executable, "-m", "pytest", DATA_TEST, "-rs", "-p", "no:cacheprovider"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_without_the_data_the_test_skips_with_the_reason(tmp_path: Path) -> None:
    result = _pytest({"RAILGUARD_EVAL_DATA": str(tmp_path)}, drop=("CI",))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout
    assert f"the evaluation data is not at {tmp_path}" in result.stdout


def test_without_the_data_ci_fails(tmp_path: Path) -> None:
    result = _pytest({"RAILGUARD_EVAL_DATA": str(tmp_path), "CI": "true"})
    assert result.returncode == 1, result.stdout[-2000:]
    assert "CI is set" in result.stdout
