"""The pipeline's vocabulary, shared by the engine and the steps plugged into it.

A step is `(action, facts) -> hits`: it reads the per-action `Facts`, returns the rule hits it found
(one, several or none) and ends the chain by returning or raising `Stop(hits...)` — a decision
nothing after it may change, such as an engaged kill switch. Steps never write state while they
evaluate: a stateful guard (budget, limit, loop history) leaves a `Charge` on the facts, and the
engine takes the charges only when it admits the call to run (`Engine.admit`). So an `explain`, a
dry run, a refused call and a call waiting for a human cost nothing.

The store-backed guards batch their work: during the "guards" stage each one adds what it needs to
read and what it would charge to the `Batch` of its store (`Facts.batch`), and at the end of the
stage the engine flushes the batches: one transaction per store reads every guard's state in one
go, decides, and — when the call is on its way to be admitted — charges in that same transaction.
A charge taken there is recorded in `Facts.taken`; should a later step or the approval flow still
refuse the call, the engine gives it back (`Charge.undo`). So a decision with every cushion is one
store transaction, and a refused one changes nothing.

The deadline counts the evaluation's own CPU time (`Clock.cpu_ns`, the thread's CPU clock): a check
preempted on a busy machine is not cut off, a runaway rule or a pathological input still is. A much
larger wall-clock bound catches an evaluation that blocks. Garbage-collection pauses count against
neither bound (`railguard._gc_pauses`): they are the process's cost, not the evaluation's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from railguard import _gc_pauses as gc_pauses
from railguard.detect._budget import bounded
from railguard.detect.facts import FACTS, needs_warming, warm_facts
from railguard.errors import Stop
from railguard.model import Action, Mode, RuleHit, ToolSpec, Verdict

if TYPE_CHECKING:
    from railguard.policy import CompiledPolicy, ToolPlan

__all__ = [
    "DEADLINE_STAGES",
    "STAGES",
    "STORE_STAGES",
    "Batch",
    "Charge",
    "Clock",
    "Deadline",
    "DeadlineExceeded",
    "Facts",
    "RuleTrace",
    "Step",
    "StepResult",
    "Stop",
    "argument_problem",
]

STAGES = ("killswitch", "contract", "policy", "guards", "approval")
# The CPU deadline bounds evaluation in memory. The stateful stages talk to the store, whose own
# timeouts bound them: counting a slow database round trip as a runaway rule would fail closed on
# every busy moment of the database.
DEADLINE_STAGES = frozenset({"killswitch", "contract", "policy"})
# Stages whose steps may wait on the store: `acheck` runs them off the event loop.
STORE_STAGES = frozenset({"guards", "approval"})

WALL_BOUND_FACTOR = 20  # the wall-clock bound is this many CPU deadlines ...
WALL_BOUND_MIN_NS = 1_000_000_000  # ... and never under a second
MAX_ARG_DEPTH = 200  # nesting levels of objects and arrays in one call's arguments
MAX_ARG_NODES = 200_000  # values (objects, arrays, scalars) in one call's arguments
MAX_ARG_CHARS = 16 * 1024 * 1024  # characters of text (keys and strings) in one call's arguments


class DeadlineExceeded(Exception):
    """The evaluation ran past its deadline; the message says which bound and where."""


@dataclass(frozen=True, slots=True)
class Clock:
    """Where the deadline reads time. `cpu_ns`: the evaluating thread's CPU time; `wall_ns`:
    elapsed time. For a real thread CPU time never runs faster than wall time, so the deadline reads
    the (slower, a system call) CPU clock only once wall time has passed the CPU budget; an injected
    clock for tests must keep that property."""

    cpu_ns: Callable[[], int] = time.thread_time_ns
    wall_ns: Callable[[], int] = time.perf_counter_ns


SYSTEM_CLOCK = Clock()


class Deadline:
    """The CPU-time deadline of one evaluation, plus its wall-clock bound."""

    __slots__ = (
        "clock",
        "cpu_budget_ns",
        "cpu_start",
        "paused_cpu_at",
        "paused_wall_at",
        "quiet_until",
        "wall_ns",
        "wall_start",
    )

    def __init__(self, clock: Clock, cpu_budget_ns: int) -> None:
        self.clock = clock
        self.wall_ns = wall_ns = clock.wall_ns
        self.cpu_budget_ns = cpu_budget_ns
        self.wall_start = start = wall_ns()
        self.cpu_start = _cpu_start(clock, start, cpu_budget_ns)
        gc_pauses.use_clock(clock)
        self.paused_wall_at, self.paused_cpu_at = gc_pauses.snapshot()
        # Until this wall-clock time no bound can have been passed (CPU time <= wall time): hot
        # loops compare `deadline.wall_ns()` with it and call `check` only past it.
        self.quiet_until = start + cpu_budget_ns

    @property
    def wall_bound_ns(self) -> int:
        return max(self.cpu_budget_ns * WALL_BOUND_FACTOR, WALL_BOUND_MIN_NS)

    def exclude(self, work: Callable[..., object], *args: Any) -> None:
        """Run `work` off the clock: the wall and CPU time it takes count against neither bound (a
        detector loading on the first action that reads its fact is start-up, not evaluation)."""
        wall, cpu = self.clock.wall_ns(), self.clock.cpu_ns()
        paused = gc_pauses.snapshot()
        work(*args)
        wall_spent, cpu_spent = self.clock.wall_ns() - wall, self.clock.cpu_ns() - cpu
        self.wall_start += wall_spent
        self.quiet_until += wall_spent
        self.cpu_start += cpu_spent
        # A collection during `work` is in the time just excluded: not to be subtracted twice.
        paused_wall, paused_cpu = gc_pauses.snapshot()
        self.paused_wall_at += paused_wall - paused[0]
        self.paused_cpu_at += paused_cpu - paused[1]

    def elapsed_us(self) -> float:
        return (self.clock.wall_ns() - self.wall_start) / 1000

    def check(self, where: str) -> None:
        wall = self.clock.wall_ns() - self.wall_start
        if wall <= self.cpu_budget_ns:
            return  # CPU time <= wall time: within budget without reading the CPU clock
        wall -= gc_pauses.wall_paused_ns() - self.paused_wall_at
        if wall > self.wall_bound_ns:
            raise DeadlineExceeded(
                f"evaluation exceeded its {self.wall_bound_ns / 1e6:g} ms wall-clock deadline ({where})"
            )
        cpu = self.clock.cpu_ns() - self.cpu_start - (gc_pauses.cpu_paused_ns() - self.paused_cpu_at)
        if cpu > self.cpu_budget_ns:
            raise DeadlineExceeded(
                f"evaluation exceeded its {self.cpu_budget_ns / 1e6:g} ms CPU-time deadline ({where})"
            )


_samples = threading.local()


def _cpu_start(clock: Clock, wall_now: int, cpu_budget_ns: int) -> int:
    """The thread's CPU time now. Reading it is a system call (~1.5 µs, as much as a fifth of a
    check), so with the system clock a reading taken on this thread less than `budget / 50` (at
    most 1 ms) of wall time ago is reused: the CPU used since is at most that gap, so the deadline
    can only come that much sooner, never later. Injected clocks are read every time."""
    if clock is not SYSTEM_CLOCK:
        return clock.cpu_ns()
    last: tuple[int, int] | None = getattr(_samples, "last", None)
    if last is not None and 0 <= wall_now - last[0] < min(cpu_budget_ns // 50, 1_000_000):
        return last[1]
    cpu = clock.cpu_ns()
    _samples.last = (wall_now, cpu)
    return cpu


StepResult = RuleHit | Iterable[RuleHit] | Stop | None


@dataclass(frozen=True, slots=True)
class Charge:
    """What an admitted call costs one stateful guard. `take` charges atomically and returns the
    refusing hits when a cap was reached since the evaluation (then it charged nothing); `undo` gives
    back a charge already taken when a later guard's charge refuses."""

    name: str
    take: Callable[[], Sequence[RuleHit]]
    undo: Callable[[], object]


class Batch(Protocol):
    """The stateful guards' work on one store for one evaluation (see the module docstring).
    `flush` runs it once, at the end of the stage its guards ran in: it adds their hits to
    `facts.hits`, and either charges (adding to `facts.taken`) or leaves a `Charge` for admission."""

    def flush(self, facts: Facts) -> None: ...


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule evaluated, for `explain`."""

    rule: str
    verdict: Verdict
    when: str | None
    matched: bool
    exception: str | None = None
    error: str | None = None


def _load_detector(name: str) -> None:
    with bounded(None):  # loading is not the action's analysis: no deadline checks inside
        warm_facts((name,))


class Facts:
    """Per-action state of one evaluation, shared by every step and rule: lazy detector facts
    (computed once, inside the deadline), the hits so far, the charges to take on admission, the
    acting mode, and the approval that covers the call, if any."""

    __slots__ = (
        "_failures",
        "_values",
        "action",
        "approval_id",
        "approved_rules",
        "batches",
        "cel_stale",
        "charged",
        "charges",
        "deadline",
        "decision_id",
        "dry_run",
        "hits",
        "mode",
        "plan",
        "policy",
        "rewrites",
        "spec",
        "store_ns",
        "taken",
        "traces",
    )

    def __init__(
        self,
        action: Action,
        policy: CompiledPolicy,
        plan: ToolPlan,
        spec: ToolSpec | None,
        deadline: Deadline,
        *,
        mode: Mode,
        dry_run: bool = False,
        traces: list[RuleTrace] | None = None,
    ) -> None:
        self.action = action
        self.decision_id = ""  # the engine's id of this decision (set before the steps run)
        self.policy = policy
        self.plan = plan
        self.spec = spec
        self.deadline = deadline
        self.mode = mode  # the mode that acts: the engine's `mode=` if given, else the policy's
        self.dry_run = dry_run  # explain / backtest: steps must not change anything
        self.traces = traces  # a list when `explain` wants every rule's evaluation
        self.hits: list[RuleHit] = []
        self.charges: list[Charge] = []
        self.taken: list[Charge] = []  # charged during the evaluation: given back if the call is refused
        self.batches: dict[object, Batch] = {}  # by store: flushed at the end of the guards' stage
        self.store_ns = 0  # wall time the batches spent in the store
        self.rewrites = False  # an enforced `modify` rule matched: the arguments may be rewritten
        # A retry of a call already admitted (same call id, same arguments): the stateful guards
        # neither charge it again nor refuse it for what it already spent.
        self.charged = False
        self.approval_id: str | None = None  # set when a human's approval covers this call
        self.approved_rules: frozenset[str] | None = None  # the asking rules it covers (None: all)
        self._values: dict[str, Any] = {}
        self._failures: dict[str, Exception] = {}  # the facts of `_values` that failed, by name
        # The policy's CEL context does not hold this action's variables (its policy step's outcome
        # was remembered): readers after the rules go through `policy.cel_context(action, facts)`.
        self.cel_stale = False

    @property
    def on_error(self) -> Verdict:
        """The verdict of a failure: the policy's `on_error`, else block in enforce mode, allow in audit."""
        chosen = self.policy.source.on_error
        return chosen or (Verdict.BLOCK if self.mode is Mode.ENFORCE else Verdict.ALLOW)

    def get(self, name: str) -> Any:
        """The fact `name`; a failure is cached and raised again for every reader."""
        if name in self._values:
            value = self._values[name]
            if isinstance(value, _FactFailed):
                raise value.error
            return value
        provider = FACTS.get(name)
        if provider is None:
            raise KeyError(f"no fact named '{name}'; known facts: {', '.join(FACTS)}")
        if needs_warming(
            name, self.action, self.spec
        ):  # the first reader in this process loads the detector, off the clock
            self.deadline.exclude(_load_detector, name)
        try:
            with bounded(self.deadline.check, self.deadline.exclude):
                value = provider.provide(self.action, self.spec, self.get)
        except DeadlineExceeded:
            raise
        except Exception as err:
            self._values[name] = _FactFailed(err)
            self._failures[name] = err
            raise
        self._values[name] = value
        return value

    @property
    def computed(self) -> dict[str, Any]:
        """The facts computed so far (failed ones as their error)."""
        return {k: (v.error if isinstance(v, _FactFailed) else v) for k, v in self._values.items()}

    def failed(self) -> dict[str, Exception]:
        return dict(self._failures) if self._failures else {}  # asked several times per check

    @property
    def provisional(self) -> Verdict:
        """The strictest enforce-mode verdict so far (stateful guards skip reading the store for a
        call already blocked)."""
        verdict = Verdict.ALLOW
        for hit in self.hits:
            if hit.mode is Mode.ENFORCE and hit.verdict.rank > verdict.rank:
                verdict = hit.verdict
        return verdict

    def check_deadline(self, where: str) -> None:
        self.deadline.check(where)

    def on_admit(self, charge: Charge) -> None:
        """Take `charge` if (and only when) the engine admits this call to run."""
        self.charges.append(charge)

    def batch(self, owner: object, make: Callable[[], Batch]) -> Batch:
        """The batch of `owner` (a store) for this evaluation, made on first use."""
        found = self.batches.get(owner)
        if found is None:
            found = self.batches[owner] = make()
        return found

    def flush_batches(self) -> None:
        """Run the pending batches (the engine calls this at the end of each stage)."""
        while self.batches:
            owner = next(iter(self.batches))  # in the order the guards asked
            self.batches.pop(owner).flush(self)

    def give_back(self) -> list[Exception]:
        """Undo the charges taken during the evaluation (the call is refused after all); the
        failures, which the caller reports."""
        failed: list[Exception] = []
        while self.taken:
            charge = self.taken.pop()
            try:
                charge.undo()
            except Exception as err:
                failed.append(err)
        return failed


class _FactFailed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class Step(Protocol):
    """A pipeline step. Steps add hits; they never raise for a normal outcome (a raise other than
    `Stop` is a failure of the step, decided by the policy's `on_error`)."""

    def __call__(self, action: Action, facts: Facts) -> StepResult: ...


def add_result(hits: list[RuleHit], result: StepResult) -> bool:
    """Add a step's hits; True when the step stopped the chain."""
    if result is None:
        return False
    if isinstance(result, RuleHit):
        hits.append(result)
        return False
    if isinstance(result, Stop):
        hits.extend(result.hits)
        return True
    hits.extend(result)
    return False


def argument_problem(args: Mapping[str, Any]) -> str | None:
    """Why these arguments are too deep or too large to evaluate, or None. Iterative, so it answers
    for any input (the detectors, CEL and `json.dumps` recurse)."""
    if type(args) is not dict and not isinstance(args, Mapping):
        return f"the arguments must be a JSON object (name -> value), not {type(args).__name__}"
    chars = 0
    for key, value in args.items():  # the common case, flat arguments, without the walk below
        kind = type(value)
        if kind is str:
            chars += len(value) + (len(key) if type(key) is str else 0)
        elif kind not in _SCALARS:
            return _walk_problem(args)
    return _too_many_chars() if chars > MAX_ARG_CHARS or len(args) > MAX_ARG_NODES else None


_SCALARS = frozenset({int, float, bool, type(None)})


def _walk_problem(args: Mapping[str, Any]) -> str | None:
    stack: list[tuple[Any, int]] = [(args, 0)]
    nodes = chars = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(value, Mapping | list | tuple):
            if depth >= MAX_ARG_DEPTH:
                return f"the arguments nest deeper than {MAX_ARG_DEPTH} levels; flatten them"
            if isinstance(value, Mapping):
                for key, child in value.items():
                    chars += len(key) if isinstance(key, str) else 0
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in value)
        if nodes > MAX_ARG_NODES:
            return f"the arguments hold more than {MAX_ARG_NODES:,} values; send less"
        if chars > MAX_ARG_CHARS:
            return _too_many_chars()
    return None


def _too_many_chars() -> str:
    return f"the arguments hold more than {MAX_ARG_CHARS:,} characters of text (or values); send less"
