"""Reading a stream of JSON objects: JSON Lines, or pretty-printed objects one after another."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Item:
    line: int  # where the object started (1-based)
    value: Any = None
    error: str | None = None


def read_objects(lines: Iterable[str]) -> Iterator[Item]:
    """Yield each JSON value as soon as it is complete. A line that cannot start or continue a
    value yields an error item and reading goes on: bad input never hides the lines after it."""
    buffer, start = "", 0
    for number, line in enumerate(lines, 1):
        if not buffer:
            if not line.strip():
                continue
            start = number
        buffer += line
        try:
            value = json.loads(buffer)
        except json.JSONDecodeError as err:
            incomplete = err.pos >= len(buffer.rstrip()) and buffer.lstrip()[:1] in "{["
            if incomplete and number - start < 10_000:
                continue
            yield Item(start, error=f"invalid JSON at line {start}: {err.msg} (column {err.colno})")
            buffer = ""
            continue
        yield Item(start, value=value)
        buffer = ""
    if buffer.strip():
        yield Item(
            start, error=f"invalid JSON at line {start}: the object is not closed before the end of input"
        )
