# ruff: noqa: RUF001, RUF003  (the confusables table is made of look-alike letters on purpose)
"""Fold text into one canonical lowercase form so patterns and the model see through obfuscation:
NFKC (fullwidth and math letters), common Cyrillic/Greek look-alikes, invisible format characters
(dropped) and Unicode tag characters (decoded: they smuggle ASCII invisibly). Each normalized
character remembers its position in the original text so findings point at the original.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Look-alikes NFKC leaves alone (Cyrillic and Greek letters drawn like Latin ones), plus typographic
# quotes so "don’t" matches "don't". Facts from the Unicode confusables table, abridged.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
        "ɡ": "g", "ι": "i", "ο": "o", "α": "a", "ε": "e", "κ": "k", "ν": "v", "τ": "t", "υ": "u",
        "ρ": "p", "χ": "x", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    }
)  # fmt: skip

_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F
_SOFT_HYPHEN = "\u00ad"
# A single character class: the stdlib engine scans it in linear time (no backtracking possible).
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ZERO_WIDTH_JOINERS = "\u200c\u200d"  # legitimate inside emoji sequences and some scripts


@dataclass(frozen=True, slots=True)
class Normalized:
    """The folded text and what the folding revealed.

    `offsets[i]` is the original index of `text[i]`; `None` means the identity (pure ASCII input).
    `hidden_marks` counts characters that only make sense as concealment: tag characters and
    invisible format characters wedged between two letters of a word; `first_hidden` is the original
    index of the first one (-1 when none).
    """

    text: str
    offsets: tuple[int, ...] | None
    hidden_marks: int
    original_length: int
    first_hidden: int = -1

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalized [start, end) span back onto the original text."""
        if self.offsets is None or start >= end:
            return start, end
        if not self.offsets:
            return 0, 0
        last = len(self.offsets) - 1
        first = self.offsets[min(start, last)]
        stop = self.offsets[min(end - 1, last)] + 1
        return first, min(stop, self.original_length)


def normalize(text: str) -> Normalized:
    if text.isascii():  # fast path: the common case costs one C-level lower()
        return Normalized(_unescape(text.lower()), None, 0, len(text))
    simple = _fold_few(text)
    if simple is not None:
        return Normalized(_unescape(simple), None, 0, len(text))
    folded = _normalize_unicode(text)
    return Normalized(
        _unescape(folded.text),
        folded.offsets,
        folded.hidden_marks,
        folded.original_length,
        folded.first_hidden,
    )


# Beyond this many distinct non-ASCII characters, `_fold_few` gives way to the per-character path.
_MAX_FEW = 32
_CAPITAL_SIGMA = "\u03a3"  # the one character str.lower() cases by its context (final sigma)


def _fold_few(text: str) -> str | None:
    """`_normalize_unicode(text).text` in a few C-level passes, for the common text with a handful
    of distinct non-ASCII characters (an e-mail's curly quotes, bullets, accents) that each fold to
    exactly one character and hide nothing; None when that does not hold. One-to-one folding keeps
    every position, so the offsets are the identity (None), as the per-character path would build.

    Equivalence: a folded character that is ASCII replaces its original before `lower()` (which
    leaves it alone); one that is not is left for `lower()`, and only when `lower()` turns the
    original into exactly it. Replacements are ASCII, so no replacement is replaced again."""
    distinct = _non_ascii(text)
    if len(distinct) > _MAX_FEW:
        return None
    replacements = []
    for char in distinct:
        code = ord(char)
        if _TAG_FIRST <= code <= _TAG_LAST or _is_invisible(char) or char == _CAPITAL_SIGMA:
            return None
        folded = _fold(char)
        if len(folded) != 1:
            return None
        if folded.isascii():
            if folded.lower() != folded:
                return None
            replacements.append((char, folded))
        elif char.lower() != folded:
            return None
    for char, folded in replacements:
        text = text.replace(char, folded)
    return text.lower()


_ASCII_BYTES = bytes(range(0x80))


def _non_ascii(text: str) -> set[str]:
    """The distinct non-ASCII characters of `text`. In UTF-8 every byte of a non-ASCII character is
    >= 0x80, so deleting the ASCII bytes (one C-level pass) leaves exactly those characters."""
    try:
        return set(text.encode("utf-8").translate(None, _ASCII_BYTES).decode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates
        return set(_NON_ASCII.findall(text))


def _unescape(text: str) -> str:
    """Tool outputs are often JSON or repr() dumps where a line break is the two characters
    backslash-n, gluing "\\nignore" into one word. Blank such escapes (same length, so offsets hold)."""
    if "\\" not in text:
        return text
    return text.replace("\\n", "  ").replace("\\t", "  ").replace("\\r", "  ")


def _normalize_unicode(text: str) -> Normalized:
    # ASCII runs are copied (lowercased) in bulk; only non-ASCII characters go through Python, so a
    # mostly-English email with a few bullets costs little more than the ASCII fast path.
    out: list[str] = []
    offsets: list[int] = []
    hidden = 0
    first_hidden = -1
    length = len(text)
    position = 0
    for match in _NON_ASCII.finditer(text):
        index = match.start()
        if index > position:
            out.append(text[position:index].lower())
            offsets.extend(range(position, index))
        position = index + 1
        char = text[index]
        code = ord(char)
        if _TAG_FIRST <= code <= _TAG_LAST:
            hidden += 1
            first_hidden = index if first_hidden < 0 else first_hidden
            if 0x20 <= code - _TAG_FIRST < 0x7F:
                out.append(chr(code - _TAG_FIRST).lower())
                offsets.append(index)
            continue
        if _is_invisible(char):
            if char != _SOFT_HYPHEN and char not in _ZERO_WIDTH_JOINERS and _inside_word(text, index, length):
                hidden += 1
                first_hidden = index if first_hidden < 0 else first_hidden
            continue
        folded = _fold(char)
        out.append(folded)
        offsets.extend([index] * len(folded))
    if position < length:
        out.append(text[position:].lower())
        offsets.extend(range(position, length))
    return Normalized("".join(out), tuple(offsets), hidden, length, first_hidden)


def _inside_word(text: str, index: int, length: int) -> bool:
    return 0 < index < length - 1 and text[index - 1].isalpha() and text[index + 1].isalpha()


@lru_cache(maxsize=4096)
def _is_invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf"


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    return unicodedata.normalize("NFKC", char).lower().translate(_CONFUSABLES)


_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})


def unleet(text: str) -> str:
    """Read digits and symbols as the letters they imitate ("1gn0r3" -> "ignore"). Same length, so
    positions are unchanged."""
    return text.translate(_LEET)
