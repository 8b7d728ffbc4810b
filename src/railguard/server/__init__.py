"""railguard.server: the HTTP side of Railguard (FastAPI). Today: OTLP/HTTP trace ingest
(`POST /v1/traces`) and health checks; the guard API, approvals, policies and the dashboard mount
their own routers on the same app.

    app = create_app(db_url="postgresql://railguard@db/railguard")   # or: railguard serve --db URL
"""

from railguard.server.app import create_app

__all__ = ["create_app"]
