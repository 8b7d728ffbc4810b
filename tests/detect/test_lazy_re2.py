"""A rule module's patterns compile on first use, and then answer exactly as the compiled pattern does."""

from __future__ import annotations

import re2

from railguard.detect._re2_search import LazyRe2
from railguard.detect.shell import _rules_data, _rules_devbox


def test_nothing_is_compiled_until_a_pattern_is_used() -> None:
    pattern = LazyRe2(r"(?i)\bdrop\s+table\b")
    assert pattern._regex is None
    assert pattern.search("psql -c 'DROP TABLE users'") is not None
    assert pattern._regex is not None


def test_search_match_and_finditer_answer_as_re2_does() -> None:
    source = r"(?m)^\s*(\w+)=(\S*)$"
    lazy, eager = LazyRe2(source), re2.compile(source)
    text = "A=1\n  B=two\nnot an assignment\nC=\n"
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in eager.finditer(text)]
    assert lazy.search(text, 4).span() == eager.search(text, 4).span()  # type: ignore[union-attr]
    assert (lazy.match(text) is None) == (eager.match(text) is None)


def test_the_rule_modules_compile_their_patterns_lazily() -> None:
    """Every check of every command imports these modules; a command that names none of their programs
    must not pay for compiling their patterns."""
    lazies = [v for m in (_rules_data, _rules_devbox) for v in vars(m).values() if isinstance(v, LazyRe2)]
    effects = [entry[3] for entry in _rules_data._STATEMENT_EFFECTS]
    assert len(lazies) >= 15 and all(isinstance(p, LazyRe2) for p in effects)
    assert not [
        v
        for m in (_rules_data, _rules_devbox)
        for v in vars(m).values()
        if isinstance(v, type(re2.compile("x")))
    ]
