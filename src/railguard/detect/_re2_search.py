"""Searching a compiled RE2 regex from Python with the least overhead per match."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import re2

__all__ = ["LazyRe2", "Search", "match_tester", "span_searcher", "without_surrogates"]

_NO_MATCH = (-1, -1)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNANCHORED = getattr(getattr(getattr(re2, "_re2", None), "RE2", None), "Anchor", None)


Search = Callable[[bytes, int], "Sequence[tuple[int, int]] | None"]


def span_searcher(regex: Any) -> Search:
    """A function giving the byte spans of `regex`'s first match at or after `pos` (group 0, then
    each group), or None. It calls the binding's compiled RE2 directly when the binding exposes it:
    `regex.search` builds a generator and a match object per call, which costs more than the search
    itself on text with many candidates. Same search, same spans (this is what `search` does with
    bytes). Made once per rule, so a call looks nothing up."""
    compiled = getattr(regex, "_regexp", None)
    if compiled is None or _UNANCHORED is None:
        groups = regex.groups + 1

        def search_python(data: bytes, pos: int) -> Sequence[tuple[int, int]] | None:
            match = regex.search(data, min(pos, len(data)))
            return None if match is None else [match.span(i) for i in range(groups)]

        return search_python
    match_re2 = compiled.Match
    unanchored = _UNANCHORED.UNANCHORED

    def search(data: bytes, pos: int) -> Sequence[tuple[int, int]] | None:
        size = len(data)
        spans: Sequence[tuple[int, int]] = match_re2(unanchored, data, min(pos, size), size)
        return None if spans[0] == _NO_MATCH else spans

    return search


def match_tester(regex: Any, *, whole: bool) -> Callable[[str], bool]:
    """Whether `regex` matches at the start of a text (`whole`: the whole text): the answer of
    `regex.match(text) is not None` (`fullmatch`), without the generator, offset table and match
    object the binding builds per call, for ASCII text (its bytes are its characters). Other text
    takes the binding's own path. For tests called once or more per command on short words."""
    slow = regex.fullmatch if whole else regex.match
    compiled = getattr(regex, "_regexp", None)
    if compiled is None or _UNANCHORED is None:
        return lambda text: slow(text) is not None
    match_re2 = compiled.Match
    anchor = _UNANCHORED.ANCHOR_BOTH if whole else _UNANCHORED.ANCHOR_START

    def test(text: str) -> bool:
        if not text.isascii():
            return slow(text) is not None
        data = text.encode("ascii")
        spans: Sequence[tuple[int, int]] = match_re2(anchor, data, 0, len(data))
        return spans[0] != _NO_MATCH

    return test


def without_surrogates(text: str) -> str:
    """`text` as RE2 can take it: a lone UTF-16 surrogate (valid in JSON, not in UTF-8) becomes U+FFFD,
    one character for one, so offsets into the text stay those of the original. Free for ASCII text."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


class LazyRe2:
    """An RE2 pattern compiled on its first use. A rule module loads with every check, while most of its
    patterns are read only when a command names their program: compiling them all at import cost every
    `railguard check` process several milliseconds. Two threads may both compile it once; either result is
    the same pattern."""

    __slots__ = ("_regex", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._regex: Any = None

    def _compiled(self) -> Any:
        regex = self._regex
        if regex is None:
            regex = self._regex = re2.compile(self.source)
        return regex

    def search(self, text: str, *bounds: int) -> Any:
        return self._compiled().search(text, *bounds)

    def match(self, text: str, *bounds: int) -> Any:
        return self._compiled().match(text, *bounds)

    def finditer(self, text: str, *bounds: int) -> Any:
        return self._compiled().finditer(text, *bounds)

    def fullmatch(self, text: str, *bounds: int) -> Any:
        return self._compiled().fullmatch(text, *bounds)

    def sub(self, replacement: Any, text: str) -> str:
        return str(self._compiled().sub(replacement, text))
