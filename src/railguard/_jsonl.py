"""Reading a stream of JSON inputs: JSON Lines, or one pretty-printed value that is the whole input.

Each line is one input. A line that is not UTF-8, not JSON, nested too deep or too long yields an
error item with its line number, and reading goes on with the next line: a bad line never hides,
swallows or shifts the lines after it, so outputs stay in step with inputs. The one exception is an
input that is, as a whole, a single JSON value spread over several lines (a pretty-printed object):
it is recognised only when nothing but whitespace follows it; otherwise its lines are read as JSON
Lines like any other.

`recall(line)` (optional) answers a line seen before without parsing it: what it returns, unless
None, is the item's `known` value (a line it knows is one complete value, so the reading is as for
any other such line).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from railguard._limits import MAX_JSON_BYTES, LimitExceeded, parse_json


@dataclass(frozen=True, slots=True)
class Item:
    line: int  # where the value started (1-based)
    value: Any = None
    error: str | None = None
    known: Any = None  # what `recall` answered for the line (then neither value nor error)
    text: bytes | str | None = None  # the line a one-line value was read from


Recall = Callable[[bytes | str], Any]


def read_objects(lines: Iterable[bytes | str], recall: Recall | None = None) -> Iterator[Item]:
    """Yield one item per non-blank line, as soon as the line is read (see the module docstring)."""
    numbered = enumerate(lines, 1)
    for number, line in numbered:
        if not line.strip():
            continue
        known = None if recall is None else recall(line)
        if known is not None:
            yield Item(number, known=known)
            yield from _each_line(numbered, recall)
        elif _state([line]) == _INCOMPLETE:  # e.g. a lone "{": the whole input may be one value
            yield from _one_value_or_lines([(number, line)], numbered, recall)
        else:
            yield _parse_line(number, line)
            yield from _each_line(numbered, recall)
        return


_COMPLETE, _INCOMPLETE, _INVALID = "complete", "incomplete", "invalid"


def _each_line(numbered: Iterator[tuple[int, bytes | str]], recall: Recall | None = None) -> Iterator[Item]:
    if recall is None:
        for number, line in numbered:
            if line.strip():
                yield _parse_line(number, line)
        return
    for number, line in numbered:
        known = recall(line)  # before the blank test: a known line is never blank
        if known is not None:
            yield Item(number, known=known)
        elif line.strip():
            yield _parse_line(number, line)


def _one_value_or_lines(
    held: list[tuple[int, bytes | str]],
    numbered: Iterator[tuple[int, bytes | str]],
    recall: Recall | None = None,
) -> Iterator[Item]:
    """Hold lines while they may still make one value that is the whole input. The held text is
    re-parsed only when the count of held lines reaches a power of two (so reading stays linear)
    and at the end. As soon as it cannot be one value (invalid, too big, something after it), every
    held line is answered on its own and reading goes on line by line."""
    size = len(held[0][1])
    for number, line in numbered:
        held.append((number, line))
        size += len(line)
        count = len(held)
        if size > MAX_JSON_BYTES or (count & (count - 1) == 0 and _state([x for _, x in held]) == _INVALID):
            break
    else:
        try:
            yield Item(held[0][0], value=parse_json(_text([x for _, x in held])))
            return
        except ValueError:
            pass
    for number, line in held:
        if line.strip():
            yield _parse_line(number, line)
    yield from _each_line(numbered, recall)


def _state(lines: list[bytes | str]) -> str:
    """Whether these lines are one complete value, the start of one, or neither."""
    try:
        text = _text(lines)
        parse_json(text)
    except json.JSONDecodeError as err:
        return _INCOMPLETE if err.pos >= len(text.rstrip()) else _INVALID
    except ValueError:
        return _INVALID
    return _COMPLETE


def _text(lines: list[bytes | str]) -> str:
    """The lines as one text; raises UnicodeDecodeError (a ValueError) if one is not UTF-8."""
    return "".join(x if isinstance(x, str) else x.decode("utf-8") for x in lines)


def _parse_line(number: int, line: bytes | str) -> Item:
    try:
        return Item(number, value=parse_json(line), text=line)
    except LimitExceeded as err:
        return Item(number, error=f"invalid input at line {number}: {err}")
    except json.JSONDecodeError as err:
        return Item(number, error=f"invalid JSON at line {number}: {err.msg} (column {err.colno})")
    except ValueError as err:  # pragma: no cover - parse_json raises only the two above
        return Item(number, error=f"invalid JSON at line {number}: {type(err).__name__}")
