"""`railguard check`: the body of the command, shared by the Typer command (`_core.check`) and the
start-up fast path (`fast_check`), which reads check's few options itself so that deciding one action
imports neither Typer nor Rich (Rich loads for human-readable output or a progress bar on a terminal).

The fast path handles only what it can do exactly as Typer would: `--opt value`, `--opt=value`, `-p
value`, `-pvalue` for the options below. Anything else (an unknown option, a missing value, --help, a
stray argument) returns None and the caller hands the command line to Typer, whose errors are the
reference.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from railguard.cli._process import resume_collector
from railguard.cli._repeats import Answers, answers_for

if TYPE_CHECKING:
    from rich.console import Console

    from railguard._jsonl import Item
    from railguard.engine import Engine
    from railguard.model import Action, Decision

VERDICT_STYLE = {"allow": "green", "modify": "cyan", "ask": "yellow", "block": "bold red"}

# One encoder for the stream: `json.dumps(..., default=str)` builds a new one per call.
_ENCODE = json.JSONEncoder(default=str).encode


class CheckExit(Exception):
    """End the command with this exit code (the Typer command turns it into `typer.Exit`)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Consoles:
    """Rich consoles for stdout and stderr, created (and Rich imported) on first use."""

    def __init__(self) -> None:
        self._out: Console | None = None
        self._err: Console | None = None

    @property
    def out(self) -> Console:
        if self._out is None:
            from rich.console import Console

            self._out = Console(highlight=False, soft_wrap=True)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._err

    def error(self, prefix: str, detail: str) -> None:
        from rich.markup import escape

        self.err.print(f"[red]{escape(prefix)}:[/red] {escape(detail)}")


# Rich decides a stream is a terminal from these as well as from isatty(): when any is set, ask Rich.
_TERMINAL_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES")


def _is_terminal(stream: Any, console: Callable[[], Console]) -> bool:
    if any(name in os.environ for name in _TERMINAL_ENV):
        return console().is_terminal
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def load_engine(policy: list[Path] | None, pack: list[str] | None, mode: str | None, say: Consoles) -> Engine:
    from railguard.engine import Engine
    from railguard.errors import PolicyError

    try:
        # warm=False: a detector loads on the first action that needs it (outside the deadline), so
        # one `git status` never loads the SQL, PII or injection analyzers.
        return Engine([str(p) for p in policy or []] or None, packs=pack or None, mode=mode, warm=False)
    except PolicyError as e:
        say.error("policy error", str(e))
        raise CheckExit(2) from None


def open_input(path: str, say: Consoles) -> BinaryIO:
    """Bytes, not text: a line that is not UTF-8 is that line's error, not the whole stream's."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as e:
        say.err.print(f"[red]cannot read input:[/red] {path}: {e.strerror}")
        raise CheckExit(2) from None


def read_actions(stream: BinaryIO) -> Iterator[tuple[int, Action | None, str | None]]:
    from railguard._jsonl import read_objects
    from railguard.model import Action

    for item in read_objects(stream):
        yield (item.line, *_action_of(item, Action.from_dict))


def _action_of(item: Item, from_dict: Callable[[Any], Action]) -> tuple[Action | None, str | None]:
    if item.error is not None:
        return None, item.error
    try:
        return from_dict(item.value), None
    except (ValueError, TypeError) as e:
        return None, f"invalid action at line {item.line}: {e}"


def _regular_file(stream: BinaryIO) -> bool:
    """Input from a regular file never waits on its writer: its answers need no flush each."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def print_decision(out: Console, decision: Decision) -> None:
    from rich.markup import escape

    style = VERDICT_STYLE.get(decision.verdict.value, "")
    rules = f" [dim]({escape(', '.join(decision.rules))})[/dim]" if decision.rules else ""
    out.print(
        f"[{style}]{decision.verdict.value.upper():6}[/{style}] {escape(decision.tool)}: {escape(decision.reason)}{rules}"
        f" [dim]{decision.latency_us:.0f}µs[/dim]",
        emoji=False,  # a reason or tool name is data: ":x:" stays ":x:"
    )


def plain_decision(decision: Decision) -> str:
    """`print_decision`'s line as Rich writes it to a file or pipe (no colour, never wrapped), without
    importing Rich: a one-action `railguard check` in a script or hook pays for no renderer."""
    rules = f" ({', '.join(decision.rules)})" if decision.rules else ""
    return f"{decision.verdict.value.upper():6} {decision.tool}: {decision.reason}{rules} {decision.latency_us:.0f}µs"


class _DecisionLog:
    """`check --db`: one decision event per checked action, written (redacted) in batches by the one
    decision-log writer; the rest is flushed on exit."""

    _BATCH = 500

    def __init__(self, url: str, say: Consoles) -> None:
        from railguard.errors import RailguardError
        from railguard.store import open_store
        from railguard.trace._decision_log import DecisionLog

        self._say = say
        try:
            self._store = open_store(url)
        except RailguardError as e:
            say.error("store error", str(e))
            raise CheckExit(2) from None
        self._log = DecisionLog(self._store.write_decisions)
        self._pending: list[Decision] = []

    def add(self, decision: Decision) -> None:
        self._pending.append(decision)
        if len(self._pending) >= self._BATCH:
            self._flush()

    def _flush(self) -> None:
        from railguard.errors import RailguardError

        try:
            self._log.write(self._pending)
        except RailguardError as e:
            self._say.error("store error", str(e))
            raise CheckExit(2) from None
        self._pending = []

    def __enter__(self) -> _DecisionLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self._flush()
        finally:
            self._store.close()


class _BadLine(Exception):
    """An input line that is not an action (its message says which line and why)."""


def _progress(say: Consoles) -> AbstractContextManager[Callable[[int], None]]:
    """A stream written to a file or pipe shows its progress on the terminal (stderr), if there is one."""
    if _is_terminal(sys.stdout, lambda: say.out) or not _is_terminal(sys.stderr, lambda: say.err):
        return nullcontext(lambda _n: None)
    from railguard.cli._common import progress

    return progress("checking actions")


def run_check(
    policy: list[Path] | None,
    pack: list[str] | None,
    input: str,
    as_json: bool,
    mode: str | None,
    db: str | None,
) -> None:
    """Decide every action of the input; raises CheckExit(2) if any line was bad."""
    from railguard._jsonl import read_objects
    from railguard.model import Action

    from_dict = Action.from_dict
    clock = time.perf_counter_ns
    say = Consoles()
    engine = load_engine(policy, pack, mode, say)
    bad = 0
    write = sys.stdout.write
    plain = not as_json and not _is_terminal(sys.stdout, lambda: say.out)
    # A line seen before, answered from memory (JSON answers only: the decision log keeps events).
    repeats = answers_for(engine) if as_json and not db else None
    with ExitStack() as stack:
        log = stack.enter_context(_DecisionLog(db, say)) if db else None
        stream = stack.enter_context(open_input(input, say))
        advance = stack.enter_context(_progress(say))
        # One decision per line, as it is read: a pipe's reader may wait on it before writing more.
        flush = None if _regular_file(stream) else sys.stdout.flush
        stack.callback(sys.stdout.flush)
        answered = clock()  # a remembered answer's latency: the time since the answer before it
        for item in read_objects(stream, repeats.recall if repeats is not None else None):
            advance(1)
            if item.known is not None:
                write(Answers.answer(item.known, (clock() - answered) / 1000) + "\n")
                if flush is not None:
                    flush()
                answered = clock()
                continue
            line = item.line
            action, problem = _action_of(item, from_dict)
            try:
                if action is None:
                    raise _BadLine(str(problem))
                decision, repeatable = engine.check_repeatable(action)
                answer = _ENCODE(decision.to_json_line()) if as_json else None
                if repeats is not None and repeatable and answer is not None and item.text is not None:
                    repeats.remember(item.text, answer)
            except Exception as e:  # never let one input end the stream: it gets its own error line
                resume_collector()
                bad += 1
                why = (
                    str(e)
                    if isinstance(e, _BadLine)
                    else f"could not decide the input at line {line} ({type(e).__name__})"
                )
                if as_json:
                    write(json.dumps({"line": line, "error": why}) + "\n")
                    sys.stdout.flush()
                else:
                    say.error("error", why)
                answered = clock()
                continue
            if log is not None:
                log.add(decision)
            if answer is not None or plain:
                write((answer if answer is not None else plain_decision(decision)) + "\n")
                if flush is not None:
                    flush()
            else:
                print_decision(say.out, decision)
            # the first action has loaded what start-up loads (detectors load on first use): the
            # collector, paused while they loaded, runs again (a no-op once resumed or if never paused)
            resume_collector()
            answered = clock()
    if bad:
        raise CheckExit(2)


# check's options: name -> (destination, takes a value, repeatable)
_OPTIONS: dict[str, tuple[str, bool, bool]] = {
    "--policy": ("policy", True, True),
    "-p": ("policy", True, True),
    "--pack": ("pack", True, True),
    "--input": ("input", True, False),
    "-i": ("input", True, False),
    "--json": ("as_json", False, False),
    "--mode": ("mode", True, False),
    "--db": ("db", True, False),
}


def parse_args(args: list[str]) -> dict[str, Any] | None:
    """check's options as keyword arguments of `run_check`, or None for anything to leave to Typer."""
    found: dict[str, Any] = {
        "policy": [],
        "pack": [],
        "input": "-",
        "as_json": False,
        "mode": None,
        "db": None,
    }
    i = 0
    while i < len(args):
        token = args[i]
        name, value = token, None
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
        elif len(token) > 2 and token[:2] in ("-p", "-i") and not token.startswith("--"):
            name, value = token[:2], token[2:]
        spec = _OPTIONS.get(name)
        if spec is None:
            return None
        dest, takes_value, repeatable = spec
        if not takes_value:
            if value is not None:
                return None  # `--json=x`: Typer's error
            found[dest] = True
            i += 1
            continue
        if value is None:
            if i + 1 >= len(args):
                return None  # a missing value: Typer's error
            value = args[i + 1]
            i += 1
        i += 1
        if repeatable:
            found[dest].append(value)
        else:
            found[dest] = value
    found["policy"] = [Path(p) for p in found["policy"]] or None
    found["pack"] = found["pack"] or None
    return found


def fast_check(args: list[str]) -> int | None:
    """Run `railguard check ARGS` without Typer; its exit code, or None to let Typer run it."""
    options = parse_args(args)
    if options is None:
        return None
    try:
        run_check(**options)
    except CheckExit as done:
        return done.code
    return 0


__all__ = [
    "CheckExit",
    "Consoles",
    "fast_check",
    "load_engine",
    "open_input",
    "print_decision",
    "read_actions",
    "run_check",
]
