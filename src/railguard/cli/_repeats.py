"""`railguard check --json`: the answer to an input line seen before, without deciding it again.

The same line of bytes reads as the same action, and when the engine says its decision is
repeatable (`Engine.check_repeatable`: a pure function of the action under the policy) the same
action gets the same JSON answer but for its `latency_us`. So the answer is kept with the place of that value,
and a repeated line is answered with it and the time the answer took: no parsing, no action, no
engine.

Remembered per policy text and acting mode (the source digest covers every file and pack, in order,
as the policy's outcome memo does), so the streams of one process that load the same policy share
the answers. Bounded: lines up to MAX_LINE characters, MAX_LINES lines a policy, MAX_POLICIES
policies; the oldest go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from railguard.engine import Engine

__all__ = ["Answers", "answers_for"]

MAX_LINE = 2048
MAX_LINES = 4096
MAX_POLICIES = 4
_LATENCY = '"latency_us": '  # the first such text of an answer is its key: see `remember`


class Answers:
    """Answers by input line: the answer's text and where its latency is written in it."""

    def __init__(self, lines: int = MAX_LINES) -> None:
        self._lines = lines
        self._known: OrderedDict[bytes | str, tuple[str, int, int]] = OrderedDict()
        # The remembered answer of a line, or None: a dict look-up, no Python call per line.
        self.recall: Callable[[bytes | str], tuple[str, int, int] | None] = self._known.get

    @staticmethod
    def answer(known: tuple[str, int, int], latency_us: float) -> str:
        """The remembered answer with this latency."""
        text, start, end = known
        return text[:start] + repr(round(latency_us, 1)) + text[end:]

    def remember(self, line: bytes | str, answer: str) -> None:
        """Keep `answer` (an encoded decision) for `line`. The keys before `latency_us` in the answer
        (verdict, rules, reason, decision id) hold only strings, in which JSON escapes every quote, so
        the first `"latency_us": ` is the key itself; its value, a number, ends at the next comma
        (the tool's name always follows it)."""
        if len(line) > MAX_LINE:
            return
        start = answer.find(_LATENCY) + len(_LATENCY)
        end = answer.find(", ", start)
        if start < len(_LATENCY) or end <= start:
            return  # not written as expected: decide this line afresh every time
        known = self._known
        known[line] = (answer, start, end)  # each step atomic: a race between threads drops one old line more
        if len(known) > self._lines:
            known.popitem(last=False)

    def __len__(self) -> int:
        return len(self._known)


_by_policy: OrderedDict[tuple[str, str], Answers] = OrderedDict()
_by_policy_lock = threading.Lock()


def answers_for(engine: Engine) -> Answers:
    """The answers of the engine's policy text in its acting mode."""
    key = (engine.policy.source.digest, engine.mode.value)
    with _by_policy_lock:
        found = _by_policy.pop(key, None) or Answers()
        _by_policy[key] = found  # most recent last
        while len(_by_policy) > MAX_POLICIES:
            _by_policy.popitem(last=False)
        return found
