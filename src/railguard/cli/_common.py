"""What every store-reading command shares: the --db/--json options, opening a store (readers never
create one), JSON Lines output, resolving an id the user shortened, and progress on a terminal."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from railguard.errors import RailguardError

if TYPE_CHECKING:  # the store loads on first use, not at CLI start-up
    from railguard.store import Store

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DbOpt = Annotated[
    str | None, typer.Option("--db", help="Store URL (default: $RAILGUARD_DB or ./.railguard/railguard.db).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON Lines: one object per line.")]
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Only after: 30m, 2h, 7d, an ISO date or Unix seconds."),
]

_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def fail(prefix: str, detail: str = "", code: int = 1) -> NoReturn:
    """Print `prefix: detail` in red on stderr and exit with `code`."""
    err.print(f"[red]{escape(prefix)}:[/red] {escape(detail)}" if detail else f"[red]{escape(prefix)}[/red]")
    raise typer.Exit(code)


def open_store_or_exit(db: str | None, *, create: bool = True) -> Store:
    """The store, or a clear message and exit 2. `create=False` for commands that only read: a store
    that does not exist yet is reported (with where it was looked for), never created empty."""
    from railguard.store import open_store

    try:
        return open_store(db, create=create)
    except RailguardError as e:
        fail("store error", str(e), 2)


def parse_since(text: str, now: float | None = None) -> float:
    """Unix seconds from `30m` / `2h` / `7d` / `1w`, an ISO date(-time) or Unix seconds."""
    now = time.time() if now is None else now
    value = text.strip()
    if value[-1:] in _UNIT_S:
        try:
            return now - float(value[:-1]) * _UNIT_S[value[-1]]
        except ValueError:
            pass
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise typer.BadParameter(
            f"cannot read {text!r}: use 30m, 2h, 7d, 2025-01-31 or Unix seconds"
        ) from None


def print_jsonl(records: Iterable[Mapping[str, Any]]) -> None:
    """One JSON object per line: the one `--json` convention of every command."""
    for record in records:
        sys.stdout.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def resolve_id(kind: str, given: str, matches: Sequence[str], hint: str = "") -> str:
    """The one id `given` stands for, or exit 1 saying none or several matched."""
    if len(matches) == 1:
        return matches[0]
    if not matches:
        fail(f"no {kind}", f"nothing matches {given!r}{hint}")
    fail(f"ambiguous {kind} id", f"{given!r} matches {', '.join(matches)}...; give more characters")


def when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


UNKNOWN = "\u2013"  # an en dash: the value is not known (never shown as a made-up 0)


def usd(value: float | None) -> str:
    """A cost for people: UNKNOWN when no priced call contributed to it."""
    return UNKNOWN if not value else f"{value:.4f}"


@contextmanager
def progress(
    description: str, total: int | None = None, *, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr when it is a terminal (and `enabled`); a no-op elsewhere (pipes,
    CI logs). Yields `advance(n)`."""
    if not enabled or not err.is_terminal:
        yield lambda _n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        redirect_stdout=False,  # stdout is the command's output (often a file): never into the bar
        redirect_stderr=False,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
