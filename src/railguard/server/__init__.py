"""railguard.server: the HTTP side of Railguard (FastAPI): the guard API, OTLP/HTTP trace ingest
(`POST /v1/traces`), keys, health checks; every request authenticated by an API key.

    app = create_app(db_url="postgresql://railguard@db/railguard")   # or: railguard serve --db URL
"""

from railguard.server.app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
