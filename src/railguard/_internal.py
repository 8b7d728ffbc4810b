"""Railguard's own failures, made visible: one helper for every place that must not let an error
reach the agent (a sink, an exporter, a store write, a background thread).

Each failure is counted by kind and logged through the `railguard` logger: the first of a kind at
once, then at most once a minute with the number suppressed in between, so a store that is down
doesn't flood the log. Messages are redacted before they are logged (a database error can echo a
parameter). A failure that is a bug in Railguard (not `expected`) is re-raised when
`RAILGUARD_RAISE_INTERNAL_ERRORS=1` — the test suite sets it — so no bug hides behind the
never-break-the-agent rule.

    try:
        sink(decision, action)
    except Exception as err:
        internal_error("engine.sink", err)

    with reported("tracing.span"):           # contextlib.suppress(Exception), reported
        span.end()
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable

logger = logging.getLogger("railguard")

RELOG_AFTER_S = 60.0
_RAISE_ENV = "RAILGUARD_RAISE_INTERNAL_ERRORS"

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_suppressed: Counter[str] = Counter()
_last_logged: dict[str, float] = {}
clock: Callable[[], float] = time.monotonic  # replaced in tests


def internal_error(kind: str, err: BaseException, *, expected: bool = False) -> None:
    """Count and log a failure of Railguard itself; re-raise it under tests when it is a bug.

    `kind` is a short dotted name ("tracing.export", "store.write"). `expected=True` marks an
    operational failure the code is built to survive (an unreachable store or collector)."""
    with _lock:
        _counts[kind] += 1
        now = clock()
        last = _last_logged.get(kind)
        if last is not None and now - last < RELOG_AFTER_S:
            _suppressed[kind] += 1
            log = False
        else:
            _last_logged[kind] = now
            skipped, _suppressed[kind] = _suppressed[kind], 0
            log = True
    if log:
        _log(kind, err, expected, skipped)
    if not expected and os.environ.get(_RAISE_ENV) == "1":
        raise err


class reported:
    """`with reported("tracing.span"): ...` swallows an `Exception` like `contextlib.suppress`, but
    reports it through `internal_error` first. A class, not a generator: it sits on hot paths."""

    __slots__ = ("expected", "kind")

    def __init__(self, kind: str, *, expected: bool = False) -> None:
        self.kind = kind
        self.expected = expected

    def __enter__(self) -> None:
        return None

    def __exit__(self, _type: object, err: BaseException | None, _tb: object) -> bool:
        if not isinstance(err, Exception):
            return False  # no error, or KeyboardInterrupt/SystemExit/GeneratorExit: let it through
        internal_error(self.kind, err, expected=self.expected)
        return True


def internal_error_counts() -> dict[str, int]:
    """How many failures of each kind this process has seen."""
    with _lock:
        return dict(_counts)


def reset_internal_errors() -> None:
    with _lock:
        _counts.clear()
        _suppressed.clear()
        _last_logged.clear()


def _log(kind: str, err: BaseException, expected: bool, skipped: int) -> None:
    try:
        where = "".join(traceback.format_tb(err.__traceback__, limit=-3)).rstrip()
        more = f" ({skipped} more since the last report)" if skipped else ""
        logger.log(
            logging.WARNING if expected else logging.ERROR,
            "railguard internal error [%s]%s: %s: %s%s",
            kind,
            more,
            type(err).__name__,
            _safe_message(err),
            f"\n{where}" if where else "",
        )
    except Exception:  # logging must never be the thing that breaks the agent
        pass


def _safe_message(err: BaseException) -> str:
    text = str(err)[:500]
    try:
        from railguard.detect.redact import redact

        return redact(text).text
    except Exception:
        return "(message withheld: it could not be redacted)"
