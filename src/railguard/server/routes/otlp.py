"""`POST /v1/traces`: OTLP/HTTP trace ingest (protobuf or JSON, optionally gzip) into the store.

A 200 means committed: the response is sent after `Store.write_spans` returned. Spans are redacted
with the tracer's own redaction policy before they reach the store. Errors follow OTLP/HTTP: the
body is a google.rpc.Status in the request's encoding; 503 (retryable) when the store is down.

Ingest needs a key with role agent or admin. The spans' tenant is the key's: a span or resource
naming another tenant (`railguard.tenant`) fails the request with 403, and a span joins only a trace
of its own tenant (a trace id another tenant stored first is a separate run; see Store.write_spans).
A key of every tenant ("*") keeps the tenant each span names.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from starlette.concurrency import run_in_threadpool

from railguard.errors import StoreError, UnstorableData
from railguard.server._auth import AuthError, Principal, authenticate
from railguard.server.routes import _otlp_decode as decode
from railguard.store import Store
from railguard.trace._redaction import RedactionPolicy

PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPE = "application/json"
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

router = APIRouter(tags=["otlp"])
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    """`max_body_bytes` bounds the body both as sent and after gzip (a small bomb is still a 413)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    policy: RedactionPolicy = field(default_factory=RedactionPolicy)


_AUTH_CODES = {
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    429: code_pb2.RESOURCE_EXHAUSTED,
}


class _Rejected(Exception):
    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


@router.post("/v1/traces")
async def export_traces(request: Request) -> Response:
    settings: OtlpSettings = request.app.state.otlp
    store: Store = request.app.state.store
    media_type = _media_type(request)
    as_json = media_type == JSON_TYPE  # responses, errors included, use the request's encoding
    try:
        try:
            principal = await authenticate(request, "ingest")
        except AuthError as err:
            headers = None if err.retry_after_s is None else {"Retry-After": str(err.retry_after_s)}
            raise _Rejected(
                err.status, _AUTH_CODES.get(err.status, code_pb2.PERMISSION_DENIED), err.message, headers
            ) from None
        if media_type not in PROTOBUF_TYPES and media_type != JSON_TYPE:
            raise _Rejected(
                415,
                code_pb2.INVALID_ARGUMENT,
                "Content-Type must be application/x-protobuf or application/json",
            )
        body = _decompressed(
            await _read_body(request, settings.max_body_bytes), request, settings.max_body_bytes
        )
        # Decoding, redaction and the database write are blocking: keep them off the event loop.
        content = await run_in_threadpool(_ingest, store, settings, body, as_json, principal)
    except _Rejected as rejected:
        return _status_response(rejected, as_json=as_json)
    return Response(content, media_type=JSON_TYPE if as_json else "application/x-protobuf")


def warm_up(settings: OtlpSettings) -> None:
    """Compile the redaction scanner and load the price table now: both are built on first use
    (about 1.5 s of CPU together), which would otherwise land on the first exporter's request."""
    from railguard.trace._cost import warm_price_table
    from railguard.trace._redaction import Redactor

    Redactor(settings.policy).text("warm-up value", "warm-up")
    warm_price_table()


def _ingest(store: Store, settings: OtlpSettings, body: bytes, as_json: bool, principal: Principal) -> bytes:
    try:
        parsed = decode.parse_json(body) if as_json else decode.parse_protobuf(body)
    except decode.OtlpDecodeError as exc:
        raise _Rejected(400, code_pb2.INVALID_ARGUMENT, str(exc)) from None
    batch = decode.to_rows(parsed, policy=settings.policy, tenant=None)
    if not principal.all_tenants:
        tenant = principal.key.tenant
        other = next((row.tenant for row in batch.rows if row.tenant not in (None, tenant)), None)
        if other is not None:
            raise _Rejected(
                403,
                code_pb2.PERMISSION_DENIED,
                f"a span names tenant {other[:128]!r} but this key belongs to tenant {tenant!r}; "
                "drop railguard.tenant or send it with that tenant's key",
            )
        for row in batch.rows:
            row.tenant = tenant
    try:
        store.write_spans(batch.rows, isolate_tenants=True)
    except UnstorableData as exc:  # the same batch can never succeed: 400, so the exporter drops it
        logger.warning("OTLP ingest: %d spans refused by the store: %s", len(batch.rows), exc)
        raise _Rejected(400, code_pb2.INVALID_ARGUMENT, "the store refused these spans' values") from None
    except StoreError as exc:
        # The store scrubs credentials from its message, and span values were redacted before the write;
        # the operator gets the cause, the client only "retry later".
        logger.warning("OTLP ingest: %d spans not stored: %s", len(batch.rows), exc)
        raise _Rejected(503, code_pb2.UNAVAILABLE, "the span store is unavailable; retry later") from None
    return decode.response_body(batch, as_json=as_json)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Rejected(413, code_pb2.RESOURCE_EXHAUSTED, f"body larger than {limit} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise _Rejected(413, code_pb2.RESOURCE_EXHAUSTED, f"body larger than {limit} bytes")
    return bytes(chunks)


def _decompressed(body: bytes, request: Request, limit: int) -> bytes:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise _Rejected(415, code_pb2.INVALID_ARGUMENT, "Content-Encoding must be gzip or identity")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)  # bounded: stop one byte past the limit
    except zlib.error:
        raise _Rejected(400, code_pb2.INVALID_ARGUMENT, "body is not valid gzip") from None
    if len(out) > limit:
        raise _Rejected(413, code_pb2.RESOURCE_EXHAUSTED, f"decompressed body larger than {limit} bytes")
    if not inflater.eof:
        raise _Rejected(400, code_pb2.INVALID_ARGUMENT, "gzip body is truncated")
    return out


def _status_response(rejected: _Rejected, *, as_json: bool) -> Response:
    status = status_pb2.Status(code=rejected.code, message=rejected.message)
    if as_json:
        body: bytes | str = json_format.MessageToJson(status, indent=None)
        media_type = JSON_TYPE
    else:
        body, media_type = status.SerializeToString(), "application/x-protobuf"
    return Response(body, rejected.status, headers=rejected.headers, media_type=media_type)
