"""Simulated weeks for the heartbeat tests (the week demo fleet, small)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from railguard._demo_week import DAY_S, WeekResult, run_week


@pytest.fixture(scope="session")
def _alert_weeks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, WeekResult]]:
    folder = tmp_path_factory.mktemp("alert-weeks")
    out = {}
    for name, failures in (("planted", True), ("clean", False)):
        path = folder / f"{name}.db"
        out[name] = (path, run_week(f"sqlite:///{path}", seed=21, runs_per_day=8, failures=failures))
    return out


def _copy(source: Path, tmp_path: Path) -> str:
    target = tmp_path / source.name
    shutil.copy(source, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clean_week_copy(_alert_weeks: dict[str, tuple[Path, WeekResult]], tmp_path: Path) -> tuple[str, float]:
    path, week = _alert_weeks["clean"]
    return _copy(path, tmp_path), week.start_ts + 7 * DAY_S


@pytest.fixture
def week_copy_url(_alert_weeks: dict[str, tuple[Path, WeekResult]], tmp_path: Path) -> str:
    return _copy(_alert_weeks["planted"][0], tmp_path)


@pytest.fixture
def week_end(_alert_weeks: dict[str, tuple[Path, WeekResult]]) -> float:
    _, week = _alert_weeks["planted"]
    return week.start_ts + 7 * DAY_S
