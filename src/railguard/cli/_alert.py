"""`railguard heartbeat` and `railguard digest`."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from railguard.cli._common import _UNIT_S, DbOpt, parse_since
from railguard.errors import RailguardError

if TYPE_CHECKING:
    from railguard.alert.heartbeat import HeartbeatConfig
    from railguard.alert.notifiers import Target

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

NotifyOpt = Annotated[
    list[str] | None,
    typer.Option("--notify", help="webhook:URL, slack:URL or smtp://host:port/?from=..&to=.. (repeatable)."),
]


def register(app: typer.Typer) -> None:
    app.command("heartbeat")(heartbeat)
    app.command("digest")(digest)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_duration(text: str) -> float:
    value = text.strip()
    try:
        return float(value[:-1]) * _UNIT_S[value[-1:]]
    except (KeyError, ValueError):
        raise typer.BadParameter(f"cannot read {text!r}: use 30s, 15m, 2h or 1d") from None


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


def digest(
    db: DbOpt = None,
    since: Annotated[
        str, typer.Option("--since", help="Window start: 24h, 7d, an ISO date or Unix seconds.")
    ] = "24h",
    fmt: Annotated[
        str, typer.Option("--format", help="md (chat) or html (email, inline SVG charts).")
    ] = "md",
    out_file: Annotated[
        str | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
    notify: NotifyOpt = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")] = None,
) -> None:
    """The morning briefing: runs, cost and tokens per agent, blocks and asks by rule, approvals,
    open findings, and what changed."""
    from pathlib import Path

    from railguard.alert.digest import build_digest, render_html, render_markdown
    from railguard.alert.notifiers import Message, deliver, parse_targets
    from railguard.store import open_store

    if fmt not in ("md", "html"):
        raise typer.BadParameter(f"--format {fmt!r}: use md or html")
    try:
        targets = parse_targets(notify or [])
        with open_store(db) as store:
            data = build_digest(store, since=parse_since(since), tenant=tenant)
    except RailguardError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    markdown = render_markdown(data)
    page = render_html(data) if fmt == "html" else markdown
    if out_file:
        Path(out_file).write_text(page, encoding="utf-8")
    else:
        print(page, end="")
    failed = 0
    for target in targets:
        message = Message(
            markdown.splitlines()[0].lstrip("# "),
            tuple(markdown.splitlines()[1:]),
            html=render_html(data),
            kind="railguard.digest",
        )
        try:
            deliver(target, message)
        except RailguardError as e:
            err.print(f"notify failed: {e}")
            failed += 1
    if failed:
        raise typer.Exit(1)
