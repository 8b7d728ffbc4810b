"""`/openapi.json` and `/docs`, behind the same auth as the API (any valid key). The docs page is
rendered here from the schema: no CDN, works offline."""

from __future__ import annotations

import html
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from railguard.server._auth import Principal, require

router = APIRouter(tags=["docs"], include_in_schema=False)
Describer = Annotated[Principal, Depends(require("describe"))]


@router.get("/openapi.json")
async def openapi_json(request: Request, _principal: Describer) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/docs", response_class=HTMLResponse)
async def docs_page(request: Request, _principal: Describer) -> str:
    schema: dict[str, Any] = request.app.openapi()
    rows = []
    for path, operations in sorted(schema.get("paths", {}).items()):
        for method, op in operations.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            example = (body.get("schema", {}).get("examples") or [None])[0]
            rows.append(
                f"<section><h2><code>{html.escape(method.upper())} {html.escape(path)}</code></h2>"
                f"<p>{html.escape(op.get('description') or op.get('summary') or '')}</p>"
                + (f"<pre>{html.escape(json.dumps(example, indent=2))}</pre>" if example else "")
                + "</section>"
            )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Railguard API</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "code,pre{font-family:ui-monospace,monospace}pre{background:#8881;padding:.5rem;overflow:auto}"
        "@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}}</style>"
        f"<h1>Railguard API {html.escape(str(schema.get('info', {}).get('version', '')))}</h1>"
        "<p>Every request needs <code>Authorization: Bearer KEY</code>. The machine-readable schema is "
        "<a href=/openapi.json>/openapi.json</a>.</p>" + "".join(rows)
    )
