"""Untyped values for provenance: names, free text and ids matched as word sequences.

Text is normalized to its words (Unicode letters, digits and `_`, case-folded), so case, spacing
and punctuation do not matter and matches fall on word boundaries. Every output of a run is indexed
by digests of its word n-grams: all grams of 1..`PHRASE_WORDS` words (exact matching of short
values such as a hotel name or a password) and `SPAN_WORDS`-word shingles (long copied spans in a
message body). Digests are salted with the run key and never hold text; the word scan is RE2
(linear time) and bounded by `MAX_WORDS` per text.

An argument value is judged by its length in words:
- up to `PHRASE_WORDS`: the whole value is one gram, looked up exactly;
- up to `SPAN_WORDS - 1`: every `PHRASE_WORDS`-gram of it must have been seen (a chain: it can
  rarely join grams seen in different places, a documented approximation that saves memory);
- longer: tainted when any of its `SPAN_WORDS`-shingles was seen only in untrusted outputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import re2

from railguard.state._provenance_entities import MAX_SCAN_CHARS, extract_entities, text_leaves

__all__ = ["TextValue", "argument_values", "gram_keys", "words"]

PHRASE_WORDS = 3
SPAN_WORDS = 8
MAX_WORDS = 8192  # words indexed per text: bounds time and memory on a huge page
MIN_CHARS = 4  # shorter values ("13", "yes") carry too little to attribute
_WORD = re2.compile(r"[\pL\pN_]+")

# fmt: off
# Values made only of these say nothing about where they came from (booleans, filler words).
_STOPWORDS = frozenset([
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from",
    "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those", "there",
    "here", "all", "any", "some", "no", "not", "yes", "true", "false", "none", "null", "ok", "okay",
    "please", "thanks", "thank", "you", "your", "we", "our", "i", "me", "my", "he", "she", "they", "them",
    "his", "her", "their", "what", "which", "who", "when", "where", "why", "how", "do", "does", "did",
    "done", "can", "could", "will", "would", "should", "may", "might", "must", "shall", "just", "also",
    "very", "more", "most", "other", "into", "over", "under", "about", "after", "before", "then", "than",
    "so", "too", "up", "down", "out", "off", "new", "hi", "hello", "dear", "regards", "best",
])
# fmt: on


def words(text: str) -> list[str]:
    """The case-folded words of `text`, at most `MAX_WORDS`."""
    found: list[str] = _WORD.findall(text[:MAX_SCAN_CHARS].casefold())
    return found[:MAX_WORDS]


def _digest(run: str, gram: Iterable[str]) -> str:
    data = "text\x1f" + run + "\x1f" + " ".join(gram)
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


def _grams(tokens: list[str], size: int) -> Iterator[list[str]]:
    for start in range(len(tokens) - size + 1):
        yield tokens[start : start + size]


def gram_keys(run: str, tokens: list[str]) -> set[str]:
    """Digests of every gram of 1..PHRASE_WORDS words and every SPAN_WORDS-shingle of `tokens`."""
    keys = {_digest(run, gram) for size in range(1, PHRASE_WORDS + 1) for gram in _grams(tokens, size)}
    keys.update(_digest(run, gram) for gram in _grams(tokens, SPAN_WORDS))
    return keys


@dataclass(frozen=True, slots=True)
class TextValue:
    """One string argument to check. `mode`: "phrase" (keys[0] is the whole value), "chain"
    (every key must be known) or "span" (any key known only from untrusted content taints)."""

    argument: str
    word_count: int
    mode: str
    keys: tuple[str, ...]


def _worth_checking(text: str, tokens: list[str]) -> bool:
    if len(" ".join(tokens)) < MIN_CHARS:
        return False
    if all(t.isdigit() or t in _STOPWORDS for t in tokens):
        return False  # numbers are typed entities (or too short to attribute); fillers say nothing
    # A value that is one typed entity (an e-mail, a host) is the entity matcher's business.
    stripped = text.strip()
    return not any(e.end - e.start >= len(stripped) - 1 for e in extract_entities(stripped))


def argument_values(run: str, args: Any) -> list[TextValue]:
    """The string leaves of an action's arguments worth checking, with the digests to look up."""
    out: list[TextValue] = []
    for argument, text in text_leaves(args):
        tokens = words(text)
        if not tokens or not _worth_checking(text, tokens):
            continue
        count = len(tokens)
        if count <= PHRASE_WORDS:
            out.append(TextValue(argument, count, "phrase", (_digest(run, tokens),)))
        elif count < SPAN_WORDS:
            keys = tuple(dict.fromkeys(_digest(run, g) for g in _grams(tokens, PHRASE_WORDS)))
            out.append(TextValue(argument, count, "chain", keys))
        else:
            keys = tuple(dict.fromkeys(_digest(run, g) for g in _grams(tokens, SPAN_WORDS)))
            out.append(TextValue(argument, count, "span", keys))
    return out
