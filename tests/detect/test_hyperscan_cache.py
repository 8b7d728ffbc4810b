"""The compiled Hyperscan database of a pattern set comes from the per-user cache in a later process:
same answers as a fresh compile, no compile at all when the entry is good, a fresh compile (and a good
entry again) when it is damaged or the cache is off."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

hyperscan = pytest.importorskip("hyperscan")

# the package's `_scanner` attribute is a function of the same name: take the module itself
_scanner = importlib.import_module("railguard.detect.secrets._scanner")

PATTERNS = [
    r"sk_live_[0-9a-zA-Z]{24}",
    r"ghp_[0-9A-Za-z]{36}",
    r"(?i)password\s*=\s*\S+",
    r"\d{3}-\d{2}-\d{4}",
]
TEXTS = [
    b"key sk_live_" + b"a1B2c3D4e5F6g7H8i9J0k1L2" + b" here",
    b"token ghp_" + b"A" * 36,
    b"PASSWORD = hunter2 and 123-45-6789",
    b"nothing to see",
    b"",
]


class _NoCompile:
    """Stands in for hyperscan.Database: any attempt to compile fails the test."""

    def __init__(self) -> None:
        raise AssertionError("compiled although the cache held the database")


def _entries(directory: Path) -> list[Path]:
    return sorted((directory / "parsed").glob("hyperscan-block-*"))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAILGUARD_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_a_second_build_loads_the_database_and_answers_the_same(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = _scanner.HyperscanSetBackend(PATTERNS)
    assert len(_entries(cache)) == 1
    monkeypatch.setattr(hyperscan, "Database", _NoCompile)
    loaded = _scanner.HyperscanSetBackend(PATTERNS)
    for text in TEXTS:
        assert loaded.matching(text) == fresh.matching(text)
    assert loaded.matching(TEXTS[2]) == [2, 3]


def test_other_patterns_get_their_own_entry(cache: Path) -> None:
    _scanner.HyperscanSetBackend(PATTERNS)
    other = _scanner.HyperscanSetBackend(PATTERNS[:2])
    assert len(_entries(cache)) == 2
    assert other.matching(TEXTS[2]) == []


def test_a_damaged_entry_is_compiled_again_and_replaced(cache: Path) -> None:
    _scanner.HyperscanSetBackend(PATTERNS)
    (entry,) = _entries(cache)
    entry.write_bytes(b"\x00not a database")
    rebuilt = _scanner.HyperscanSetBackend(PATTERNS)
    assert rebuilt.matching(TEXTS[0]) == [0]
    assert entry.read_bytes() != b"\x00not a database"


def test_with_the_cache_off_every_build_compiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAILGUARD_CACHE_DIR", "")
    backend = _scanner.HyperscanSetBackend(PATTERNS)
    assert backend.matching(TEXTS[1]) == [1]
    assert not list(tmp_path.iterdir())
