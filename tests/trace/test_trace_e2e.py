"""End to end: secrets of every supported kind planted in tool arguments, tool outputs, model
messages, error messages, a decision's reason and the user id go through tracing into the store
(SQLite file and PostgreSQL) and through OTLP/HTTP to a local capture server. None of them may be
found in the database file bytes, the PostgreSQL rows or the exported payload bytes."""

from __future__ import annotations

import gzip
import http.server
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from trace_fakes import leak_probes, planted

from railguard._scope import run
from railguard.engine import Engine
from railguard.errors import GuardBlocked
from railguard.model import Action
from railguard.store import open_store
from railguard.trace import configure_tracing, model_call, tool_call, trace_engine

POLICY = """
rules:
  - rule: mail/external
    tools: [send_email]
    when: "!args.to.endsWith('@corp.example.com')"
    verdict: block
    message: "external recipient ${args.to}"
"""


class _Capture(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def otlp_capture() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []
    handler = type("Capture", (_Capture,), {"bodies": bodies})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    server.shutdown()
    server.server_close()


def _agent_run(items: list[tuple[str, str, str]], user: str) -> None:
    engine = Engine.from_yaml(POLICY)
    trace_engine(engine)

    @engine.guard
    def lookup(query: str) -> str:
        return f"found: {query}"

    with run(agent="e2e", tenant="acme", user=user, session="sess-1"):
        for _kind, _value, text in items:
            with model_call("openai", "gpt-4o", input_messages=[{"role": "user", "content": text}]) as call:
                call.record_output([{"role": "assistant", "content": f"I saw {text}"}])
                call.record_usage(input_tokens=120, output_tokens=30, cache_read_tokens=100)
            lookup(query=text)
            with pytest.raises(RuntimeError), tool_call("explode", call_id="c-x", args={"x": text}):
                raise RuntimeError(f"tool failed on {text}")
            with pytest.raises(GuardBlocked):
                engine.guard(lambda to: to, name="send_email")(to=text)
            engine.check(Action("send_email", {"to": text, "cc": [text]}))


def _leaks(haystack: bytes, items: list[tuple[str, str, str]]) -> list[str]:
    return sorted({kind for kind, value, _ in items for probe in leak_probes(value) if probe in haystack})


def test_planted_secrets_never_reach_the_store_or_the_wire(
    store_url: str, otlp_capture: tuple[str, list[bytes]]
) -> None:
    endpoint, bodies = otlp_capture
    items = planted()
    user_email = next(value for kind, value, _ in items if kind == "email")
    tracing = configure_tracing(store_url, otlp_endpoint=endpoint, service_name="e2e-agent")
    _agent_run(items, user_email)
    assert tracing.flush(timeout_s=120)  # what is exported is the point here, not how fast (busy CI boxes)
    stats = tracing.stats()
    store = tracing.store
    assert store is not None
    runs = store.list_runs(tenant="acme")
    assert len(runs) == 1
    spans = store.get_trace(runs[0].trace_id, tenant="acme")
    # per item: chat, lookup, explode, blocked send_email, short decision span; plus the run
    assert len(spans) == 5 * len(items) + 1
    assert runs[0].blocks == 2 * len(items)
    assert len(store.list_decisions(tenant="acme", limit=1000)) == 3 * len(items)
    redacted = {
        entry.rsplit(":", 1)[1] for s in spans for entry in s.attributes.get("railguard.redacted", [])
    }
    assert {kind for kind, _, _ in items} <= redacted  # every kind was found (and so replaced)
    assert stats["dropped"] == 0 and stats["export_failures"] == 0
    tracing.shutdown()

    payload = b"".join(bodies)
    assert b"[redacted:" in payload and b"execute_tool lookup" in payload
    assert _leaks(payload, items) == []
    assert _leaks(_stored_bytes(store_url), items) == []


def _stored_bytes(url: str) -> bytes:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        files = [path, *path.parent.glob(path.name + "-*")]  # -wal / -journal if any remain
        data = b"".join(f.read_bytes() for f in files if f.exists())
        assert b"execute_tool lookup" in data  # the probe reads the real file
        return data
    dsn = url.split("?")[0]
    options = parsed.query.get("options")
    with psycopg.connect(dsn, options=str(options)) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
        ]
        assert {"spans", "decisions", "runs"} <= set(tables)
        chunks = [
            str(row[0]).encode()
            for table in tables
            for row in conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
        ]
    return b"\n".join(chunks)


def test_the_store_file_check_can_fail(tmp_path: Path) -> None:
    """The leak probe itself: without the redaction processor in front, a planted value IS found."""
    url = f"sqlite:///{tmp_path / 'raw.db'}"
    store = open_store(url)
    from railguard.store import SpanRow

    kind, value, text = planted()[0]
    store.write_spans(
        [
            SpanRow.from_otel(
                trace_id="a" * 32,
                span_id="b" * 16,
                parent_span_id=None,
                name="execute_tool lookup",
                kind="internal",
                start_ns=1,
                end_ns=2,
                status="ok",
                status_message=None,
                attributes={"gen_ai.tool.call.arguments": text},
                resource={},
                events=[],
            )
        ]
    )
    store.close()
    assert _leaks(_stored_bytes(url), [(kind, value, text)]) == [kind]
