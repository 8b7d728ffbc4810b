"""The parsed-data cache gives back what the parser gave, is keyed by the text and the parsing code,
survives a damaged or unwritable cache by parsing again, and can be turned off."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from railguard import _parsed_cache as pc
from railguard.policy._yaml import load_yaml


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAILGUARD_CACHE_DIR", str(tmp_path))
    return tmp_path / "parsed"


class Parser:
    def __init__(self, value: object) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_a_second_parse_of_the_same_text_comes_from_the_cache(cache: Path) -> None:
    parse = Parser({"a": [1, 2.5, None, True, "x"]})
    first = pc.cached("k", b"text", (), parse)
    second = pc.cached("k", b"text", (), parse)
    assert first == second == {"a": [1, 2.5, None, True, "x"]}
    assert parse.calls == 1
    assert pc.cached("k", b"other text", (), parse) == first and parse.calls == 2  # another text: parsed
    assert pc.cached("other kind", b"text", (), parse) == first and parse.calls == 3


def test_editing_the_parsing_code_invalidates_its_entries(cache: Path, tmp_path: Path) -> None:
    code = tmp_path / "parser.py"
    code.write_text("v1")
    parse = Parser([1])
    pc.cached("k", b"text", (str(code),), parse)
    pc.cached("k", b"text", (str(code),), parse)
    assert parse.calls == 1
    code.write_text("version 2")
    pc.cached("k", b"text", (str(code),), parse)
    assert parse.calls == 2


def test_a_damaged_entry_is_parsed_again_and_rewritten(cache: Path) -> None:
    parse = Parser({"k": "v"})
    pc.cached("k", b"text", (), parse)
    entry = pc.entry_path("k", b"text", ())
    assert entry is not None and entry.exists()
    entry.write_bytes(b"\x00garbage")
    assert pc.cached("k", b"text", (), parse) == {"k": "v"}
    assert pc.cached("k", b"text", (), parse) == {"k": "v"}
    assert parse.calls == 2


def test_a_value_marshal_cannot_store_is_parsed_every_time(cache: Path) -> None:
    parse = Parser({"when": dt.date(2026, 1, 1)})
    assert pc.cached("k", b"text", (), parse) == {"when": dt.date(2026, 1, 1)}
    assert pc.cached("k", b"text", (), parse) == {"when": dt.date(2026, 1, 1)}
    assert parse.calls == 2


def test_an_unwritable_cache_directory_only_costs_a_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("RAILGUARD_CACHE_DIR", str(blocker))
    parse = Parser([1])
    assert pc.cached("k", b"text", (), parse) == [1]
    assert pc.cached("k", b"text", (), parse) == [1]
    assert parse.calls == 2


def test_an_empty_cache_dir_setting_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAILGUARD_CACHE_DIR", "")
    assert pc.cache_dir() is None
    parse = Parser([1])
    pc.cached("k", b"text", (), parse)
    pc.cached("k", b"text", (), parse)
    assert parse.calls == 2


def test_the_cache_directory_is_private_to_the_user(cache: Path) -> None:
    pc.cached("k", b"text", (), Parser([1]))
    assert cache.stat().st_mode & 0o077 == 0


def test_a_cached_policy_keeps_every_line_number(cache: Path) -> None:
    text = (
        "name: p\nrules:\n  - rule: a\n    when: 'true'\n    verdict: block\n  - rule: b\n    verdict: ask\n"
    )
    fresh = load_yaml(text, "p.yaml")
    cached = load_yaml(text, "p.yaml")
    assert cached == fresh
    assert cached is not fresh
    assert (cached.line, cached.key_lines) == (fresh.line, fresh.key_lines) == (1, {"name": 1, "rules": 2})
    assert cached["rules"].line == 3
    assert [r.key_lines for r in cached["rules"]] == [
        {"rule": 3, "when": 4, "verdict": 5},
        {"rule": 6, "verdict": 7},
    ]


def test_the_built_in_digests_are_hashlibs() -> None:
    import hashlib

    from railguard._digest import blake2b, sha256

    data = b"railguard \x00\xff" * 50
    assert blake2b(data, digest_size=20).hexdigest() == hashlib.blake2b(data, digest_size=20).hexdigest()
    assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
