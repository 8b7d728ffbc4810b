"""`railguard heartbeat` and `railguard digest`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from railguard.cli._traces import _DURATION, _UNIT_S, DbOpt
from railguard.errors import RailguardError

if TYPE_CHECKING:
    from railguard.alert.heartbeat import HeartbeatConfig
    from railguard.alert.notifiers import Target

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

NotifyOpt = Annotated[
    list[str] | None,
    typer.Option("--notify", help="webhook:URL, slack:URL or smtp://host:port/?from=..&to=.. (repeatable)."),
]


def register(app: typer.Typer) -> None:
    app.command("heartbeat")(heartbeat)


def parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter(f"cannot read {text!r}: use 30s, 15m, 2h or 1d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def heartbeat(
    db: DbOpt = None,
    notify: NotifyOpt = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Beat on this interval (15m) until stopped.")
    ] = None,
    renotify: Annotated[
        str, typer.Option("--renotify", help="Re-send a persisting problem after this long.")
    ] = "24h",
    approval_delay: Annotated[
        str, typer.Option("--approval-delay", help="Report approvals waiting longer.")
    ] = "15m",
    link_base: Annotated[
        str | None, typer.Option("--link-base", help="Dashboard URL for the items' links.")
    ] = None,
) -> None:
    """Run the checks; print HEARTBEAT_OK and exit 0 when nothing needs a person, else at most five
    items (most important first) and exit 1. Notifies only new, worse or re-notify-due problems."""
    from railguard.alert.heartbeat import HeartbeatConfig
    from railguard.alert.notifiers import parse_targets

    try:
        targets = parse_targets(notify or [])
    except RailguardError as e:
        raise typer.BadParameter(str(e)) from None
    config = HeartbeatConfig(
        renotify_s=parse_duration(renotify),
        approval_delay_s=parse_duration(approval_delay),
        link_base=link_base,
    )
    if every is None:
        raise typer.Exit(_one_beat(db, targets, config))
    interval = parse_duration(every)
    while True:
        _one_beat(db, targets, config)
        time.sleep(interval)


def _one_beat(db: str | None, targets: list[Target], config: HeartbeatConfig) -> int:
    from railguard.alert.heartbeat import beat, store_unreachable
    from railguard.store import open_store
    from railguard.trace import active_tracing

    tracing = active_tracing()
    dropped = tracing.stats()["dropped"] if tracing is not None else None
    try:
        with open_store(db) as store:
            result = beat(store, targets=targets, config=config, dropped_spans=dropped)
    except RailguardError as e:
        result = store_unreachable(str(e), targets)
    for line in result.lines():
        print(line)
    for problem in result.notify_errors:
        err.print(f"notify failed: {problem}")
    return 0 if result.ok else 1
