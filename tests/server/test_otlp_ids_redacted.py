"""Ids and model names received over OTLP are redacted like any value before storage (they used
to be stored as sent)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from otlp_server import RunningServer

SECRET = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"  # a GitHub token shape, made up


def test_secrets_in_ids_sent_over_otlp_are_redacted(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    span = {
        "traceId": "9b8efff798038103d269b633813fc60c",
        "spanId": "1111111111111111",
        "name": "execute_tool shell",
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
        "attributes": [
            {"key": key, "value": {"stringValue": SECRET}}
            for key in (
                "gen_ai.tool.call.id",
                "gen_ai.request.model",
                "gen_ai.response.model",
                "railguard.run",
            )
        ],
    }
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]}
    assert httpx.post(server.traces_url, json=body, timeout=30).status_code == 200
    (row,) = server.store.get_trace(span["traceId"], tenant=None)
    assert SECRET not in repr(row)
    assert row.tool_call_id == "[redacted:github_token]"
