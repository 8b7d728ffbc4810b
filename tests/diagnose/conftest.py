"""One simulated week (the `railguard demo --week` fleet, smaller) shared by the diagnosis tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from railguard._demo_week import WeekResult, run_week
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
