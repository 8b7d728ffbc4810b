"""Every built-in pack loads and passes its own policy unit tests (packs/<name>_test.yaml)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from railguard import available_packs, load_policy
from railguard.policy.testing import Status, run_test_file

PACKS = Path(str(resources.files("railguard.policy") / "packs"))


@pytest.mark.parametrize("pack", available_packs())
def test_pack_loads_and_has_tests(pack: str) -> None:
    policy = load_policy(packs=[pack])
    assert policy.rules, pack
    assert (PACKS / f"{pack}_test.yaml").exists(), f"pack {pack} has no unit tests"


@pytest.mark.parametrize("test_file", sorted(PACKS.glob("*_test.yaml")), ids=lambda p: p.stem)
def test_pack_unit_tests_pass(test_file: Path) -> None:
    results = run_test_file(test_file)
    failed = [f"{r.name}: {r.message}" for r in results if r.status is not Status.PASS]
    assert results and not failed
