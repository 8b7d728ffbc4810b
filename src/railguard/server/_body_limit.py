"""A bound on request bodies for every route but OTLP ingest (which has its own, larger one, checked
after gzip too): a client cannot make a replica hold an arbitrarily large body in memory. A declared
`Content-Length` over the bound is refused before a byte is read; a chunked body is read up to the
bound, then refused or handed on whole."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
OWN_LIMIT_PREFIXES = ("/v1/traces",)  # OTLP: routes/otlp.py bounds it (OtlpSettings.max_body_bytes)


async def bounded_receive(scope: Scope, receive: Receive, send: Send, limit: int) -> Receive | None:
    """The `receive` the app should use, or None when the body was refused (a 413 was sent)."""
    if scope["path"].startswith(OWN_LIMIT_PREFIXES):
        return receive
    headers = dict(scope["headers"])
    declared = headers.get(b"content-length")
    if declared is not None:
        if declared.strip().isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, limit)
            return None
        return receive  # the server holds the client to the length it declared
    if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
        return receive
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return _replaying(message, receive)  # the client left: the app sees it leave
        body += message.get("body", b"")
        if len(body) > limit:
            await _refuse(scope, receive, send, limit)
            return None
        if not message.get("more_body", False):
            return _replaying({"type": "http.request", "body": bytes(body), "more_body": False}, receive)


def _replaying(first: Message, receive: Receive) -> Receive:
    pending: list[Message] = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    detail = (
        f"the request body is larger than {limit} bytes; send less per request "
        "(e.g. split an evaluate-batch), or raise the server's max_body_bytes"
    )
    await JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})(
        scope, receive, send
    )
