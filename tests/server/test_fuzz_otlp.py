"""OTLP/JSON bodies, fuzzed, posted to the real receiver on SQLite and PostgreSQL: random ids (valid
or not), attribute values of every AnyValue shape with NUL, lone surrogates, NaN/Infinity, huge
integers and deep nesting. The receiver answers 200 or 400 with an OTLP status, never 5xx; when
every span is well-formed, every one is stored (one odd value never loses its batch)."""

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
scalar_values = st.one_of(
    st.builds(lambda s: {"stringValue": s}, text),
    st.builds(
        lambda d: {"doubleValue": d},
        st.one_of(st.floats(), st.sampled_from(["NaN", "Infinity", "-Infinity"])),
    ),
    st.builds(lambda i: {"intValue": str(i)}, st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.builds(lambda b: {"boolValue": b}, st.booleans()),
)
any_values = st.recursive(
    scalar_values,
    lambda inner: st.one_of(
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda kvs: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in kvs]}},
            st.lists(st.tuples(text, inner), max_size=3),
        ),
    ),
    max_leaves=8,
)
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
attributes = st.lists(st.builds(lambda k, v: {"key": k, "value": v}, attribute_keys, any_values), max_size=5)


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
        server.traces_url, content=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=60
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
    assert response.status_code in (200, 400), response.text
    assert "Traceback" not in response.text
    response.json()  # an OTLP status or partial-success body, as JSON
    if response.status_code == 200 and not garbage_id:
        assert len(server.store.get_trace(trace_id, tenant=None)) == len(built)


_SERVERS: dict[int, RunningServer] = {}


def _server(serve: Callable[..., RunningServer]) -> RunningServer:
    """One receiver per test (the fixture is per test; Hypothesis calls the body many times)."""
    key = id(serve)
    if key not in _SERVERS:
        _SERVERS.clear()
        _SERVERS[key] = serve()
    return _SERVERS[key]
