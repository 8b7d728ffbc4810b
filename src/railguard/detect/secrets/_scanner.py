"""One-pass multi-pattern scanning shared by the secret and PII detectors.

Stage 1 asks a multi-pattern engine *which* rules match anywhere in the text (one linear pass; most
text matches none, so this is the whole cost of clean text). Stage 2 runs only those rules' own
RE2 regexes to get the spans and hands each span to the rule's validator (checksums, placeholder
and entropy checks). Both stages are linear-time: RE2 and Hyperscan never backtrack.

Text is encoded to UTF-8 once per scan: the google-re2 wrapper re-encodes a `str` on every call,
which costs more than the match itself on large inputs.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import re2

from railguard.detect._re2_search import span_searcher, without_surrogates
from railguard.model import Finding

# A validator gets the original text and a candidate span (character offsets) and returns the span
# to report (possibly trimmed) or None to drop the candidate.
Validator = Callable[[str, int, int], "tuple[int, int] | None"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A detection rule. `pattern` is RE2 syntax (also valid for Hyperscan); when it has a capture
    group, group 1 is the sensitive part (e.g. the password inside a URL)."""

    kind: str
    pattern: str
    validate: Validator | None = None
    confidence: float = 0.9
    priority: int = 50  # wins overlaps against lower priorities
    # A cheaper pattern for stage 1 that matches wherever `pattern` does (a superset): for
    # patterns Hyperscan runs slowly, e.g. long bounded repeats before a literal.
    hint: str | None = None

    @property
    def stage1_pattern(self) -> str:
        return self.hint or self.pattern


class SetBackend(Protocol):
    """Answers which rule indices match somewhere in `data`."""

    name: str

    def matching(self, data: bytes) -> list[int]: ...


class Re2SetBackend:
    name = "re2"

    # RE2::Set reports "no match" when its DFA runs out of memory (the Python wrapper cannot tell the
    # two apart), so give the DFA far more room than the 8 MB default needs for these ~40 patterns.
    MAX_MEM = 64 << 20

    def __init__(self, patterns: Sequence[str]) -> None:
        options = re2.Options()
        options.max_mem = self.MAX_MEM
        self._set = re2.Set.SearchSet(options)
        for pattern in patterns:
            self._set.Add(pattern)
        self._set.Compile()

    def matching(self, data: bytes) -> list[int]:
        return list(self._set.Match(data) or ())  # the wrapper returns None for no match


_LAZY_QUANTIFIER = re.compile(r"([}*+?])\?")


def _hyperscan_database(expressions: list[bytes], flags: int) -> Any:
    """The compiled database for `expressions`. Compiling the secrets scanner's few hundred patterns
    costs Hyperscan most of a second of CPU, paid by every fresh process that scans text (a `check`
    whose action carries a file's contents, the hook's in-process fallback), so a database compiled
    before for the same expressions comes from the per-user cache, serialized by Hyperscan itself.
    Hyperscan refuses to load a database serialized for another platform or version: the cache then
    compiles again and overwrites the entry."""
    import hyperscan

    from railguard._parsed_cache import cached

    def compile_database() -> Any:
        database = hyperscan.Database()
        database.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=[flags] * len(expressions),
        )
        return database

    key = b"\0".join([str(flags).encode(), *expressions])
    return cached(
        "hyperscan-block",
        key,
        (hyperscan.__file__, getattr(getattr(hyperscan, "_hs_ext", None), "__file__", "")),
        compile_database,
        encode=hyperscan.dumpb,
        decode=lambda data: hyperscan.loadb(data, hyperscan.HS_MODE_BLOCK),
    )


class HyperscanSetBackend:
    """Hyperscan in single-match mode: one report per rule at most, so no per-match Python callback
    storm on dense text. Laziness does not change *whether* a pattern matches, so lazy quantifiers
    are made greedy for Hyperscan (which does not honour them)."""

    name = "hyperscan"

    def __init__(self, patterns: Sequence[str]) -> None:
        import hyperscan

        expressions = [_LAZY_QUANTIFIER.sub(r"\1", p).encode() for p in patterns]
        self._db = _hyperscan_database(
            expressions, hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY
        )
        self._prototype = hyperscan.Scratch(self._db)
        # Hyperscan scratch space may be used by one scan at a time: each thread gets its own clone,
        # or concurrent scans (agent threads, the tracing redaction thread) fail with ScratchInUseError.
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._prototype.clone()
        return scratch

    def matching(self, data: bytes) -> list[int]:
        hits: list[int] = []

        def on_match(rule_id: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            hits.append(rule_id)

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return hits


# Non-ASCII characters RE2's `(?i)` folds onto ASCII letters (KELVIN SIGN onto k, LONG S onto s),
# in UTF-8: Hyperscan reads bytes and does not.
_FOLDED_ONTO_ASCII = (b"\xe2\x84\xaa", b"\xc5\xbf")


class Re2FirstSetBackend:
    """RE2's set first, for rule sets it runs faster than Hyperscan (measured per scanner), with the
    answers of the default backend: RE2 says "no match" both when nothing matches and when its DFA
    ran out of memory, so that answer is asked again of the default backend, and so is any text
    where RE2's Unicode case folding could match where Hyperscan does not."""

    name = "re2-first"

    def __init__(self, patterns: Sequence[str]) -> None:
        self._first = Re2SetBackend(patterns)
        self._patterns = patterns
        self._fallback: SetBackend | None = None

    def matching(self, data: bytes) -> list[int]:
        if not data:
            return []
        folded = not data.isascii() and any(char in data for char in _FOLDED_ONTO_ASCII)
        found = [] if folded else self._first.matching(data)
        if found:
            return found
        if self._fallback is None:
            self._fallback = make_backend(self._patterns)
        return self._fallback.matching(data)


BACKENDS: dict[str, Callable[[Sequence[str]], SetBackend]] = {
    "hyperscan": HyperscanSetBackend,
    "re2": Re2SetBackend,
    "re2-first": Re2FirstSetBackend,
}
# Measured in benchmarks/bench_secrets.py (see benchmarks/results/secrets.md).
DEFAULT_BACKEND_ORDER = ("hyperscan", "re2")


_BOUNDED_REPEAT = re.compile(r"\{(\d+),(\d+)\}")


def relaxed(pattern: str) -> str:
    """`pattern` with every bounded repeat `{m,n}` opened to `{m,}` (`*`, `+` for m = 0, 1): a superset
    for stage 1, which Hyperscan compiles far faster than long bounded repeats (`[^\\n]{0,200}`)."""

    def opened(match: re.Match[str]) -> str:
        low = int(match.group(1))
        return "*" if low == 0 else "+" if low == 1 else "{" + str(low) + ",}"

    return _BOUNDED_REPEAT.sub(opened, pattern)


def make_backend(patterns: Sequence[str], preferred: str | None = None) -> SetBackend:
    """The preferred backend, else the first of DEFAULT_BACKEND_ORDER that imports and compiles."""
    order = (preferred,) if preferred else DEFAULT_BACKEND_ORDER
    last_error: Exception | None = None
    for name in order:
        try:
            return BACKENDS[name](patterns)
        except ImportError as exc:  # hyperscan is optional: fall back to RE2
            last_error = exc
    raise RuntimeError(f"no multi-pattern backend available (tried {list(order)})") from last_error


def _to_utf8(text: str) -> bytes:
    return without_surrogates(text).encode("utf-8")


# UTF-8 continuation bytes: each is one byte more than the character it belongs to.
_CONTINUATION = re.compile(rb"[\x80-\xbf]")
_MAX_LISTED_CONTINUATIONS = 128


class _OffsetMap:
    """Byte offset -> character offset. Identity for ASCII. For mostly-ASCII text (an e-mail with a
    few accents or curly quotes; `extra` is len(data) - len(text), the number of continuation bytes)
    the continuation bytes are listed once and a character offset is the byte offset minus the
    continuation bytes before it. Otherwise it decodes only the bytes between the last offset asked
    for and this one (offsets mostly move forward), so a scan stays linear."""

    __slots__ = ("_byte", "_char", "_continuations", "_data", "char")

    def __init__(self, data: bytes, is_ascii: bool, extra: int | None = None) -> None:
        self._data = data
        self._byte = 0
        self._char = 0
        self._continuations = (
            [match.start() for match in _CONTINUATION.finditer(data)]
            if not is_ascii and extra is not None and extra <= _MAX_LISTED_CONTINUATIONS
            else None
        )
        # `char(byte_offset)`, chosen once: it is called twice per candidate.
        self.char: Callable[[int], int] = self._decoded
        if is_ascii:
            self.char = int
        elif self._continuations is not None:
            listed, before = self._continuations, bisect.bisect_left
            self.char = lambda byte_offset: byte_offset - before(listed, byte_offset)

    def _decoded(self, byte_offset: int) -> int:
        if byte_offset < self._byte:
            self._char -= len(self._data[byte_offset : self._byte].decode("utf-8", "replace"))
        else:
            self._char += len(self._data[self._byte : byte_offset].decode("utf-8", "replace"))
        self._byte = byte_offset
        return self._char


_MAX_RETRY_SPAN = 256
_ZERO_WIDTH_EDGE = re.compile(r"^(?:\(\?[a-zA-Z]+\))*(?:\\b)?")


def whole_match_group(pattern: str) -> str | None:
    """`pattern` with its group made non-capturing when that group is the whole match (the pattern
    is `(...)` with at most leading flags and `\b` and a trailing `\b`, all zero-width), else None.
    Such a group's span is always the match's span, and RE2 finds a match without captures faster
    (no submatch pass): the search gives the same spans either way."""
    head = _ZERO_WIDTH_EDGE.match(pattern)
    start = head.end() if head is not None else 0
    if pattern[start : start + 1] != "(" or pattern[start + 1 : start + 2] == "?":
        return None
    close = _closing_paren(pattern, start)
    if close is None or pattern[close + 1 :] not in ("", "\\b"):
        return None
    return f"{pattern[:start]}(?:{pattern[start + 1 :]}"


def _closing_paren(pattern: str, open_at: int) -> int | None:
    """Index of the `)` closing the `(` at `open_at` (escapes and character classes skipped)."""
    depth = 0
    index = open_at
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1 : index + 2] == "^":
                index += 1
            if pattern[index + 1 : index + 2] == "]":
                index += 1  # a literal `]` first in the class
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


class Scanner:
    """Finds candidate spans for a fixed list of rules. Compiled once; thread-safe to call."""

    def __init__(self, rules: Iterable[Rule], detector: str, backend: str | None = None) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.detector = detector
        self._regexes = [re2.compile(rule.pattern) for rule in self.rules]
        # Searched for: the pattern itself, or without its capture when that is the whole match.
        searched = [
            _whole_match_regex(rule.pattern, regex)
            for rule, regex in zip(self.rules, self._regexes, strict=True)
        ]
        self._groups = [regex.groups > 0 for regex in searched]
        self._searches = [span_searcher(regex) for regex in searched]
        self.backend: SetBackend = make_backend([r.stage1_pattern for r in self.rules], backend)

    def candidates(self, text: str) -> list[Finding]:
        """Every validated candidate span; may overlap (see `resolve_overlaps`)."""
        if not text:
            return []
        data = _to_utf8(text)
        rule_ids = self.backend.matching(data)
        if not rule_ids:
            return []
        offsets = _OffsetMap(data, len(data) == len(text), len(data) - len(text))
        char = offsets.char
        found: list[Finding] = []
        for rule_id in sorted(set(rule_ids)):
            rule = self.rules[rule_id]
            group = 1 if self._groups[rule_id] else 0
            search = self._searches[rule_id]
            pos = 0
            while (spans := search(data, pos)) is not None:
                (m_start, m_end), (b_start, b_end) = spans[0], spans[group]
                span = None
                if b_start >= 0 and b_start < b_end:
                    start, end = char(b_start), char(b_end)
                    span = rule.validate(text, start, end) if rule.validate is not None else (start, end)
                if span is not None:
                    found.append(Finding(rule.kind, span[0], span[1], self.detector, rule.confidence))
                    pos = max(m_end, m_start + 1)
                elif m_start < b_start and b_end - b_start <= _MAX_RETRY_SPAN:
                    # A rejected candidate must not hide one that starts inside it (`password_file=
                    # db_password=...`): retry from its sensitive part. Only short parts are
                    # re-read, so the total work stays linear in the text size.
                    pos = b_start
                else:
                    pos = max(m_end, m_start + 1)
        return found


def _whole_match_regex(pattern: str, regex: Any) -> Any:
    if regex.groups != 1:
        return regex
    plain = whole_match_group(pattern)
    if plain is None:
        return regex
    compiled = re2.compile(plain)
    return compiled if compiled.groups == 0 else regex


def resolve_overlaps(findings: Iterable[Finding], priority: dict[str, int]) -> list[Finding]:
    """Non-overlapping findings sorted by start: on overlap the higher-priority kind wins, then
    the longer span, then the earlier one."""
    ranked = sorted(findings, key=lambda f: (-priority.get(f.kind, 0), f.start - f.end, f.start))
    starts: list[int] = []  # kept spans, sorted by start; they never overlap each other
    kept: list[Finding] = []
    for finding in ranked:
        i = bisect.bisect_right(starts, finding.start)
        if i > 0 and kept[i - 1].end > finding.start:
            continue
        if i < len(kept) and kept[i].start < finding.end:
            continue
        starts.insert(i, finding.start)
        kept.insert(i, finding)
    return kept
