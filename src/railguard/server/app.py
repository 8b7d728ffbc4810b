"""The FastAPI application: one router per resource, all sharing one `Store` on `app.state.store`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from railguard import __version__
from railguard.server.routes import health, otlp
from railguard.store import Store, open_store


def create_app(
    store: Store | None = None,
    *,
    db_url: str | None = None,
    otlp_settings: otlp.OtlpSettings | None = None,
) -> FastAPI:
    """The Railguard server app. `store`: an open store (the caller closes it); else one is opened
    from `db_url` (None: $RAILGUARD_DB or the local SQLite file) and closed at shutdown.
    `otlp_settings`: ingest limits and token (default: $RAILGUARD_INGEST_TOKEN, 16 MiB bodies)."""
    owned = store is None
    the_store = store if store is not None else open_store(db_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                the_store.close()

    app = FastAPI(title="Railguard", version=__version__, lifespan=lifespan)
    app.state.store = the_store
    app.state.otlp = otlp_settings or otlp.OtlpSettings.from_env()
    app.include_router(health.router)
    app.include_router(otlp.router)
    return app
