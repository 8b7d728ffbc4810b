"""`railguard serve` (the control room: guard API, OTLP ingest, JSON API, health) and
`railguard retention` (delete old data)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from railguard._extras import require

# One store-opening helper and --db option for every command that takes a store URL.
from railguard.cli._common import DbOpt, progress
from railguard.cli._common import open_store_or_exit as _open_store_or_exit
from railguard.cli._core import PackOpt, PolicyOpt
from railguard.errors import ConfigurationError, PolicyError, RailguardError
from railguard.store import AuditLog, GuardAnswers, KeyRing, Store

if TYPE_CHECKING:
    from railguard.server._heartbeat import HeartbeatSchedule

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# What `--workers N` hands each worker process (uvicorn imports the app factory by name).
_ENV_POLICY, _ENV_PACKS = "RAILGUARD_SERVE_POLICY", "RAILGUARD_SERVE_PACKS"


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(retention)


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind (0.0.0.0 exposes it to the network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    db: DbOpt = None,
    policy: PolicyOpt = None,
    pack: PackOpt = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes (each stateless; state is in the store).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log one line per request (off by default: noise, and CPU on the guard API's hot path).",
        ),
    ] = False,
    heartbeat_every: Annotated[
        str | None,
        typer.Option(
            "--heartbeat-every",
            envvar="RAILGUARD_HEARTBEAT_EVERY",
            help="Run diagnosis + the heartbeat per tenant on this interval (15m); one replica per interval.",
        ),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            envvar="RAILGUARD_HEARTBEAT_NOTIFY",
            help="Where the scheduled heartbeat sends: webhook:URL, slack:URL, smtp://... (repeatable).",
        ),
    ] = None,
) -> None:
    """Run the Railguard server: the guard API (/v1/guard/evaluate), OTLP/HTTP ingest (/v1/traces),
    the JSON API, /healthz, /readyz and /openapi.json. Every request needs an API key
    (`railguard keys create`); on first start an admin key is created and printed once."""
    try:
        require("server", "fastapi", "uvicorn")
    except ConfigurationError as e:
        err.print(f"[red]cannot serve:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    if workers < 1:
        err.print("[red]error:[/red] --workers must be at least 1")
        raise typer.Exit(2)
    import uvicorn

    from railguard.server import ServerSettings, create_app
    from railguard.server._http import http_protocol
    from railguard.server._supervisor import REUSEPORT_AVAILABLE, reuseport_sockets

    base = f"http://{host}:{port}"
    schedule = _heartbeat_schedule(heartbeat_every, notify or [], base)
    settings = ServerSettings(
        policy=tuple(str(p) for p in policy or []),
        packs=tuple(pack or []),
        heartbeat=schedule,
        freeze_gc=True,
    )
    store = _open_store_or_exit(db)
    try:
        try:
            settings.default_policy()
        except PolicyError as e:
            err.print(f"[red]policy error:[/red] {escape(str(e))}")
            raise typer.Exit(2) from None
        sockets = []
        if workers > 1 and REUSEPORT_AVAILABLE:  # bound now: a port in use fails before the key is printed
            try:
                sockets = reuseport_sockets(host, port, workers)
            except OSError as e:
                err.print(f"[red]cannot listen on {escape(base)}:[/red] {escape(str(e))}")
                raise typer.Exit(2) from None
        _first_admin_key(store, base)
        out.print(
            f"railguard: serving on {escape(base)} (API at /v1, OTLP at /v1/traces), store {escape(store.url_display)}"
        )
        if workers == 1:
            uvicorn.run(
                create_app(store, settings=settings), host=host, port=port, log_level=log_level,
                access_log=access_log, http=http_protocol(),
            )  # fmt: skip
            return
        os.environ["RAILGUARD_DB"] = (
            db or os.environ.get("RAILGUARD_DB") or str(Path(".railguard/railguard.db"))
        )
        os.environ[_ENV_POLICY] = os.pathsep.join(settings.policy)
        os.environ[_ENV_PACKS] = ",".join(settings.packs)
        if schedule is not None:  # every worker gets the schedule; the store's lease picks one per interval
            os.environ["RAILGUARD_HEARTBEAT_EVERY"] = f"{schedule.every_s}s"
            os.environ["RAILGUARD_HEARTBEAT_NOTIFY"] = " ".join(schedule.targets)
            os.environ["RAILGUARD_HEARTBEAT_LINK_BASE"] = schedule.link_base or ""
        if REUSEPORT_AVAILABLE:
            _supervise(sockets, log_level, access_log)
            return
        uvicorn.run(
            "railguard.cli._serve:app_from_env", factory=True, host=host, port=port, workers=workers,
            log_level=log_level, access_log=access_log, http=http_protocol(),
        )  # fmt: skip
    finally:
        store.close()


def _supervise(sockets: list[socket.socket], log_level: str, access_log: bool) -> None:
    """One worker process per SO_REUSEPORT socket, restarted when it dies, until SIGTERM/SIGINT."""
    from railguard.server import _worker
    from railguard.server._supervisor import Supervisor

    def command(_index: int, fd: int) -> list[str]:
        return _worker.command(fd, log_level=log_level, access_log=access_log)

    Supervisor(sockets, command).run()


def app_from_env() -> object:
    """The app of one `--workers` process (its settings come through the environment)."""
    from railguard.server import ServerSettings, create_app

    policy = tuple(p for p in os.environ.get(_ENV_POLICY, "").split(os.pathsep) if p)
    packs = tuple(p for p in os.environ.get(_ENV_PACKS, "").split(",") if p)
    from railguard.server._heartbeat import schedule_from_env

    # Worker processes share each key's rate through the store, on SQLite as on PostgreSQL: counted
    # in each process's memory, N workers would let a key through at N times its rate.
    settings = ServerSettings(
        policy=policy, packs=packs, heartbeat=schedule_from_env(), freeze_gc=True, shared_rate_limits=True
    )
    return create_app(settings=settings)


def _heartbeat_schedule(every: str | None, notify: list[str], base: str) -> HeartbeatSchedule | None:
    """The scheduled heartbeat's settings (None without --heartbeat-every); exits 2 on a bad value."""
    from railguard.server._heartbeat import HeartbeatSchedule, parse_every

    if every is None:
        if notify:
            err.print("[red]error:[/red] --notify needs --heartbeat-every (e.g. --heartbeat-every 15m)")
            raise typer.Exit(2)
        return None
    try:
        return HeartbeatSchedule(parse_every(every), tuple(notify), link_base=base)
    except (ValueError, ConfigurationError) as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None


def _first_admin_key(store: Store, base: str) -> None:
    """A store with no active key gets an admin key for every tenant, printed once with a login URL."""
    keys = KeyRing(store)
    if keys.count_active():
        return
    created = keys.create(tenant="*", role="admin", name="first-admin", actor="railguard serve")
    out.print("[bold]no API keys yet: an admin key for every tenant, shown once:[/bold]")
    print(f"  key:       {created.key}", flush=True)  # plain print: a terminal's width must not wrap it
    print(f"  dashboard: {base}/login?key={created.key}", flush=True)


def retention(
    days: Annotated[
        float, typer.Option("--days", help="Delete runs and decisions older than this many days.")
    ],
    db: DbOpt = None,
    batch_size: Annotated[int, typer.Option(help="Rows per delete transaction (keeps locks short).")] = 5000,
) -> None:
    """Delete runs (with their spans) that ended, and decisions taken, more than --days ago."""
    if days <= 0 or batch_size <= 0:
        err.print("[red]--days and --batch-size must be positive[/red]")
        raise typer.Exit(2)
    store = _open_store_or_exit(db, create=False)
    try:
        with progress(f"deleting data older than {days:g} days") as advance:
            deleted = store.delete_older_than(days, batch_size=batch_size, on_batch=advance)
        deleted += GuardAnswers(store).delete_older_than(days * 86_400)  # the guard API's idempotency answers
        AuditLog(store).append(
            tenant="*", actor="cli:retention", action="retention.run", subject=f"{days:g}d",
            details={"deleted_rows": deleted},
        )  # fmt: skip
    except RailguardError as e:
        err.print(f"[red]store error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    out.print(f"deleted {deleted} rows older than {days:g} days from {escape(store.url_display)}")
