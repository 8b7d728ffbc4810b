"""Loop detection per run: the same call over and over, short cycles, and the same error again.

    loops = Loops(store)                      # or Loops() for one process, state in memory
    engine.add_step(loops, stage="guards")
    ...
    except Exception as err:
        loops.record_error(action, err)       # feed tool failures back

- repeats: the same tool with the same normalized arguments (canonical JSON; optionally strings
  lower-cased with whitespace collapsed) more than `max_repeats` times in one run;
- cycles: the last `period * cycle_repeats` calls are `cycle_repeats` repetitions of a cycle of
  `period` (2..4 by default) calls that are not all the same (A,B,A,B,A,B);
- errors: a tool that failed `max_same_errors` times in the run with the same error (type and message
  with numbers ignored) gets the verdict on its next calls.

As an engine step the history is read while a call is evaluated and the call is recorded only
when the engine admits it to run: a refused call, a call waiting for a human and an `explain` leave
no trace. With a store, the history lives in `rg_loop_calls` and recording re-reads and appends in
one transaction, so the processes serving one run share it. Only digests of arguments and errors are
stored.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from railguard._pipeline import Charge
from railguard.model import Action, Context, Mode, RuleHit, Severity, Verdict, canonical_json
from railguard.policy._guard_rules import LoopSpec
from railguard.state._batch import Row, batch_for
from railguard.state._counters import (
    Part,
    bounded_key,
    counter_transaction,
    ensure_tables,
    hit_mode,
)
from railguard.store import Store
from railguard.store._connect import DriverTx

if TYPE_CHECKING:
    from railguard.engine import Facts

_SPACES = re.compile(r"\s+")  # linear: a single character class, no nesting
_NUMBERS = re.compile(r"\d+")
_ERROR_TEXT_MAX = 500


@dataclass(frozen=True, slots=True)
class LoopRules(LoopSpec):
    """Loop caps (fields and checks: `railguard.policy._guard_rules.LoopSpec`)."""

    @property
    def window(self) -> int:
        """How many past calls cycle detection needs to see."""
        if self.cycle_repeats is None or not self.cycle_periods:
            return 0
        return max(self.cycle_periods) * self.cycle_repeats - 1


@dataclass(frozen=True, slots=True)
class RunView:
    """What one check sees of its run's history."""

    repeats: int  # earlier calls with the same signature
    recent: list[str]  # the last `window` call signatures, oldest first
    errors: int  # the most times one error of this tool repeated
    error_type: str


Decide = Callable[[RunView], list[RuleHit]]


class _Runs(Protocol):
    def view(self, run: str, sig: str, tool: str, window: int) -> RunView: ...

    def check(self, run: str, sig: str, tool: str, window: int, decide: Decide) -> list[RuleHit]: ...

    def forget(self, run: str, sig: str) -> None: ...

    def record_error(self, run: str, tool: str, sig: str, error_type: str) -> None: ...


class Loops:
    """Loop detection; an engine step (`engine.add_step(loops, stage="guards")`)."""

    def __init__(
        self, store: Store | None = None, rules: LoopRules | None = None, *, memory_runs: int = 10_000
    ):
        self.rules = rules or LoopRules()
        self._runs: _Runs = _StoreRuns(store) if store is not None else _MemoryRuns(memory_runs)

    def check(self, action: Action, mode: Mode = Mode.ENFORCE) -> tuple[RuleHit, ...]:
        """Decide on one call and, unless refused, record it in its run's history."""
        run = _run_key(action.context)
        if run is None:
            return ()
        sig = call_signature(action, normalize_strings=self.rules.normalize_strings)
        decide = self._decider(action, mode, sig)
        return tuple(self._runs.check(run, sig, action.tool[:200], self.rules.window, decide))

    def __call__(self, action: Action, facts: Facts) -> tuple[RuleHit, ...]:
        """The engine step: read the run's history now, record the call when the engine admits it.
        Store-backed, both happen in the decision's one store transaction (`railguard.state._batch`)."""
        run = _run_key(action.context)
        if run is None or facts.provisional is Verdict.BLOCK or facts.charged:
            return ()  # a retry of a call already recorded is not a repeat
        mode, tool = hit_mode(facts), action.tool[:200]
        sig = call_signature(action, normalize_strings=self.rules.normalize_strings)
        decide = self._decider(action, mode, sig)
        runs = self._runs
        if isinstance(runs, _StoreRuns):
            batch_for(facts, runs.store).add(_LoopClaim(runs, run, sig, tool, self.rules.window, decide))
            return ()
        hits = decide(runs.view(run, sig, tool, self.rules.window))
        if not any(h.verdict is Verdict.BLOCK for h in hits):

            def take() -> list[RuleHit]:  # an ask a human approved still runs; only a new block refuses
                found = runs.check(run, sig, tool, self.rules.window, decide)
                return [h for h in found if h.verdict is Verdict.BLOCK]

            facts.on_admit(Charge("loops", take, lambda: runs.forget(run, sig)))
        return tuple(hits)

    def record_error(self, action: Action, error: BaseException | str) -> None:
        """Record that `action` failed; only a digest of the error and its type name are kept."""
        run = _run_key(action.context)
        if run is not None:
            error_type = error if isinstance(error, str) else type(error).__name__
            self._runs.record_error(
                run, action.tool[:200], error_signature(action.tool, error), error_type[:128]
            )

    def _decider(self, action: Action, mode: Mode, current: str) -> Decide:
        """`current`: the call's signature (`call_signature`)."""
        rules, tool = self.rules, action.tool

        def decide(view: RunView) -> list[RuleHit]:
            hits: list[RuleHit] = []
            if rules.max_repeats is not None and view.repeats >= rules.max_repeats:
                message = (
                    f"'{tool}' was already called {view.repeats} times in this run with the same "
                    f"arguments (cap {rules.max_repeats}); stop repeating it and change approach"
                )
                hits.append(_hit("loop/repeat", rules.repeat_verdict, mode, message))
            period = _cycle(view.recent, current, rules)
            if period:
                message = (
                    f"the last {period * (rules.cycle_repeats or 0)} calls repeat the same {period} calls "
                    f"{rules.cycle_repeats} times (ending with '{tool}'); break the loop"
                )
                hits.append(_hit("loop/cycle", rules.cycle_verdict, mode, message))
            if rules.max_same_errors is not None and view.errors >= rules.max_same_errors:
                message = (
                    f"'{tool}' failed {view.errors} times in this run with the same error "
                    f"({view.error_type}); stop retrying it and change approach or ask the user"
                )
                hits.append(_hit("loop/errors", rules.error_verdict, mode, message))
            return hits

        return decide


def _hit(rule: str, verdict: Verdict | str, mode: Mode, message: str) -> RuleHit:
    return RuleHit(rule, Verdict(verdict), message, Severity.MEDIUM, mode, "loops")


def _cycle(recent: list[str], current: str, rules: LoopRules) -> int:
    if rules.cycle_repeats is None:
        return 0
    seq = [*recent, current]
    for period in sorted(rules.cycle_periods):
        n = period * rules.cycle_repeats
        if len(seq) < n:
            continue
        tail = seq[-n:]
        if len(set(tail[:period])) > 1 and all(tail[i] == tail[i % period] for i in range(n)):
            return period
    return 0


def _run_key(ctx: Context) -> str | None:
    run = ctx.run or ctx.session
    return None if not run else bounded_key("loop", ctx.tenant or "", run)


def call_signature(action: Action, *, normalize_strings: bool = False) -> str:
    args: Any = _normalized(action.args) if normalize_strings else action.args
    return _digest(action.tool + "\x1f" + canonical_json(args))


def error_signature(tool: str, error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}\x1f{error}"
    text = _NUMBERS.sub("#", _SPACES.sub(" ", text[:_ERROR_TEXT_MAX].lower()).strip())
    return _digest(tool + "\x1f" + text)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _normalized(value: Any) -> Any:
    if isinstance(value, str):
        return _SPACES.sub(" ", value).strip().lower()
    if isinstance(value, Mapping):
        return {str(k): _normalized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    return value


@dataclass
class _RunState:
    recent: deque[str]
    counts: Counter[str] = field(default_factory=Counter)
    errors: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)


class _MemoryRuns:
    """One process: per-run state in a bounded LRU (the least recently used run is forgotten)."""

    def __init__(self, max_runs: int) -> None:
        self._runs: OrderedDict[str, _RunState] = OrderedDict()
        self._max = max_runs
        self._lock = threading.Lock()

    def _state(self, run: str, window: int) -> _RunState:
        state = self._runs.get(run)
        if state is None:
            state = self._runs[run] = _RunState(deque(maxlen=max(window, 1)))
            while len(self._runs) > self._max:
                self._runs.popitem(last=False)
        else:
            self._runs.move_to_end(run)
        return state

    def _view(self, state: _RunState, sig: str, tool: str, window: int) -> RunView:
        errors, error_type = max((v for (t, _), v in state.errors.items() if t == tool), default=(0, ""))
        recent = list(state.recent)[-window:] if window else []
        return RunView(state.counts[sig], recent, errors, error_type)

    def view(self, run: str, sig: str, tool: str, window: int) -> RunView:
        with self._lock:
            state = self._runs.get(run)
            return RunView(0, [], 0, "") if state is None else self._view(state, sig, tool, window)

    def check(self, run: str, sig: str, tool: str, window: int, decide: Decide) -> list[RuleHit]:
        with self._lock:
            state = self._state(run, window)
            hits = decide(self._view(state, sig, tool, window))
            if not any(h.verdict is Verdict.BLOCK for h in hits):
                state.recent.append(sig)
                state.counts[sig] += 1
            return hits

    def forget(self, run: str, sig: str) -> None:
        with self._lock:
            state = self._runs.get(run)
            if state is None or not state.counts[sig]:
                return
            state.counts[sig] -= 1
            recent = list(state.recent)
            if sig in recent:
                del recent[len(recent) - 1 - recent[::-1].index(sig)]
                state.recent.clear()
                state.recent.extend(recent)

    def record_error(self, run: str, tool: str, sig: str, error_type: str) -> None:
        with self._lock:
            state = self._state(run, 1)
            count, _ = state.errors.get((tool, sig), (0, ""))
            state.errors[(tool, sig)] = (count + 1, error_type)


def view_parts(
    p: str, tag: str, run: str, sig: str, tool: str, window: int
) -> list[tuple[str, tuple[Any, ...]]]:
    """The run's history for one call as `Row`s, parts of one UNION ALL: how many times this call
    was made ("n"), the last `window` calls ("r"), and the worst repeated error of the tool ("e")."""
    count, worst, recent = _view_sql(p, tag, window)
    parts: list[tuple[str, tuple[Any, ...]]] = [(count, (run, sig)), (worst, (run, tool))]
    if recent:
        parts.append((recent, (run,)))
    return parts


@functools.cache
def _view_sql(p: str, tag: str, window: int) -> tuple[str, str, str]:
    """`view_parts`' statements, written once per marker, tag and window (not on every check)."""
    return (
        f"SELECT '{tag}n', CAST(NULL AS VARCHAR(32)), count(*), 0, 0 FROM rg_loop_calls "
        f"WHERE run_key = {p} AND sig = {p}",
        f"SELECT '{tag}e', error_type, n, 0, 0 FROM (SELECT error_type, n FROM rg_loop_errors "
        f"WHERE run_key = {p} AND tool = {p} ORDER BY n DESC LIMIT 1) AS worst",
        f"SELECT '{tag}r', sig, id, 0, 0 FROM (SELECT sig, id FROM rg_loop_calls "
        f"WHERE run_key = {p} ORDER BY id DESC LIMIT {int(window)}) AS recent"
        if window
        else "",
    )


def append_part(p: str, run: str, sig: str) -> Part:
    """The statement recording a call in its run's history (RETURNING a row, like every charge)."""
    return (
        f"INSERT INTO rg_loop_calls (run_key, sig, at) VALUES ({p}, {p}, {p}) RETURNING id, 0, 0",
        (run, sig, time.time()),
    )


def view_of(rows: Sequence[Row]) -> RunView:
    repeats, errors, error_type = 0, 0, ""
    recent: list[tuple[int, str]] = []
    for tag, text, number, _, _ in rows:
        kind = tag[-1]
        if kind == "n":
            repeats = int(number)
        elif kind == "e":
            errors, error_type = int(number), text
        else:
            recent.append((int(number), text))
    return RunView(repeats, [sig for _, sig in sorted(recent)], errors, error_type)


class _LoopClaim:
    """A call in its run's history, in the decision's transaction: read, decided, then recorded."""

    name = "loops"
    counter_keys = ()
    __slots__ = ("decide_hits", "run", "runs", "sig", "tool", "wants_charge", "window")

    def __init__(self, runs: _StoreRuns, run: str, sig: str, tool: str, window: int, decide: Decide) -> None:
        self.runs, self.run, self.sig, self.tool, self.window = runs, run, sig, tool, window
        self.decide_hits = decide
        self.wants_charge = False

    def read_parts(self, mark: str, tag: str) -> list[tuple[str, tuple[Any, ...]]]:
        return view_parts(mark, tag, self.run, self.sig, self.tool, self.window)

    def decide(self, rows: Sequence[Row], state: object) -> list[RuleHit]:
        hits = self.decide_hits(view_of(rows))
        self.wants_charge = not any(h.verdict is Verdict.BLOCK for h in hits)
        return hits

    def recheck(self, conn: DriverTx) -> list[RuleHit]:
        """An ask a human approved still runs; only a new block refuses."""
        found = self.decide_hits(self.runs.read_view(conn, self.run, self.sig, self.tool, self.window))
        return [h for h in found if h.verdict is Verdict.BLOCK]

    def charge_parts(self, mark: str) -> list[Part | None]:
        return [append_part(mark, self.run, self.sig)]

    def charged(self, conn: DriverTx, rows: Sequence[tuple[Any, ...] | None]) -> list[RuleHit]:
        return []  # a row is always appended

    def undo(self, conn: DriverTx) -> None:
        self.runs.remove_last(conn, self.run, self.sig)

    def committed(self) -> None:
        return None


class _StoreRuns:
    """Many processes: the history in the store, read and appended in one write transaction."""

    def __init__(self, store: Store) -> None:
        ensure_tables(store)
        self.store = store

    def _tx(self) -> AbstractContextManager[DriverTx]:
        return counter_transaction(self.store)

    def view(self, run: str, sig: str, tool: str, window: int) -> RunView:
        with self.store.driver_transaction(write=False) as tx:
            return self.read_view(tx, run, sig, tool, window)

    def check(self, run: str, sig: str, tool: str, window: int, decide: Decide) -> list[RuleHit]:
        with self._tx() as conn:
            hits = decide(self.read_view(conn, run, sig, tool, window))
            if not any(h.verdict is Verdict.BLOCK for h in hits):
                self.append(conn, run, sig)
            return hits

    def forget(self, run: str, sig: str) -> None:
        with self._tx() as conn:
            self.remove_last(conn, run, sig)

    @staticmethod
    def append(conn: DriverTx, run: str, sig: str) -> None:
        p = conn.mark
        conn.rows(
            f"INSERT INTO rg_loop_calls (run_key, sig, at) VALUES ({p}, {p}, {p})", (run, sig, time.time())
        )

    @staticmethod
    def remove_last(conn: DriverTx, run: str, sig: str) -> None:
        p = conn.mark
        conn.rows(
            f"DELETE FROM rg_loop_calls WHERE id = (SELECT max(id) FROM rg_loop_calls "
            f"WHERE run_key = {p} AND sig = {p})",
            (run, sig),
        )

    @staticmethod
    def read_view(conn: DriverTx, run: str, sig: str, tool: str, window: int) -> RunView:
        parts = view_parts(conn.mark, "", run, sig, tool, window)
        sql = " UNION ALL ".join(part for part, _ in parts)
        return view_of(conn.rows(sql, tuple(v for _, values in parts for v in values)))

    def record_error(self, run: str, tool: str, sig: str, error_type: str) -> None:
        with self._tx() as tx:
            p = tx.mark
            tx.rows(
                f"INSERT INTO rg_loop_errors (run_key, tool, sig, n, error_type, at) VALUES ({p}, {p}, {p}, 1, {p}, {p}) "
                "ON CONFLICT (run_key, tool, sig) DO UPDATE SET n = rg_loop_errors.n + 1, at = excluded.at",
                (run, tool, sig, error_type, time.time()),
            )
