"""Bounds on untrusted JSON, checked before anything walks it recursively.

Python's `json` decoder, `json.dumps`, the detectors and the redactor all recurse, so a value nested
a few thousand levels deep raises RecursionError wherever it is first walked. These checks are
iterative, so they answer for any input: call them at each boundary where outside JSON comes in
(the hook's stdin, a `check` line, `Engine.check`'s arguments) and refuse what they name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "LimitExceeded",
    "check_json_text",
    "check_value",
    "parse_json",
]

MAX_JSON_DEPTH = 200  # nesting levels of objects and arrays; real tool arguments use a handful
MAX_JSON_BYTES = 16 * 1024 * 1024  # one hook input or one `check` line (a Write of a large file fits)

# A JSON string (unrolled loop: linear, no backtracking) or one bracket. Brackets inside strings
# are skipped by matching the whole string first.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset("[{")


class LimitExceeded(ValueError):
    """The input is deeper, larger or less encodable than Railguard accepts. The message names the
    bound and how to stay under it, never the input's content."""


def check_json_text(text: str, *, max_depth: int = MAX_JSON_DEPTH, max_chars: int = MAX_JSON_BYTES) -> None:
    """Raise LimitExceeded if the JSON text is too long or nests deeper than `max_depth`. Runs in
    linear time on any text, valid JSON or not (an unterminated string just ends the scan)."""
    if len(text) > max_chars:
        raise LimitExceeded(
            f"the input is {len(text):,} characters, over the limit of {max_chars:,}; send less"
        )
    depth = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in _OPENERS:
            depth += 1
            if depth > max_depth:
                raise LimitExceeded(_too_deep(max_depth))
        elif token in "]}":
            depth = max(depth - 1, 0)


def parse_json(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, max_chars: int = MAX_JSON_BYTES) -> Any:
    """json.loads behind the bounds: bytes must be UTF-8, the text within `max_chars` and
    `max_depth`, and no string may hold a lone surrogate (it cannot be encoded, so it would fail
    later, wherever the value is first written). Raises LimitExceeded or ValueError (bad JSON)."""
    import json

    if isinstance(text, bytes):
        if len(text) > max_chars:
            raise LimitExceeded(
                f"the input is {len(text):,} bytes, over the limit of {max_chars:,}; send less"
            )
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LimitExceeded(f"the input is not valid UTF-8 (byte {err.start}); send UTF-8 text") from None
    check_json_text(text, max_depth=max_depth, max_chars=max_chars)
    try:
        value = json.loads(text)
    except RecursionError:  # unreachable under the depth bound; kept so no input can escape as a crash
        raise LimitExceeded(_too_deep(max_depth)) from None
    check_value(value, max_depth=max_depth)
    return value


def check_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise LimitExceeded if a decoded value (dicts, lists, tuples, strings, scalars) nests deeper
    than `max_depth` or holds a string with a lone surrogate (in a key or a value). Iterative."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, Mapping | list | tuple):
            if depth >= max_depth:
                raise LimitExceeded(_too_deep(max_depth))
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if isinstance(key, str):
                        _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise LimitExceeded(
            f"a string holds a lone UTF-16 surrogate (character {err.start}), which is not text; "
            "send valid Unicode"
        ) from None


def _too_deep(max_depth: int) -> str:
    return f"the JSON nests deeper than {max_depth} levels; flatten it"
