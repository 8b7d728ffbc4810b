"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from railguard.errors import StoreError
from railguard.store import Store

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (says nothing about the database)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready to take traffic: the store answers a query. 503 otherwise."""
    store: Store = request.app.state.store
    try:
        await run_in_threadpool(_ping, store)
    except StoreError:
        return JSONResponse({"status": "unavailable", "store": store.dialect}, status_code=503)
    return JSONResponse({"status": "ok", "store": store.dialect})


def _ping(store: Store) -> None:
    with store.read_connection() as conn:
        conn.execute(text("SELECT 1"))
