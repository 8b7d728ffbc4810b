"""Sources the user pointed at: a URL, an address, a file or a quoted name in the user's own words.

"Pay the bill 'bill-december-2023.txt'", "her e-mail is on www.dora-website.com": the user
delegates the values in that source, so a read call aimed at it (an argument naming the pointer)
returns content whose values the user endorsed — for value provenance only. Instructions in that
content are still untrusted: an output with injection signals is never endorsed, and run-level
integrity still applies. Pointers are stored as run-salted digests, like every provenance record.
"""

from __future__ import annotations

import hashlib
from typing import Any

import re2

from railguard.state._provenance_entities import extract_entities, text_leaves
from railguard.state._provenance_text import words

__all__ = ["call_pointers", "user_pointers"]

# A quoted span in the user's words: '...', "...", `...`, or typographic quotes, 3 to 200 characters.
_QUOTED = re2.compile(
    r"'([^'\n]{3,200})'|\"([^\"\n]{3,200})\"|`([^`\n]{3,200})`"
    r"|[\x{2018}\x{201c}]([^\x{2019}\x{201d}\n]{3,200})[\x{2019}\x{201d}]"
)
_MIN_WORDS_CHARS = 3


def _digest(run: str, kind: str, value: str) -> str:
    data = f"pointer\x1f{run}\x1f{kind}\x1f{value}"
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


def _phrase(text: str) -> str | None:
    tokens = words(text)
    phrase = " ".join(tokens)
    return phrase if len(phrase) >= _MIN_WORDS_CHARS else None


def user_pointers(run: str, text: Any) -> set[str]:
    """Digests of the typed entities and quoted spans in the user's words."""
    out: set[str] = set()
    for _, leaf in text_leaves(text):
        for entity in extract_entities(leaf):
            out.add(_digest(run, entity.kind, entity.value))
        for match in _QUOTED.finditer(leaf):
            quoted = next(g for g in match.groups() if g)
            phrase = _phrase(quoted)
            if phrase is not None:
                out.add(_digest(run, "phrase", phrase))
    return out


def call_pointers(run: str, args: Any) -> set[str]:
    """Digests a call's arguments would have if they named a user pointer: each typed entity in
    them, and each whole string argument as a phrase."""
    out: set[str] = set()
    for _, leaf in text_leaves(args):
        for entity in extract_entities(leaf):
            out.add(_digest(run, entity.kind, entity.value))
        phrase = _phrase(leaf)
        if phrase is not None:
            out.add(_digest(run, "phrase", phrase))
    return out
