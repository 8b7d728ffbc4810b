"""A cooperative deadline for analyzers: their long loops call `checkpoint(where)`; whoever runs
them decides, through `bounded(checker)`, whether to stop (the checker raises).

Without a checker in force `checkpoint` costs one context-variable read. A ContextVar keeps threads
and asyncio tasks apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Checker", "bounded", "checkpoint"]

Checker = Callable[[str], None]

_checker: ContextVar[Checker | None] = ContextVar("railguard_analysis_checker", default=None)


def checkpoint(where: str) -> None:
    """Let the checker in force stop the analysis (by raising); `where` names the loop."""
    checker = _checker.get()
    if checker is not None:
        checker(where)


@contextmanager
def bounded(checker: Checker) -> Iterator[None]:
    """Call `checker` at every `checkpoint` reached inside the block."""
    token = _checker.set(checker)
    try:
        yield
    finally:
        _checker.reset(token)
