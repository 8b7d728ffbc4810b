"""Word features for the learned model: unigrams and bigrams of normalized text, summed over
fixed-size token windows. Windows matter because an injection is usually one sentence inside a long
email or page; scoring the whole page would dilute it. Training and inference share this module so
the model sees the same features in both."""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping

WINDOW = 40
STRIDE = 20

# ASCII punctuation becomes a separator; other characters stay inside tokens (already folded).
_SEPARATORS = str.maketrans({ch: " " for ch in string.punctuation.replace("'", "")})


def tokens(normalized: str) -> list[str]:
    return normalized.translate(_SEPARATORS).split()


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
    """The largest sum of feature weights over any window (counts, not sets: it allows prefix sums)."""
    per_token = [0.0] * (len(words) + 1)
    for index, feature in token_features(words):
        weight = weights.get(feature)
        if weight is not None:
            per_token[index] += weight
    prefix = [0.0]
    for value in per_token[:-1]:
        prefix.append(prefix[-1] + value)
    best = float("-inf")
    for start in window_starts(len(words)):
        end = min(start + WINDOW, len(words))
        best = max(best, prefix[end] - prefix[start])
    return best
