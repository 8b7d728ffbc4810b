"""One simulated week (the `railguard demo --week` fleet, smaller) shared by the diagnosis tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from railguard._demo_week import DAY_S, WeekResult, run_week
from railguard.diagnose import DiagnoseResult, run_detectors
from railguard.store import Store, open_store

WEEK_RUNS_PER_DAY = 10
WEEK_SEED = 11


@pytest.fixture(scope="session")
def week_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, WeekResult]:
    path: Path = tmp_path_factory.mktemp("week") / "week.db"
    url = f"sqlite:///{path}"
    result = run_week(url, seed=WEEK_SEED, runs_per_day=WEEK_RUNS_PER_DAY)
    return url, result


@pytest.fixture
def week_store(week_db: tuple[str, WeekResult]) -> Iterator[Store]:
    store = open_store(week_db[0])
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="session")
def week_diagnosis(week_db: tuple[str, WeekResult]) -> DiagnoseResult:
    """The detectors over the whole simulated week (not saved: tests of the stored findings save their own)."""
    url, result = week_db
    with open_store(url) as store:
        return run_detectors(store, since=result.start_ts, until=result.start_ts + 7 * DAY_S, save=False)


@pytest.fixture(scope="session")
def clean_week_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, WeekResult]:
    path: Path = tmp_path_factory.mktemp("clean") / "clean.db"
    url = f"sqlite:///{path}"
    return url, run_week(url, seed=WEEK_SEED + 1, runs_per_day=WEEK_RUNS_PER_DAY, failures=False)
