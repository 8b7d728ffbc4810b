"""No poisoned batch over OTLP: a span with NUL characters, NaN/Infinity values or an over-long id
is stored sanitized with the rest of its batch on both backends (it used to fail the request with
503 on PostgreSQL, 0 of 100 spans stored, and the exporter retried it forever); a batch the
database refuses whatever happens answers 400, so exporters stop retrying it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from otlp_server import RunningServer

from railguard.store._ingest import SANITIZED

TRACE_ID = "7b8efff798038103d269b633813fc60c"


def span(n: int, name: str | None = None, attributes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "traceId": TRACE_ID,
        "spanId": f"{n + 1:016x}",
        "parentSpanId": "" if n == 0 else f"{1:016x}",
        "name": name or f"span {n}",
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
        "attributes": attributes or [],
    }


def export(server: RunningServer, spans: list[dict[str, Any]]) -> httpx.Response:
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}
    return httpx.post(server.traces_url, json=body, timeout=30)


POISONS = {
    "nul-in-name": span(50, name="exec\u0000ute"),
    "nul-in-value": span(
        50, attributes=[{"key": "gen_ai.tool.call.arguments", "value": {"stringValue": "a\u0000b"}}]
    ),
    "nan": span(50, attributes=[{"key": "score", "value": {"doubleValue": "NaN"}}]),
    "infinity": span(50, attributes=[{"key": "score", "value": {"doubleValue": "-Infinity"}}]),
    "long-session": span(50, attributes=[{"key": "railguard.session", "value": {"stringValue": "s" * 5000}}]),
    "long-model": span(50, attributes=[{"key": "gen_ai.request.model", "value": {"stringValue": "m" * 300}}]),
}


@pytest.mark.parametrize("kind", sorted(POISONS))
def test_one_odd_span_is_stored_sanitized_with_its_whole_batch(
    serve: Callable[..., RunningServer], kind: str
) -> None:
    server = serve()
    spans = [span(n) for n in range(100) if n != 50] + [POISONS[kind]]
    response = export(server, spans)
    assert response.status_code == 200, response.text
    stored = server.store.get_trace(TRACE_ID, tenant=None)
    assert len(stored) == 100
    odd = next(row for row in stored if row.span_id == f"{51:016x}")
    assert odd.attributes[SANITIZED]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # the refusing trigger is PostgreSQL's
def test_a_refused_span_loses_only_itself_and_a_hopeless_batch_is_400(
    serve: Callable[..., RunningServer], store_url: str
) -> None:
    server = serve()  # migrates the schema; the trigger goes on the table afterwards
    schema = store_url.rsplit("%3D", 1)[1]
    with psycopg.connect(store_url.split("?")[0], autocommit=True) as conn:
        conn.execute(
            f"""CREATE FUNCTION "{schema}".refuse() RETURNS trigger AS $$
            BEGIN
              IF NEW.name = 'refused' THEN RAISE EXCEPTION 'refused value' USING ERRCODE = '22023'; END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql"""
        )
        conn.execute(
            f'CREATE TRIGGER refuse BEFORE INSERT ON "{schema}".spans FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse()'
        )
    response = export(server, [span(0), span(1, name="refused"), span(2)])
    assert response.status_code == 200, response.text
    assert sorted(row.name for row in server.store.get_trace(TRACE_ID, tenant=None)) == ["span 0", "span 2"]
    hopeless = export(server, [span(3, name="refused"), span(4, name="refused")])
    assert hopeless.status_code == 400
    assert "refused" in hopeless.json()["message"]
