"""Word features for the learned model: unigrams and bigrams of normalized text, summed over
fixed-size token windows. Windows matter because an injection is usually one sentence inside a long
email or page; scoring the whole page would dilute it. Training and inference share this module so
the model sees the same features in both.

Sentence ends (".", "!", "?", line breaks) are kept as a token of their own, SENTENCE_MARK. The
bigram it starts ("<mark> translate", "<mark> add") says a sentence opens with that word, which is
how imperative mood shows in English: an order aimed at the reader inside third-party content. It
raised test TPR on BIPIA email (35% -> 40%) at the same test FPR; see docs/injection.md."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from itertools import accumulate, chain, islice, pairwise, repeat
from operator import add, sub

WINDOW = 40
STRIDE = 20

SENTENCE_MARK = "."
_SENTENCE_ENDS = ".!?\n"

# A token is a run of lowercase letters, digits, apostrophes and non-ASCII characters (already
# folded), or a run of sentence-ending characters. Two alternatives, each one character class with
# "+" and with no character in common, so a match can never backtrack: linear time.
_TOKEN = re.compile(r"[^\x00-\x26\x28-\x2f\x3a-\x60\x7b-\x7f]+|[.!?\n]+")
# The same tokens without a regex (the hot path of every scored tool output): a byte-table translate
# of the UTF-8 text turns every separator into a space and each sentence end into a NUL (bytes of
# multi-byte characters are all >= 0x80 and stay as they are, so those characters remain token
# characters, as in the regex); runs of NULs shrink to one and become a mark. A test keeps both
# readings equal.
_SEPARATOR_CODES = frozenset([*range(0x00, 0x27), *range(0x28, 0x30), *range(0x3A, 0x61), *range(0x7B, 0x80)])
_BYTE_TABLE = bytes.maketrans(
    bytes(range(0x100)),
    bytes((0 if chr(c) in _SENTENCE_ENDS else 0x20) if c in _SEPARATOR_CODES else c for c in range(0x100)),
)
_MARK_BETWEEN_SPACES = f" {SENTENCE_MARK} ".encode()


def tokens(normalized: str) -> list[str]:
    """Words, with every run of sentence ends collapsed into one SENTENCE_MARK token."""
    ascii_only = normalized.isascii()
    # Marks are placed in the bytes, one per character (a wide str costs up to 4 per character): no
    # byte of a multi-byte character is a NUL or a space, so this is the same as on the decoded text.
    data = normalized.encode("utf-8", "surrogatepass").translate(_BYTE_TABLE)
    while b"\x00\x00" in data:  # halves every run per pass: a few C-level passes at most
        data = data.replace(b"\x00\x00", b"\x00")
    spaced = data.replace(b"\x00", _MARK_BETWEEN_SPACES).decode("utf-8", "surrogatepass")
    # Only spaces separate tokens now; a plain split() would also cut at Unicode spaces (U+2028...).
    return spaced.split() if ascii_only else list(filter(None, spaced.split(" ")))


def token_features(words: list[str]) -> Iterator[tuple[int, str]]:
    """(token index, feature) pairs; a bigram belongs to the index of its first word."""
    for index, word in enumerate(words):
        yield index, word
        if index + 1 < len(words):
            yield index, f"{word} {words[index + 1]}"


def window_starts(count: int) -> range:
    """Start indexes of the windows covering `count` tokens (one window when the text is short)."""
    if count <= WINDOW:
        return range(1)
    last = count - WINDOW
    starts = range(0, last + 1, STRIDE)
    return starts if starts[-1] == last else range(0, last + STRIDE, STRIDE)


def max_window_sum(words: list[str], weights: Mapping[str, float]) -> float:
    """The largest sum of feature weights over any window (see `window_max`), for weights keyed by
    feature strings as in `token_features` (training and tests; the model keeps them split)."""
    unigrams, bigrams = split_weights(weights)
    return window_max(words, unigrams, bigrams)


def split_weights(weights: Mapping[str, float]) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """Unigram weights by word and bigram weights by word pair: a pair of words already hashed
    looks up faster than a joined string that must be built and hashed."""
    unigrams: dict[str, float] = {}
    bigrams: dict[tuple[str, str], float] = {}
    for feature, weight in weights.items():
        first, space, second = feature.partition(" ")
        if space:
            bigrams[(first, second)] = weight
        else:
            unigrams[feature] = weight
    return unigrams, bigrams


def pair_totals(
    unigrams: Mapping[str, float], bigrams: Mapping[tuple[str, str], float]
) -> dict[str, dict[str, float]]:
    """For every weighted bigram, its first word's unigram weight plus the bigram's: the weight a
    token adds to a window when the next token completes that bigram (see `fast_window_max`).
    Keyed by first word, then second: looking up two already-hashed words costs less than building
    and hashing a pair."""
    totals: dict[str, dict[str, float]] = {}
    for (first, second), weight in bigrams.items():
        totals.setdefault(first, {})[second] = unigrams.get(first, 0.0) + weight
    return totals


_NO_PAIRS: dict[str, float] = {}


def fast_window_max(
    words: list[str], unigrams: Mapping[str, float], totals: Mapping[str, dict[str, float]]
) -> float:
    """Exactly `window_max(words, unigrams, bigrams)` for `totals = pair_totals(unigrams, bigrams)`,
    with no addition per token: a token's weight is its pair's total when the pair is a weighted
    bigram, else its unigram weight (that plus 0.0, the same float)."""
    if not words:
        return 0.0
    by_word = map(unigrams.get, words, repeat(0.0))
    followers = map(totals.get, words, repeat(_NO_PAIRS))
    # The pair lookup falls back to the unigram weight; the last word starts no bigram.
    by_token = chain(
        map(dict.get, followers, islice(words, 1, None), by_word), (unigrams.get(words[-1], 0.0),)
    )
    return _largest_window(words, [0.0, *accumulate(by_token)])


def _largest_window(words: list[str], prefix: list[float]) -> float:
    """`max(prefix[min(start + WINDOW, count)] - prefix[start] for start in window_starts(count))`
    with the subtractions run by `map` over strided slices: every window that fits, then the one
    window cut short at the end when the starts step past the last full one."""
    count = len(words)
    if count <= WINDOW:
        return prefix[count] - prefix[0]
    last = count - WINDOW
    best = max(map(sub, prefix[WINDOW : last + WINDOW + 1 : STRIDE], prefix[0 : last + 1 : STRIDE]))
    starts = window_starts(count)
    if starts[-1] != last:
        best = max(best, prefix[count] - prefix[starts[-1]])
    return best


def window_max(
    words: list[str], unigrams: Mapping[str, float], bigrams: Mapping[tuple[str, str], float]
) -> float:
    """The largest sum of feature weights over any window (counts, not sets: it allows prefix sums).
    Every lookup runs through `map`, in C: this is the hot loop of every scored text."""
    zeros = repeat(0.0)
    by_word = map(unigrams.get, words, zeros)
    # The last word starts no bigram: its bigram weight is 0.
    by_pair = chain(map(bigrams.get, pairwise(words), zeros), (0.0,))
    prefix = [0.0, *accumulate(map(add, by_word, by_pair))]
    count = len(words)
    return max(prefix[min(start + WINDOW, count)] - prefix[start] for start in window_starts(count))
