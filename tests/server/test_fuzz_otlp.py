"""OTLP/JSON bodies, fuzzed, posted to the real receiver on SQLite and PostgreSQL: random ids (valid
or not), attribute values of every AnyValue shape with NUL, lone surrogates, NaN/Infinity, huge
integers and deep nesting, sent with an agent key of tenant "acme". The receiver answers 200 or 400
with an OTLP status (403 only when a span names another tenant in `railguard.tenant`), never 5xx;
when every span is well-formed, every one is stored under the key's tenant (one odd value never
loses its batch)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otlp_server import RunningServer

_TRACE_IDS = itertools.count(1)
text = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(["\x00", "\ud800", "\udfff", "\n"])),
    max_size=30,
)


# Named functions, not lambdas: when a recursive draw passes `max_leaves`, Hypothesis describes the
# strategy, and describing a lambda parses its source with `ast`, which on CPython 3.11 can fail with
# "SystemError: AST constructor recursion depth mismatch" deep in a recursive draw (a flaky error
# that is neither the test's nor the server's).
def _string_value(s: str) -> dict[str, Any]:
    return {"stringValue": s}


def _double_value(d: float | str) -> dict[str, Any]:
    return {"doubleValue": d}


def _int_value(i: int) -> dict[str, Any]:
    return {"intValue": str(i)}


def _bool_value(b: bool) -> dict[str, Any]:
    return {"boolValue": b}


def _array_value(values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"arrayValue": {"values": values}}


def _kvlist_value(pairs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in pairs]}}


def _nested(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(_array_value, st.lists(inner, max_size=3)),
        st.builds(_kvlist_value, st.lists(st.tuples(text, inner), max_size=3)),
    )


def _attribute(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


scalar_values = st.one_of(
    st.builds(_string_value, text),
    st.builds(_double_value, st.one_of(st.floats(), st.sampled_from(["NaN", "Infinity", "-Infinity"]))),
    st.builds(_int_value, st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.builds(_bool_value, st.booleans()),
)
any_values = st.recursive(scalar_values, _nested, max_leaves=8)
attribute_keys = st.one_of(
    text,
    st.sampled_from(
        [
            "gen_ai.tool.call.id",
            "gen_ai.request.model",
            "railguard.session",
            "railguard.tenant",
            "gen_ai.usage.input_tokens",
        ]
    ),
)
attributes = st.lists(st.builds(_attribute, attribute_keys, any_values), max_size=5)


def _span(n: int, name: str, attrs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "spanId": f"{n + 1:016x}",
        "parentSpanId": "" if n == 0 else f"{1:016x}",
        "name": name,
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
        "attributes": attrs,
    }


def _post(server: RunningServer, spans: list[dict[str, Any]], trace_id: str) -> httpx.Response:
    body = {
        "resourceSpans": [
            {
                "resource": {},
                "scopeSpans": [{"scope": {}, "spans": [{**s, "traceId": trace_id} for s in spans]}],
            }
        ]
    }
    # ensure_ascii: lone surrogates travel as \\udXXX escapes, as a buggy exporter would send them
    return httpx.post(
        server.traces_url,
        content=json.dumps(body),
        headers=server.agent_auth({"Content-Type": "application/json"}),
        timeout=60,
    )


@settings(
    derandomize=True,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spans=st.lists(st.tuples(text, attributes), min_size=1, max_size=6), garbage_id=st.booleans())
def test_any_otlp_json_body_is_stored_or_refused_never_a_server_error(
    serve: Callable[..., RunningServer], spans: list[tuple[str, list[dict[str, Any]]]], garbage_id: bool
) -> None:
    server = _server(serve)
    trace_id = f"{next(_TRACE_IDS):032x}"
    built = [_span(n, name, attrs) for n, (name, attrs) in enumerate(spans)]
    if garbage_id:
        built[-1]["spanId"] = "not-hex\x00"
    response = _post(server, built, trace_id)
    names_a_tenant = any(a["key"] == "railguard.tenant" for _, attrs in spans for a in attrs)
    assert response.status_code in ((200, 400, 403) if names_a_tenant else (200, 400)), response.text
    assert "Traceback" not in response.text
    body = response.json()  # an OTLP status or partial-success body, as JSON
    if response.status_code == 403:
        assert body["code"] == 7 and "tenant" in body["message"]  # PERMISSION_DENIED
        assert server.store.get_trace(trace_id, tenant=None) == []  # refused whole, not relabelled
    if response.status_code == 200 and not garbage_id:
        assert len(server.store.get_trace(trace_id, tenant="acme")) == len(built)


_SERVERS: dict[int, RunningServer] = {}


def _server(serve: Callable[..., RunningServer]) -> RunningServer:
    """One receiver per test (the fixture is per test; Hypothesis calls the body many times)."""
    key = id(serve)
    if key not in _SERVERS:
        _SERVERS.clear()
        _SERVERS[key] = serve()
    return _SERVERS[key]
