"""Run the heuristic signal table over normalized text: one RE2 set pass says which patterns
match, then only those are searched again for their positions. Leetspeak and base64 are looked
through when the text shows a hint of them, so the common case pays for one pass."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import cache

import re2

from railguard.detect.injection import _patterns
from railguard.detect.injection._normalize import normalize, unleet

_MAX_SPANS_PER_PATTERN = 4
_MAX_BLOBS = 8
_MIN_PRINTABLE_RATIO = 0.9


@dataclass(frozen=True, slots=True)
class Hit:
    """One signal occurrence in normalized-text coordinates."""

    signal: str
    confidence: float
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Compiled:
    searcher: re2.Set
    patterns: tuple[re2._Regexp, ...]
    leet_hint: re2._Regexp
    base64_blob: re2._Regexp


@cache
def _compiled() -> _Compiled:
    options = re2.Options()
    options.max_mem = 64 << 20  # the combined set DFA needs more than the 8 MB default
    searcher = re2.Set.SearchSet(options)
    patterns = []
    for _, _, pattern in _patterns.SIGNALS:
        searcher.Add(pattern)
        patterns.append(re2.compile(pattern, options))
    searcher.Compile()
    return _Compiled(
        searcher=searcher,
        patterns=tuple(patterns),
        # A word with two leet digits/symbols around letters ("1gn0re", "pr3v10us"); one alone is
        # too common in ordinary text ("x1y", "2fa") to pay for a second scan.
        leet_hint=re2.compile(r"\b[a-z]*[013457@$][a-z]+[013457@$]"),
        base64_blob=re2.compile(r"[A-Za-z0-9+/]{24,}={0,2}"),
    )


def scan(normalized: str) -> list[Hit]:
    """All signal hits in `normalized` (lowercase, folded text), in its coordinates."""
    compiled = _compiled()
    # The binding encodes a str to UTF-8 on every call: encode once for the passes that only ask
    # whether something matches (the common case on clean text is no match at all).
    data = normalized.encode("utf-8")
    hits = _scan_text(compiled, normalized, data)
    if compiled.leet_hint.search(data):
        seen = {(h.signal, h.start) for h in hits}
        hits.extend(h for h in _scan_text(compiled, unleet(normalized)) if (h.signal, h.start) not in seen)
    return hits


def _scan_text(compiled: _Compiled, text: str, data: bytes | None = None) -> list[Hit]:
    matched = compiled.searcher.Match(text.encode("utf-8") if data is None else data)
    if not matched:
        return []
    hits: list[Hit] = []
    for index in sorted(matched):
        signal, confidence, _ = _patterns.SIGNALS[index]
        for count, match in enumerate(compiled.patterns[index].finditer(text)):
            if count == _MAX_SPANS_PER_PATTERN:
                break
            hits.append(Hit(signal, confidence, match.start(), match.end()))
    return hits


def scan_encoded(original: str) -> list[Hit]:
    """Decode base64-looking blobs of the ORIGINAL text (lowercasing destroys them); a blob whose
    plain text carries signals is itself a signal. Hits are in original-text coordinates."""
    compiled = _compiled()
    try:
        data = original.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the search on the text below, as before
        data = None
    if data is not None and not compiled.base64_blob.search(data):
        return []  # the common case, answered on bytes (character offsets are not needed)
    hits: list[Hit] = []
    for count, match in enumerate(compiled.base64_blob.finditer(original)):
        if count == _MAX_BLOBS:
            break
        start, end = match.start(), match.end()
        decoded = _decode_base64(original[start:end])
        if decoded is None:
            continue
        inner = _scan_text(compiled, normalize(decoded).text)
        if inner:
            hits.append(Hit(_patterns.ENCODED, _patterns.ENCODED_CONFIDENCE, start, end))
            hits.extend(Hit(h.signal, h.confidence, start, end) for h in inner)
    return hits


def _decode_base64(blob: str) -> str | None:
    padded = blob + "=" * (-len(blob) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    if not text or printable / len(text) < _MIN_PRINTABLE_RATIO:
        return None
    return text
