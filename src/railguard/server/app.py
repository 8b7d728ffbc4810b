"""The FastAPI application: one router per resource, all sharing one `Store` on `app.state.store`.
Every route but /healthz and /readyz needs a key (see _auth.py), /docs and /openapi.json included."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from railguard import __version__
from railguard.policy import CompiledPolicy, load_policy
from railguard.server._auth import Authenticator, AuthError
from railguard.server._body_limit import DEFAULT_MAX_BODY_BYTES, bounded_receive
from railguard.server._engines import TenantEngines
from railguard.server._guard import GuardService
from railguard.server._heartbeat import HeartbeatSchedule, HeartbeatScheduler
from railguard.server._ratelimit import SharedRateLimiter
from railguard.server.routes import (
    approvals,
    audit,
    diagnose,
    docs,
    guard,
    health,
    keys,
    otlp,
    policies,
    runs,
    ui,
    ui_diagnose,
    ui_replay,
)
from railguard.server.routes import rules as rule_drafts
from railguard.server.routes.proposals import router as proposals_api
from railguard.server.routes.ui_proposals import router as proposals_ui
from railguard.store import BatchWriter, KeyRing, Store, open_store


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """`policy`/`packs`: what a tenant without an active revision runs (default: the default pack).
    `rate_per_s`: requests per second per key unless the key sets its own. `shared_rate_limits`:
    count them in the store, once across every replica (None: on PostgreSQL, where replicas run; a
    single SQLite process counts in memory; `serve --workers N` shares them on SQLite too). `key_cache_s`: how long
    a key lookup is reused (a revocation reaches other replicas within it). `guard_threads`: the
    bounded pool checks run in. `revision_refresh_s`: how often activations are picked up."""

    policy: tuple[str, ...] = ()
    packs: tuple[str, ...] = ()
    rate_per_s: float = 1000.0
    shared_rate_limits: bool | None = None
    key_cache_s: float = 1.0
    guard_threads: int = 8
    revision_refresh_s: float = 0.5
    otlp: otlp.OtlpSettings = field(default_factory=otlp.OtlpSettings)
    heartbeat: HeartbeatSchedule | None = None  # diagnosis + heartbeat on a schedule (one replica per slot)
    # Freeze what start-up loaded out of the garbage collector's reach, collect the young generation
    # less often and shorten the GIL's switch interval (see the lifespan): for a server process
    # (`railguard serve` sets it), not for an app embedded in a bigger process, e.g. tests.
    freeze_gc: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # every route but OTLP ingest (413 above it)

    def default_policy(self) -> Callable[[], CompiledPolicy]:
        paths = [str(Path(p)) for p in self.policy]
        packs = list(self.packs) or (None if paths else ["default"])
        compiled = load_policy(
            paths or None, packs=packs
        )  # a bad policy fails at start, not at the first call
        return lambda: compiled


# Net container allocations between young collections (CPython: 700). The hot path's own objects die
# by reference count; what makes the count grow is the decisions waiting in the background writer's
# queue (two containers each, as rows: a backlog of up to 25,000 decisions; as the records they were,
# eight or so, and a writer held up by the GIL queued over 7,000 of them).
# Above that a steady stream of checks triggers no collection at all; at 10,000 one ran every ~0.2 s,
# a pause of 5-7 ms that every request in flight waited out (benchmarks/bench_server_inproc.py).
GC_YOUNG_THRESHOLD = 50_000

# How long a thread holding the GIL keeps it from one that waits (CPython: 5 ms). The event loop
# releases the GIL at every poll; when the store writer's thread takes it meanwhile, the loop waited
# out the whole interval before serving again: 5 ms stalls while a batch was written, the guard API's
# p99. At 0.5 ms the loop waits at most that; the writer still gets its turns, in smaller slices.
GIL_SWITCH_INTERVAL_S = 0.0005


def _freeze_gc() -> None:
    """What start-up loaded (modules, policies, SQLAlchemy metadata, the price table) lives as long
    as the server: frozen, a full collection no longer walks it, which had doubled the median render
    of a long run's replay (its ~100k short-lived objects trigger one) and, left unfrozen, made each
    full collection a pause of tens of milliseconds in the guard API's tail."""
    gc.collect()
    gc.freeze()


def _warm_up(settings: otlp.OtlpSettings, freeze_gc: bool) -> None:
    otlp.warm_up(settings)
    if freeze_gc:  # what the warm-up loaded too (one collection, while the server starts)
        _freeze_gc()


class RailguardApp(FastAPI):
    """FastAPI, with the guard API's evaluate endpoints answered before its middleware and routing
    (see routes/guard.py); every other request, and these under a root path, take the usual way."""

    max_body_bytes = DEFAULT_MAX_BODY_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            bounded = await bounded_receive(scope, receive, send, self.max_body_bytes)
            if bounded is None:
                return
            receive = bounded
        if scope["type"] == "http" and scope["method"] == "POST" and not self.root_path:
            answer = guard.HOT_PATHS.get(scope["path"])
            if answer is not None and not scope.get("root_path"):
                scope["app"] = self
                await guard.answer_hot(answer, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    store: Store | None = None,
    *,
    db_url: str | None = None,
    settings: ServerSettings | None = None,
    otlp_settings: otlp.OtlpSettings | None = None,
) -> FastAPI:
    """The Railguard server app. `store`: an open store (the caller closes it); else one is opened
    from `db_url` (None: $RAILGUARD_DB or the local SQLite file) and closed at shutdown."""
    owned = store is None
    the_store = store if store is not None else open_store(db_url)
    config = settings or ServerSettings()
    engines = TenantEngines(
        the_store, default_policy=config.default_policy(), refresh_s=config.revision_refresh_s
    )
    writer = BatchWriter(the_store, rows_on_submit=True)
    service = GuardService(engines, writer, threads=config.guard_threads)
    scheduler = HeartbeatScheduler(the_store, config.heartbeat) if config.heartbeat else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Load the detectors now (seconds on a busy machine), not in the first client's timeout.
        await run_in_threadpool(engines.warm)
        engines.start()
        # Off the event loop and not awaited: the server answers while the scanner compiles.
        threading.Thread(
            target=_warm_up, args=(app.state.otlp, config.freeze_gc), name="railguard-warm-up", daemon=True
        ).start()
        if scheduler is not None:
            scheduler.start()
        if config.freeze_gc:
            _freeze_gc()
            # The hot path makes almost no cyclic garbage (its objects die by reference count), so
            # young collections only walk in-flight requests' objects: far fewer of them.
            gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.close()
            service.close()
            app.state.auth.close()
            engines.close()
            writer.close()
            if owned:
                the_store.close()

    app = RailguardApp(
        title="Railguard",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by routes/docs.py, behind the same auth as the API
    )
    app.max_body_bytes = config.max_body_bytes
    app.state.store = the_store
    app.state.settings = config
    app.state.otlp = otlp_settings or config.otlp
    shared = config.shared_rate_limits
    if shared is None:
        shared = the_store.dialect == "postgresql"
    app.state.auth = Authenticator(
        KeyRing(the_store), default_rate_per_s=config.rate_per_s, cache_s=config.key_cache_s,
        limiter=SharedRateLimiter(the_store) if shared else None,
    )  # fmt: skip
    app.state.engines = engines
    app.state.guard = service
    app.state.writer = writer
    app.state.heartbeat = scheduler

    @app.exception_handler(AuthError)
    async def _auth_error(_request: Request, err: AuthError) -> JSONResponse:
        http = err.http()
        return JSONResponse({"detail": err.message}, status_code=err.status, headers=http.headers)

    for module in (
        health,
        otlp,
        guard,
        approvals,
        runs,
        diagnose,
        policies,
        keys,
        audit,
        docs,
        ui_diagnose,
        ui_replay,
        ui,
    ):
        app.include_router(module.router)
    app.include_router(rule_drafts.router)
    app.include_router(proposals_api)
    app.include_router(proposals_ui)
    app.mount("/static", StaticFiles(directory=str(ui.STATIC_DIR)), name="static")
    return app
