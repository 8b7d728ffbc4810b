"""A cooperative deadline for the analyzers: long loops call `checkpoint`, the caller decides.

The engine wraps fact computation in `bounded(checker)`; the checker raises (a deadline, a work cap)
and the exception travels out of the analyzer to the engine, which turns it into the policy's
`on_error`. Without a checker `checkpoint` is one context-variable read, so detectors can call it in
their inner loops. A contextvar (not a global) keeps threads and asyncio tasks apart.

    def stop_after_1000(where: str) -> None: ...
    with bounded(stop_after_1000):
        analyze_command(text)
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

__all__ = ["Checker", "InputTooLarge", "bounded", "checkpoint", "off_the_clock", "stopped_by_checker"]

Checker = Callable[[str], None]
# Runs a piece of work with the deadline paused (the pipeline's `Deadline.exclude`).
Excluder = Callable[[Callable[[], object]], None]
T = TypeVar("T")

_checker: ContextVar[Checker | None] = ContextVar("railguard_analysis_checker", default=None)
_excluder: ContextVar[Excluder | None] = ContextVar("railguard_analysis_excluder", default=None)
_last_stop: ContextVar[BaseException | None] = ContextVar("railguard_analysis_stop", default=None)


class InputTooLarge(ValueError):
    """An input is past one of an analyzer's hard caps (length, nesting, pipeline stages ...). The
    analysis is refused rather than cut short, so nothing is judged on a milder, truncated reading;
    the engine turns the refusal into the policy's `on_error` (block by default)."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.what = what
        self.size = size
        self.limit = limit
        super().__init__(
            f"{what} is {size}, over the analyzer's limit of {limit}; "
            "split the input into smaller actions (the guard refuses what it cannot analyze in bounded time)"
        )


def checkpoint(where: str) -> None:
    """Give the current checker a chance to stop the analysis (it raises to do so). `where` names the
    loop, for the error message."""
    checker = _checker.get()
    if checker is not None:
        try:
            checker(where)
        except BaseException as stop:
            _last_stop.set(stop)
            raise


def stopped_by_checker(error: BaseException) -> bool:
    """Whether `error` was raised by the checker (or is a cap): analyzers that turn their own bugs into
    a cautious answer must let these through to the caller."""
    return isinstance(error, InputTooLarge) or _last_stop.get() is error


class bounded:  # lower case: used as a function, `with bounded(checker):`
    """Run the block with `checker` called at every `checkpoint` inside it (nesting restores the outer
    one); `None` runs it unchecked. `exclude` is how `off_the_clock` pauses the checker's clock. A
    class, not a generator context manager: every fact an action reads is computed inside one."""

    __slots__ = ("_checker", "_checker_token", "_exclude", "_excluder_token")

    def __init__(self, checker: Checker | None, exclude: Excluder | None = None) -> None:
        self._checker, self._exclude = checker, exclude

    def __enter__(self) -> None:
        self._checker_token = _checker.set(self._checker)
        self._excluder_token = _excluder.set(self._exclude)

    def __exit__(self, *_exc: object) -> None:
        _excluder.reset(self._excluder_token)
        _checker.reset(self._checker_token)


def off_the_clock(load: Callable[[], T]) -> T:
    """Run `load`, one-time start-up work met inside an analysis (a parser imported or a data table
    read the first time some command needs it), with the deadline paused. It is the process's
    start-up, not the action's analysis: counted, it turned the first SQL-bearing command of a process
    into a deadline error that the same command never hit again, a verdict that depended on what the
    process had seen before."""
    results: list[T] = []

    def run() -> None:
        with bounded(None):
            results.append(load())

    exclude = _excluder.get()
    if exclude is None:
        run()
    else:
        exclude(run)
    return results[0]
