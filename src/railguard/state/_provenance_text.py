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
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from railguard.state._provenance_entities import MAX_SCAN_CHARS, extract_entities, text_leaves
from railguard.state._provenance_records import lru_entry

__all__ = ["MemoryGrams", "TextValue", "argument_values", "fast_gram_keys", "gram_keys", "words"]

PHRASE_WORDS = 3
SPAN_WORDS = 8
MAX_WORDS = 8192  # words indexed per text: bounds time and memory on a huge page
MIN_CHARS = 4  # shorter values ("13", "yes") carry too little to attribute
# Words: letters, digits and `_`. A single character class with `+` cannot backtrack, so the stdlib
# engine is linear here, and it scans in C (the RE2 binding pays a Python call per match).
_WORD = re.compile(r"\w+")

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


# The same words as `_WORD.findall` without a match object per word: a byte-table translate of the
# UTF-8 text turns every ASCII byte that is not a word character (letters, digits, `_`) into a space,
# each non-ASCII character that is not one (`\w` is exactly `str.isalnum()` or `_`) is replaced by a
# space, and a split gives the words. Bytes of multi-byte characters are all >= 0x80, so the translate
# leaves them alone. A test keeps both readings equal.
_ASCII_NON_WORD = bytes.maketrans(
    bytes(c for c in range(0x80) if not (chr(c).isalnum() or c == 0x5F)),
    b" " * sum(1 for c in range(0x80) if not (chr(c).isalnum() or c == 0x5F)),
)
_ASCII_BYTES = bytes(range(0x80))
_MAX_REPLACED = 16  # distinct non-ASCII separators replaced one by one; more: the regex


def words(text: str) -> list[str]:
    """The case-folded words of `text`, at most `MAX_WORDS`."""
    folded = text[:MAX_SCAN_CHARS].casefold()
    data = folded.encode("utf-8", "surrogatepass")
    spaced = data.translate(_ASCII_NON_WORD).decode("utf-8", "surrogatepass")
    if len(data) != len(folded):  # non-ASCII characters: the distinct ones, from their bytes alone
        others = set(data.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass"))
        separators = [char for char in others if not char.isalnum()]
        if len(separators) > _MAX_REPLACED:
            return regex_words(text)  # a pass per separator would no longer be cheap
        for char in separators:
            spaced = spaced.replace(char, " ")
    return spaced.split()[:MAX_WORDS]


def regex_words(text: str) -> list[str]:
    """`words` by the regex alone (what `words` computes faster; tests compare the two)."""
    found: list[str] = _WORD.findall(text[:MAX_SCAN_CHARS].casefold())
    return found[:MAX_WORDS]


def _digest(run: str, gram: Iterable[str]) -> str:
    data = "text\x1f" + run + "\x1f" + " ".join(gram)
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


def _grams(tokens: list[str], size: int) -> Iterator[list[str]]:
    for start in range(len(tokens) - size + 1):
        yield tokens[start : start + size]


def fast_gram_keys(tokens: list[str]) -> set[int]:
    """In-process keys of the same grams as `gram_keys`: hashes computed in C (`map`/`zip`), for
    the in-memory index of one process (Python's string hashes are salted per process)."""
    keys: set[int] = set()
    for run in _gram_key_runs(tokens):
        keys.update(run)
    return keys


# In-process gram keys are built from smaller ones: a pair from its two words' hashes, a triple from
# its first pair and its last word, a span from its first two triples and its last pair. Each key
# hashes a tuple of two or three ints, not of up to eight (the cost of indexing a text is mostly
# this). `_fast_key` builds the key of one gram the same way.
assert (PHRASE_WORDS, SPAN_WORDS) == (3, 8), "the key layout below assumes 3-word phrases, 8-word spans"


def _gram_key_runs(tokens: list[str]) -> Iterator[Iterable[int]]:
    """The keys of every gram of `tokens` (see `fast_gram_keys`) as runs computed in C, repeats
    included, for a set to take up without building one per text first."""
    ids = list(map(hash, tokens))
    pairs = list(map(hash, pairwise(ids)))
    triples = list(map(hash, zip(pairs, ids[2:], strict=False)))
    yield ids
    yield pairs
    yield triples
    yield map(hash, zip(triples, triples[3:], pairs[6:], strict=False))


def _fast_key(gram: list[str]) -> int:
    """The in-process key of one gram of 1 to `PHRASE_WORDS` or exactly `SPAN_WORDS` words."""
    size = len(gram)
    if size == 1:
        return hash(gram[0])
    if size == 2:
        return hash((hash(gram[0]), hash(gram[1])))
    if size == 3:
        return hash((_fast_key(gram[:2]), hash(gram[2])))
    if size == SPAN_WORDS:
        return hash((_fast_key(gram[:3]), _fast_key(gram[3:6]), _fast_key(gram[6:])))
    raise ValueError(f"no in-process key for a gram of {size} words")


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
    keys: tuple[Hashable, ...]


def _worth_checking(text: str, tokens: list[str]) -> bool:
    if len(" ".join(tokens)) < MIN_CHARS:
        return False
    if all(t.isdigit() or t in _STOPWORDS for t in tokens):
        return False  # numbers are typed entities (or too short to attribute); fillers say nothing
    # A value that is one typed entity (an e-mail, a host) is the entity matcher's business.
    stripped = text.strip()
    return not any(e.end - e.start >= len(stripped) - 1 for e in extract_entities(stripped))


def argument_values(run: str, args: Any, *, fast: bool = False) -> list[TextValue]:
    """The string leaves of an action's arguments worth checking, with the keys to look up
    (`fast`: the in-process keys of `fast_gram_keys`, else the run-salted digests)."""
    out: list[TextValue] = []

    def key(gram: list[str]) -> Hashable:
        return _fast_key(gram) if fast else _digest(run, gram)

    for argument, text in text_leaves(args):
        tokens = words(text)
        if not tokens or not _worth_checking(text, tokens):
            continue
        count = len(tokens)
        if count <= PHRASE_WORDS:
            out.append(TextValue(argument, count, "phrase", (key(tokens),)))
        elif count < SPAN_WORDS:
            keys = tuple(dict.fromkeys(key(g) for g in _grams(tokens, PHRASE_WORDS)))
            out.append(TextValue(argument, count, "chain", keys))
        else:
            keys = tuple(dict.fromkeys(key(g) for g in _grams(tokens, SPAN_WORDS)))
            out.append(TextValue(argument, count, "span", keys))
    return out


@dataclass(frozen=True, slots=True)
class GramSighting:
    """Where a gram was seen in a run: the first untrusted source, and the flags."""

    entity: Hashable
    source: str
    trusted: bool
    injected: bool


class _RunGrams:
    __slots__ = ("injected", "pending", "pending_chars", "sources", "trusted", "untrusted")

    def __init__(self) -> None:
        self.trusted: set[int] = set()
        self.injected: set[int] = set()
        self.untrusted: dict[int, int] = {}  # gram -> index of the first untrusted source
        self.sources: list[str] = []
        # Trusted texts not indexed yet, in order: (texts, texts of the call they answer).
        self.pending: list[tuple[list[str], list[str]]] = []
        self.pending_chars = 0


def _vouch_texts(trusted: set[int], texts: list[str], echoed: list[str]) -> None:
    """Add to `trusted` the keys a trusted output vouches for: its grams but those of the call's own
    arguments (a tool echoing them back vouches for nothing). The same set as adding the union of its
    texts' `fast_gram_keys` less the echoed ones', without building that union first: the keys go
    straight in, then the echoed keys `trusted` did not hold before are taken out again."""
    skipped: set[int] = set()
    for text in echoed:
        skipped |= fast_gram_keys(words(text))
    held = {key for key in skipped if key in trusted}
    for text in texts:
        for run in _gram_key_runs(words(text)):
            trusted.update(run)
    trusted -= skipped - held


class MemoryGrams:
    """The word-gram index of one process: per run, sets of in-process gram keys (set operations
    run in C). Runs are kept in an LRU.

    A trusted gram only matters next to an untrusted one (it vouches for it, or completes a chain
    with it), and only when an action's text is looked up: trusted texts (`add_trusted`) wait, in
    the order they came, and are indexed by the first lookup that finds untrusted grams in the run
    (or once the texts held back pass a bound). The trusted keys are capped on their own, in arrival
    order, so lookups answer exactly as indexing each text as it comes; a run no action's text is
    looked up in never pays for its trusted texts."""

    def __init__(
        self,
        max_runs: int = 1_000,
        max_per_run: int = 250_000,
        max_pending_chars: int = 4_000_000,
        max_pending_total: int = 64_000_000,
    ) -> None:
        self._runs: OrderedDict[str, _RunGrams] = OrderedDict()
        self._max_runs = max_runs
        self._max_per_run = max_per_run
        # Past these (a run's held-back text, all runs' together), a run's trusted texts are indexed
        # at once: held-back texts stay bounded in memory however many runs are open.
        self._max_pending_chars = max_pending_chars
        self._max_pending_total = max_pending_total
        self._pending_total = 0
        self._lock = threading.Lock()

    def _run(self, run: str) -> _RunGrams:
        return lru_entry(self._runs, run, _RunGrams, self._max_runs, self._forget)

    def _forget(self, grams: _RunGrams) -> None:
        self._pending_total -= grams.pending_chars

    def _index_pending(self, grams: _RunGrams) -> None:
        self._pending_total -= grams.pending_chars
        pending, grams.pending, grams.pending_chars = grams.pending, [], 0
        for texts, echoed in pending:
            if len(grams.trusted) < self._max_per_run:
                _vouch_texts(grams.trusted, texts, echoed)

    def add_trusted(self, run: str, texts: list[str], echoed: list[str]) -> None:
        """A trusted output's texts (`echoed`: the texts of the call it answers), indexed when
        they can first matter."""
        chars = sum(map(len, texts))
        with self._lock:
            grams = self._run(run)
            grams.pending.append((texts, echoed))
            grams.pending_chars += chars
            self._pending_total += chars
            if grams.pending_chars > self._max_pending_chars or self._pending_total > self._max_pending_total:
                self._index_pending(grams)

    def add(self, run: str, keys: set[int], *, source: str, trusted: bool, injected: bool) -> None:
        with self._lock:
            grams = self._run(run)
            if trusted:
                if grams.pending:
                    self._index_pending(grams)  # first, so the trusted cap keeps the arrival order
                if len(grams.trusted) < self._max_per_run:
                    grams.trusted |= keys
                return
            if len(grams.untrusted) < self._max_per_run:
                index = len(grams.sources)
                grams.sources.append(source)
                new = keys.difference(grams.untrusted)
                grams.untrusted.update(dict.fromkeys(new, index))
            if injected and len(grams.injected) < self._max_per_run:
                grams.injected |= keys

    def lookup(self, run: str, keys: Iterable[Hashable]) -> list[GramSighting]:
        with self._lock:
            grams = self._runs.get(run)
            if grams is None:
                return []
            if grams.pending and grams.untrusted:
                self._index_pending(grams)  # they can vouch now
            out = []
            for key in keys:
                if not isinstance(key, int):
                    continue
                index = grams.untrusted.get(key)
                trusted = key in grams.trusted
                if index is None and not trusted:
                    continue
                source = grams.sources[index] if index is not None else "user"
                out.append(GramSighting(key, source, trusted, key in grams.injected))
            return out
